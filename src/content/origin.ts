// The origin client: Cascade's only outbound HTTP. One undici Pool per configured origin;
// requests can only be built against those pools, so nothing else is reachable from here.
// Every call carries the caller's x-request-id and is timed into a histogram.
import { Pool } from 'undici';
import { CascadeError, type ErrorDefinition } from '../errors/index.ts';
import { metrics } from '../router/metrics.ts';
import { ContentErrors } from './errors.ts';

export const originDuration = metrics.histogram(
  'cascade_origin_request_duration_seconds',
  'Origin (wiki) request duration by domain, operation and status',
  ['domain', 'op', 'status'],
);

export interface OriginResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface OriginRequest {
  op: string;
  method?: 'GET' | 'POST' | 'PUT';
  /** Path and query, beginning with `/`, relative to the origin URL. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  requestId?: string;
}

interface OriginEntry {
  pool: Pool;
  /** Path prefix of the origin URL (usually empty). */
  base: string;
  host: string;
}

export class OriginClient {
  private origins = new Map<string, OriginEntry>();
  /** Hosts (host:port) requests may go to, for tests and audits. */
  readonly allowedHosts = new Set<string>();

  constructor(
    domains: Record<string, { origin: { url: string } }>,
    private readonly opts: { timeoutMs: number; connections: number },
  ) {
    for (const [domain, d] of Object.entries(domains)) {
      const u = new URL(d.origin.url);
      const pool = new Pool(u.origin, {
        connections: opts.connections,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
        keepAliveTimeout: 10_000,
      });
      this.origins.set(domain, { pool, base: u.pathname.replace(/\/$/, ''), host: u.host });
      this.allowedHosts.add(u.host);
    }
  }

  has(domain: string): boolean {
    return this.origins.has(domain);
  }

  /** Sends one request to the domain's origin. Network failures become 502 CASCADE_CONTENT_ORIGIN_FAILED. */
  async request(domain: string, r: OriginRequest): Promise<OriginResponse> {
    const o = this.origins.get(domain);
    if (!o) throw new CascadeError(ContentErrors.outboundHost, `no origin configured for ${domain}`);
    if (!r.path.startsWith('/') || r.path.startsWith('//')) {
      throw new CascadeError(ContentErrors.outboundHost, `refusing origin path ${r.path}`);
    }
    const headers: Record<string, string> = { 'user-agent': 'Cascade/0.1', ...r.headers };
    if (r.requestId) headers['x-request-id'] = r.requestId;
    const started = performance.now();
    let status = 'error';
    try {
      const res = await o.pool.request({
        path: o.base + r.path,
        method: r.method ?? 'GET',
        headers,
        body: r.body,
      });
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c as Buffer);
      status = String(res.statusCode);
      return { status: res.statusCode, headers: res.headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) };
    } catch (e) {
      // The public detail names no internal host or address (they go to the log through `cause`).
      const code = (e as { code?: unknown }).code;
      const why = typeof code === 'string' ? code : (e as Error).name;
      throw new CascadeError(ContentErrors.originFailed, `origin ${r.op} failed (${why})`, { cause: e });
    } finally {
      originDuration.observe([domain, r.op, status], (performance.now() - started) / 1000);
    }
  }

  /** GET returning parsed JSON; non-2xx statuses map to errors (404 → notFound, 5xx → 502). */
  async getJson<T>(domain: string, op: string, path: string, requestId?: string, notFound?: ErrorDefinition): Promise<T> {
    const res = await this.request(domain, { op, path, requestId, headers: { accept: 'application/json' } });
    checkStatus(res, op, notFound);
    try {
      return JSON.parse(res.body.toString('utf8')) as T;
    } catch (e) {
      throw new CascadeError(ContentErrors.originFailed, `origin ${op}: invalid JSON`, { cause: e });
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.origins.values()].map((o) => o.pool.close()));
  }
}

/** Throws the error matching a non-2xx origin status; the origin's own reason goes into `detail`. */
export function checkStatus(res: OriginResponse, op: string, notFound: ErrorDefinition = ContentErrors.pageNotFound): void {
  if (res.status >= 200 && res.status < 300) return;
  const reason = originReason(res);
  const detail = `origin ${op}: HTTP ${res.status}${reason ? `: ${reason.text}` : ''}`;
  const extra: Record<string, unknown> = { origin_status: res.status, ...(reason?.key ? { origin_error: reason.key } : {}) };
  // MediaWiki redirects a title it spells differently (e.g. with a BOM Cascade kept): the
  // request named no canonical page, a client error, not an origin failure.
  if (res.status >= 300 && res.status < 400) throw new CascadeError(ContentErrors.originRefused, `origin ${op}: HTTP ${res.status}: the origin names this title differently`, { extra });
  if (res.status === 404) throw new CascadeError(notFound, detail, { extra });
  if (res.status === 403) throw new CascadeError(ContentErrors.revisionSuppressed, detail, { extra });
  if (res.status === 409 || res.status === 412) throw new CascadeError(ContentErrors.editConflict, detail, { extra });
  if (res.status >= 400 && res.status < 500) throw new CascadeError(ContentErrors.originRefused, detail, { extra });
  throw new CascadeError(ContentErrors.originFailed, detail, { extra });
}

/**
 * The origin's reason for an error, from MediaWiki's REST error body (`errorKey` or
 * `actionModuleErrorCode`, `messageTranslations`, `message`) or an action API `error`
 * object (`code`, `info`).
 */
export function originReason(res: OriginResponse): { key?: string; text: string } | undefined {
  const ct = String(res.headers['content-type'] ?? '');
  if (!ct.includes('json') || res.body.length > 65536) return undefined;
  let j: unknown;
  try {
    j = JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
  return errorReason(j);
}

/** `{key, text}` of a MediaWiki error body (REST or action API), or undefined. */
export function errorReason(j: unknown): { key?: string; text: string } | undefined {
  if (typeof j !== 'object' || j === null) return undefined;
  const o = j as Record<string, unknown>;
  const api = o.error;
  if (typeof api === 'object' && api !== null) {
    const e = api as Record<string, unknown>;
    const key = typeof e.code === 'string' ? e.code : undefined;
    const info = typeof e.info === 'string' ? e.info : typeof e.text === 'string' ? e.text : '';
    return { ...(key ? { key } : {}), text: clip([key, info].filter(Boolean).join(': ')) };
  }
  const key = [o.errorKey, o.actionModuleErrorCode, o.error].find((v): v is string => typeof v === 'string');
  let text: string | undefined;
  const mt = o.messageTranslations;
  if (typeof mt === 'object' && mt !== null) {
    const t = mt as Record<string, unknown>;
    const v = typeof t.en === 'string' ? t.en : Object.values(t).find((x) => typeof x === 'string');
    if (typeof v === 'string') text = v;
  }
  text ??= [o.message, o.detail, o.httpReason].find((v): v is string => typeof v === 'string');
  if (key === undefined && text === undefined) return undefined;
  return { ...(key ? { key } : {}), text: clip([key, text].filter(Boolean).join(': ')) };
}

const clip = (s: string) => (s.length > 300 ? s.slice(0, 300) + '…' : s);
