// In-process exec targets, as Wikimedia change-propagation's `/sys/` modules: a rule's exec
// whose URI starts with `/sys/links/` or is `/sys/purge` is handled here instead of over HTTP.
//
// POST /sys/links/transcludes/{title}  body: a revision-create event, or a continuation event
//   One batch of the origin's `list=embeddedin` (paged with eicontinue): a resource_change-shaped
//   event per transcluding page on `change-prop.transcludes.resource-change`, and, when the
//   origin has more, one continuation event on `change-prop.transcludes.continue` that the same
//   rule processes next. Event ids derive from the original event, so a replayed batch is
//   deduplicated by the log and the engine.
// POST /sys/purge  body: { domain, endpoints: [...], titles: [...] }
//   CDN purges: the public URLs (changeprop.purge.urls) of every endpoint × title, collected
//   into batches (deduplicated) and sent as `PURGE` (or the configured method) to every target;
//   with `xkey`, one request per surrogate key. Resolves when the batch has been sent.
import { createHash } from 'node:crypto';
import { isCascadeError } from '../errors/index.ts';
import type { EventLog } from '../events/log/types.ts';
import type { PurgeConfig } from './config.ts';
import type { EventSigner } from './signing.ts';
import type { ExecResponse, HttpExecutor } from './http.ts';
import type { ExpandedRequest } from './template.ts';

export const TRANSCLUDES_STREAM = 'change-prop.transcludes.resource-change';
export const CONTINUE_STREAM = 'change-prop.transcludes.continue';

/** One batch of the pages transcluding a title (the origin adapter's `transclusions`). */
export type TransclusionLister = (domain: string, title: string, limit: number, cont?: string) => Promise<{ pages: { title: string; ns?: number; pageid?: number }[]; continue?: string }>;

export interface SysOptions {
  /** Domain → origin base URL: the domains whose events may fan out. */
  origins: Record<string, string>;
  /** The origin's list=embeddedin, through the MediaWiki adapter. */
  transclusions: TransclusionLister;
  /** Releases what `transclusions` holds (an origin client of its own). */
  close?: () => Promise<void>;
  /** Pages per embeddedin batch. */
  transclusionBatch: number;
  purge?: PurgeConfig;
}

interface EventLike {
  meta?: Record<string, unknown>;
  original_event?: EventLike;
  continue?: unknown;
  [k: string]: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** URL path segment for a title, as the content API writes it (MediaWiki keeps `:` `,` `@` `$` `;` readable). */
export function encodeTitle(key: string): string {
  return encodeURIComponent(key).replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%40/g, '@').replace(/%24/g, '$').replace(/%3B/g, ';');
}

