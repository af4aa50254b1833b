// Outbound exec requests (undici). Only configured hosts can be reached; relative URIs
// resolve against the configured base (Cascade itself).
import { Agent, request } from 'undici';
import { CascadeError } from '../errors/index.ts';
import { ChangepropErrors } from './errors.ts';
import type { ExpandedRequest } from './template.ts';
import { hasOrigin } from './uri.ts';
import { dispatchInProcess, type Dispatch, type InProcessRequest, type InProcessResponse } from '../router/inprocess.ts';
import { parseRetryAfter } from '../util/backoff.ts';
import { CHANGEPROP_DEFAULTS } from './config.ts';

export interface ExecResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON or text, only for error responses (an excerpt, at most EXCERPT bytes). */
  body?: unknown;
  /** Network failure or timeout (status is then 503 or 504). */
  error?: string;
}

const EXCERPT = 2048;

export class HostAllowList {
  private readonly hosts = new Set<string>();
  constructor(hosts: Iterable<string>) {
    for (const h of hosts) this.add(h);
  }
  /** Accepts `host`, `host:port` or a URL. */
  add(h: string): void {
    if (/^https?:\/\//.test(h)) {
      const u = new URL(h);
      this.hosts.add(u.host.toLowerCase());
      if (!u.port) this.hosts.add(u.hostname.toLowerCase());
    } else this.hosts.add(h.toLowerCase());
  }
  allows(u: URL): boolean {
    // A parsed URL's host is lower-case already.
    return this.hosts.has(u.host) || this.hosts.has(u.hostname);
  }
  /** A `Host` header value (`host` or `host:port`). */
  allowsName(h: string): boolean {
    return this.hosts.has(h.toLowerCase());
  }
  list(): string[] {
    return [...this.hosts];
  }
}

export interface HttpExecutorOptions {
  allowed: HostAllowList;
  /**
   * Hosts a template whose host is a variable ('//{{message.meta.domain}}/...') may reach:
   * the configured domains and their origins. Unset: none.
   */
  variableHosts?: HostAllowList;
  baseUri?: string;
  userAgent: string;
  /** Keep-alive connections per origin (default 128). */
  connections?: number;
  /** Requests in flight per connection (HTTP/1.1 pipelining; default 1: off). */
  pipelining?: number;
  /**
   * Cascade's own server handler, when `baseUri` is Cascade itself: requests of relative
   * templates (and only those) are dispatched through it in process, without a socket.
   */
  local?: Dispatch;
}

const BODY_MAX = 8 * 1024 * 1024;

export class HttpExecutor {
  private readonly agent: Agent;
  /** The base URI's origin (parsed once: relative templates are checked against it per request). */
  private readonly baseOrigin: string | undefined;
  constructor(private readonly opts: HttpExecutorOptions) {
    this.baseOrigin = opts.baseUri ? new URL(opts.baseUri).origin : undefined;
    // Keep-alive pool; pipelining off unless configured (servers behind us may not support it).
    this.agent = new Agent({ connections: opts.connections ?? CHANGEPROP_DEFAULTS.http_connections, pipelining: opts.pipelining ?? CHANGEPROP_DEFAULTS.http_pipelining, keepAliveTimeout: 30_000 });
  }