/** A stable UUID-shaped id from a string (replays of one batch produce the same events). */
export function stableId(s: string): string {
  const h = createHash('sha1').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const ok = (body: unknown): ExecResponse => ({ status: 200, headers: {}, body });
const fail = (status: number, title: string): ExecResponse => ({ status, headers: {}, body: { title }, error: title });

export class SysModules {
  private readonly purger?: Purger;
  constructor(
    private readonly opts: SysOptions,
    /** `signer`: the fan-out and continuation events are Cascade's own (signing.ts). */
    private readonly e: { log: EventLog; datacenter: string; http: HttpExecutor; signer: EventSigner },
  ) {
    if (opts.purge) this.purger = new Purger(opts.purge, e.http, Object.keys(opts.origins));
  }

  static handles(uri: string): boolean {
    return uri.startsWith('/sys/links/') || uri === '/sys/purge' || uri.startsWith('/sys/purge?');
  }

  async handle(req: ExpandedRequest, chain: string, timeoutMs: number): Promise<ExecResponse> {
    const path = req.uri.split('?')[0];
    const m = /^\/sys\/links\/transcludes\/(.+)$/.exec(path);
    if (m && req.method === 'POST') {
      let title: string;
      try {
        title = decodeURIComponent(m[1]);
      } catch {
        return fail(400, `not a percent-encoded title: ${m[1].slice(0, 100)}`);
      }
      return this.transcludes(title, req.body as EventLike, chain, timeoutMs);
    }
    if (path === '/sys/purge' && req.method === 'POST') {
      if (!this.purger) return ok({ purged: 0, note: 'no purge configuration' });
      return this.purger.purge((req.body ?? {}) as PurgeRequest);
    }
    return fail(404, `no in-process module for ${req.method} ${path}`);
  }

  private async transcludes(title: string, ev: EventLike, chain: string, timeoutMs: number): Promise<ExecResponse> {
    if (!ev || typeof ev !== 'object') return fail(400, 'the body must be the event');
    // Only a continuation event Cascade signed continues a listing; any other body is the edit.
    const cont = typeof ev.continue === 'string' && ev.original_event && this.e.signer.verify(ev) ? ev.continue : undefined;
    const orig = cont ? (ev.original_event as EventLike) : ev;
    const domain = str(orig.meta?.domain);
    const origin = domain ? this.opts.origins[domain] : undefined;
    if (!domain || !origin) return fail(404, `no origin configured for domain ${domain ?? '(none)'}`);
    let data: Awaited<ReturnType<TransclusionLister>>;
    try {
      data = await withTimeout(this.opts.transclusions(domain, title, this.opts.transclusionBatch, cont), timeoutMs);
    } catch (e) {
      // Bad titles and continuation tokens cannot succeed on retry; anything else may.
      const code = isCascadeError(e) ? String(e.extra.origin_error ?? '') : '';
      const permanent = ['invalidtitle', 'badcontinue', 'missingparam', 'badvalue'].includes(code);
      return fail(permanent ? 400 : 502, `list=embeddedin: ${e instanceof Error ? e.message : String(e)}`);
    }
    // Continuation steps are left out of the chain: batch n+1 is not a loop of batch n.
    const baseChain = chain
      .split(',')
      .filter((s) => s && !s.startsWith(`${CONTINUE_STREAM}:`))
      .join(',');
    const origId = str(orig.meta?.id) ?? `${domain}/${title}/${str(orig.meta?.dt)}`;
    const rootDt = str(orig.meta?.dt) ?? new Date().toISOString();
    const now = new Date().toISOString();
    const pages = data.pages;
    const events = pages.map((p) => {
      const key = p.title.replace(/ /g, '_');
      const id = stableId(`${origId}|transcludes|${key}`);
      const value = {
        $schema: '/resource_change/1.0.0',
        meta: { uri: `https://${domain}/wiki/${encodeTitle(key)}`, stream: TRANSCLUDES_STREAM, domain, dt: now, id, ...(orig.meta?.request_id ? { request_id: orig.meta.request_id } : {}) },
        tags: ['change-prop', 'transcludes'],
        page_title: key,
        ...(p.ns !== undefined ? { page_namespace: p.ns } : {}),
        // Per dependent page: a render done after this time already includes the edit.
        root_event: { signature: `https://${domain}/api/rest_v1/page/html/${encodeTitle(key)}`, dt: rootDt },
        ...(baseChain ? { triggered_by: baseChain } : {}),
      };
      // No log key: keyed records are delivered one at a time per key partition, and batch order does not matter.
      return { id, value: Buffer.from(JSON.stringify(this.e.signer.sign(value))) };
    });
    if (events.length) await this.e.log.append(`${this.e.datacenter}.${TRANSCLUDES_STREAM}`, events);
    const next = data.continue;
    if (next) {
      const id = stableId(`${origId}|transcludes-continue|${next}`);
      const value = {
        $schema: '/change-prop/continue/1.0.0',
        meta: { uri: str(orig.meta?.uri) ?? `https://${domain}/wiki/${encodeTitle(title)}`, stream: CONTINUE_STREAM, domain, dt: now, id },
        original_event: orig,
        continue: next,
        ...(baseChain ? { triggered_by: baseChain } : {}),
      };
      await this.e.log.append(`${this.e.datacenter}.${CONTINUE_STREAM}`, [{ id, value: Buffer.from(JSON.stringify(this.e.signer.sign(value))) }]);
    }
    return ok({ pages: events.length, continue: next ?? null });
  }

  async close(): Promise<void> {
    await this.purger?.drain();
    await this.opts.close?.();
  }
}

export interface PurgeRequest {
  domain?: unknown;
  endpoints?: unknown;
  titles?: unknown;
}

interface Batch {
  urls: Set<string>;
  keys: Set<string>;
  waiters: ((r: ExecResponse) => void)[];
}

/** Collects purges into batches and sends them to every target. */
export class Purger {
  private batch: Batch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = new Set<Promise<void>>();
  private rebounds = new Set<NodeJS.Timeout>();
  /** Requests sent so far (tests, stats). */
  sent = 0;

  private readonly domains: Set<string>;

  /** `domains`: the configured domains, the only ones whose URLs (and Host) are purged. */
  constructor(
    private readonly cfg: PurgeConfig,
    private readonly http: HttpExecutor,
    domains: Iterable<string>,
  ) {
    this.domains = new Set(domains);
  }

  /**
   * The public URLs and surrogate keys of endpoints × titles of a domain. Throws a 400 reason
   * for a domain that is not configured (the domain becomes the URL's host and the `Host`).
   */
  expand(r: PurgeRequest): { urls: string[]; keys: string[] } {
    const domain = typeof r.domain === 'string' ? r.domain : '';
    const list = (v: unknown) => (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string' && x !== '');
    const titles = list(r.titles);
    const endpoints = list(r.endpoints);
    const urls: string[] = [];
    const keys: string[] = [];
    if (!this.domains.has(domain)) throw new Error(`not a configured domain: ${JSON.stringify(domain.slice(0, 100))}`);
    for (const e of endpoints) if (!/^[a-z][a-z0-9-]*$/.test(e)) throw new Error(`not an endpoint name: ${JSON.stringify(e.slice(0, 100))}`);
    for (const title of titles) {
      // A dot segment would purge another URL (URL parsing resolves it); no title is '.' or '..'.
      if (title === '.' || title === '..') continue;
      const enc = encodeTitle(title);
      for (const endpoint of endpoints)
        for (const tpl of this.cfg.urls) urls.push(tpl.replace(/\{domain\}/g, domain).replace(/\{endpoint\}/g, endpoint).replace(/\{title\}/g, enc));
      // As the content API's Surrogate-Key header: `{domain}/{encodeURIComponent(title)}`.
      keys.push(`${domain}/${encodeURIComponent(title)}`);
    }
    return { urls, keys };
  }

  purge(r: PurgeRequest): Promise<ExecResponse> {
    let expanded: { urls: string[]; keys: string[] };
    try {
      expanded = this.expand(r);
    } catch (e) {
      return Promise.resolve(fail(400, `purge refused: ${(e as Error).message}`));
    }
    if (!this.cfg.targets.length) return Promise.resolve(ok({ purged: 0, note: 'no purge targets configured' }));
    const { urls, keys } = expanded;
    if (!urls.length && !keys.length) return Promise.resolve(ok({ purged: 0 }));
    const b = (this.batch ??= { urls: new Set(), keys: new Set(), waiters: [] });
    for (const u of urls) b.urls.add(u);
    if (this.cfg.xkey.enabled) for (const k of keys) b.keys.add(k);
    const p = new Promise<ExecResponse>((resolve) => b.waiters.push(resolve));
    if (b.urls.size + b.keys.size >= this.cfg.batch_size) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.cfg.batch_ms);
    return p;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const b = this.batch;
    this.batch = undefined;
    if (!b) return;
    // send() does not throw; should it, every waiter still gets an answer (a retry).
    const run = this.send(b)
      .catch((e: unknown) => fail(503, `purge failed: ${(e as Error).message}`))
      .then((res) => {
        for (const w of b.waiters) w(res);
      });
    this.track(run);
    if (this.cfg.rebound_ms > 0) {
      // Best effort, like MediaWiki's rebound purges: not retried, not durable.
      const t = setTimeout(() => {
        this.rebounds.delete(t);
        this.track(this.send(b).then(() => {}, () => {}));
      }, this.cfg.rebound_ms);
      t.unref();
      this.rebounds.add(t);
    }
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    // Never an unhandled rejection: that would end the process.
    void p.catch(() => {}).finally(() => this.running.delete(p));
  }

  private async send(b: Batch): Promise<ExecResponse> {
    const jobs: ExpandedRequest[] = [];
    for (const target of this.cfg.targets) {
      const base = target.replace(/\/$/, '');
      for (const u of b.urls) {
        let url: URL;
        try {
          url = new URL(u);
        } catch {
          continue; // not reachable from configured domains and titles; never fatal
        }
        jobs.push({ method: this.cfg.method, uri: `${base}${url.pathname}${url.search}`, headers: { host: url.host }, query: {} });
      }
      for (const k of b.keys) jobs.push({ method: this.cfg.xkey.method, uri: `${base}/`, headers: { [this.cfg.xkey.header.toLowerCase()]: k }, query: {} });
    }
    let worst: ExecResponse | undefined;
    let i = 0;
    const worker = async () => {
      while (i < jobs.length) {
        const job = jobs[i++];
        let res: ExecResponse;
        try {
          res = await this.http.send(job, {}, 10_000);
        } catch (e) {
          res = fail(isCascadeError(e) ? e.status : 503, (e as Error).message);
        }
        this.sent++;
        // 404 from a cache means "not cached": purged all the same.
        if (res.status >= 400 && res.status !== 404 && (!worst || res.status > worst.status)) worst = res;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.cfg.concurrency, jobs.length) }, worker));
    if (!worst) return ok({ purged: jobs.length });
    // A target down or failing (5xx) is retried; a refusal (405: PURGE not allowed) is a dead letter.
    return worst.status >= 500 ? fail(503, `purge failed: ${worst.error ?? `HTTP ${worst.status}`}`) : worst;
  }

  async drain(): Promise<void> {
    if (this.batch) this.flush();
    for (const t of this.rebounds) clearTimeout(t);
    this.rebounds.clear();
    await Promise.allSettled([...this.running]);
  }
}