  /** Resolves and checks the target; throws hostNotAllowed for anything off the list. */
  target(req: ExpandedRequest): URL {
    let u: URL;
    try {
      u = this.opts.baseUri ? new URL(req.uri, this.opts.baseUri) : new URL(req.uri);
    } catch {
      throw new CascadeError(ChangepropErrors.hostNotAllowed, `not an absolute URI and no base_uri configured: ${req.uri}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CascadeError(ChangepropErrors.hostNotAllowed, `protocol not allowed: ${u.protocol}`);
    if (u.username || u.password) throw new CascadeError(ChangepropErrors.hostNotAllowed, 'credentials in an exec URI are not allowed');
    if (!this.opts.allowed.allows(u)) throw new CascadeError(ChangepropErrors.hostNotAllowed, `host ${u.host} is not in changeprop.allowed_hosts`);
    // Where the rule's template may lead (uri.ts): a relative one to Cascade only, one with a
    // variable host to a configured domain or origin only.
    if (req.target === 'relative' && (this.baseOrigin === undefined || u.origin !== this.baseOrigin)) {
      throw new CascadeError(ChangepropErrors.hostNotAllowed, `a relative exec URI must stay on Cascade (${this.opts.baseUri ?? 'no base_uri'}), not ${u.origin}`);
    }
    if (req.target === 'fixed' && req.origin && !hasOrigin(u, req.origin)) {
      throw new CascadeError(ChangepropErrors.hostNotAllowed, `the exec URI's origin ${u.origin} is not its template's ${req.origin}`);
    }
    if (req.target === 'variable' && !this.opts.variableHosts?.allows(u)) {
      throw new CascadeError(ChangepropErrors.hostNotAllowed, `host ${u.host} (from the event) is not a configured domain or origin`);
    }
    // A rule may name a virtual host (Wikimedia's job runner rules do): a configured domain only.
    if (req.target) {
      for (const k in req.headers) {
        if (k.length !== 4 || k.toLowerCase() !== 'host' || this.opts.variableHosts?.allowsName(req.headers[k])) continue;
        throw new CascadeError(ChangepropErrors.hostNotAllowed, `Host header ${JSON.stringify(req.headers[k].slice(0, 100))} is not a configured domain or origin`);
      }
    }
    for (const k in req.query) u.searchParams.append(k, req.query[k]);
    return u;
  }

  /** Sends one request. `readBody`: a successful response's body too (JSON parsed when it is JSON). */
  send(req: ExpandedRequest, extraHeaders: Record<string, string>, timeoutMs: number, o: { readBody?: boolean } = {}): Promise<ExecResponse> {
    let url: URL;
    try {
      url = this.target(req);
    } catch (e) {
      return Promise.reject(e);
    }
    const headers: Record<string, string> = { 'user-agent': this.opts.userAgent };
    for (const k in req.headers) headers[k.toLowerCase()] = req.headers[k];
    for (const k in extraHeaders) if (extraHeaders[k]) headers[k] = extraHeaders[k];
    let body: string | undefined;
    if (req.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD') {
      if (typeof req.body === 'string') body = req.body;
      else {
        body = JSON.stringify(req.body);
        headers['content-type'] ??= 'application/json';
      }
    }
    // Not an async function: the in-process path (propagation's hot path) costs no extra promise.
    if (this.opts.local && req.target === 'relative') return this.sendLocal(this.opts.local, url, req.method, headers, body, timeoutMs, o.readBody === true);
    return this.sendRemote(url, req.method, headers, body, timeoutMs, o.readBody === true);
  }

  private async sendRemote(url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number, readBody: boolean): Promise<ExecResponse> {
    try {
      const res = await request(url, {
        method: method as 'GET',
        headers,
        body,
        dispatcher: this.agent,
        // undici's own timers are coarse (about 1 s); a short timeout gets a precise signal.
        // Long ones skip it: a timer per request costs throughput.
        ...(timeoutMs < 5000 ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const out: ExecResponse = { status: res.statusCode, headers: res.headers };
      if (readBody && res.statusCode < 400) {
        const text = await readExcerpt(res.body, BODY_MAX);
        try {
          out.body = JSON.parse(text);
        } catch {
          out.body = text;
        }
      } else if (res.statusCode >= 400) {
        const text = await readExcerpt(res.body, EXCERPT);
        try {
          out.body = JSON.parse(text);
        } catch {
          out.body = text;
        }
      } else await res.body.dump();
      return out;
    } catch (e) {
      const err = e as Error & { code?: string };
      const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError' || /Timeout/.test(err.code ?? '');
      return { status: timedOut ? 504 : 503, headers: {}, error: `${err.code ?? err.name}: ${err.message}` };
    }
  }

  /** Through the router in process: same handlers, hooks and metrics, no loopback socket. */
  private sendLocal(local: Dispatch, url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number, readBody: boolean): Promise<ExecResponse> {
    // A rule's own Host header (a configured domain, checked by target()) wins, as over HTTP.
    headers.host ??= url.host;
    const r: InProcessRequest = { method, url: url.pathname + url.search, headers };
    if (body !== undefined) r.body = body;
    return dispatchInProcess(local, r, { timeoutMs, maxBody: readBody ? BODY_MAX : EXCERPT }).then((res) => localResponse(res, readBody));
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function localResponse(res: InProcessResponse, readBody: boolean): ExecResponse {
  // `headers` stays a getter: the head is parsed only when the retry logic reads it (failures).
  const out: ExecResponse = {
    status: res.status,
    get headers() {
      return res.headers;
    },
  };
  if (res.error !== undefined) out.error = res.error;
  if ((readBody && res.status < 400) || res.status >= 400) {
    const text = res.body.subarray(0, res.status >= 400 ? EXCERPT : BODY_MAX).toString('utf8');
    try {
      out.body = JSON.parse(text);
    } catch {
      out.body = text;
    }
  }
  return out;
}

async function readExcerpt(body: AsyncIterable<Buffer> & { dump(): Promise<void> }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    if (n < max) {
      chunks.push(c);
      n += c.length;
    }
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

/** Retry-After (seconds or an HTTP date) in ms, or undefined. */
export function retryAfterMs(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  return parseRetryAfter(headers['retry-after'], now);
}
