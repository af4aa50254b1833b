// The runtime of declared resources: serve a proxy (backend request per read, nothing stored),
// serve a stored resource (store → backend on a miss or a stale mark; coalesced; stale-if-error),
// and apply a change to a stored resource by its refresh policy:
//   eager  re-render now;
//   lazy   mark the stored render stale (and emit resource_change: CDN purge, dependents);
//          the next read renders;
//   hot    eager for pages read within the heat window, lazy for the others.
// Every change first writes the stale mark, and every read compares the mark with the render's
// time (its tid is taken before the backend request): a read never serves a render older than
// a change Cascade has processed, whatever the policy and whichever instance processed it.
import { createHash, randomUUID } from 'node:crypto';
import { CascadeError, Errors } from '../errors/index.ts';
import type { EventProducer } from '../events/log/types.ts';
import { assertReadable, type PageMeta } from '../content/access.ts';
import { encodeTitle } from '../content/html.ts';
import { ServedEntry } from '../content/hot.ts';
import { checkStatus, OriginClient, type OriginResponse } from '../content/origin.ts';
import type { ContentService, Served } from '../content/service.ts';
import type { DerivedKind } from '../content/types.ts';
import type { Title } from '../titles/index.ts';
import type { StoredRecord } from '../storage/types.ts';
import { compareTids, isTid, newTid } from '../util/tid.ts';
import { ResourceErrors } from './errors.ts';
import { MARKS_BUCKET, type Resource, type RuntimeSections } from './declare.ts';
import { ReadHeat } from './heat.ts';
import { SHAPES } from './shapes.ts';

export interface ReadContext {
  requestId?: string;
  /** A read by Cascade itself (a derivation reading its source): no read heat. */
  internal?: boolean;
  /** `x-triggered-by` of the request, carried into emitted events. */
  triggeredBy?: string;
}

export type ChangeOutcome = 'rendered' | 'marked' | 'not-declared';

/** Counters for tests and the benchmark. */
export interface RuntimeStats {
  /** Backend requests of stored resources (renders), all causes. */
  renders: number;
  /** Renders a read had to wait for (miss or stale mark). */
  readRenders: number;
  /** Renders a change caused at once (eager, or hot and read recently). */
  changeRenders: number;
  marks: number;
  /** Changes left to the next read (lazy, or hot and not read recently). */
  deferred: number;
  reads: number;
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

/**
 * What produces a resource's body (its request, derivation, shape and content type), hashed:
 * a render stored under another declaration is not served, so editing the declaration takes
 * effect on the next read instead of after the next change of each page.
 */
const declHashes = new WeakMap<Resource, string>();
function declHash(r: Resource): string {
  let h = declHashes.get(r);
  if (h === undefined) {
    const { request, derive, shape, content_type } = r.decl;
    h = sha1(Buffer.from(JSON.stringify({ request, derive, shape, content_type }))).slice(0, 16);
    declHashes.set(r, h);
  }
  return h;
}

export class ResourceRuntime {
  readonly heat: ReadHeat;
  /** The clock of read heat (ms); the benchmark runs a simulated one. */
  now: () => number = Date.now;
  readonly stats: RuntimeStats = { renders: 0, readRenders: 0, changeRenders: 0, marks: 0, deferred: 0, reads: 0 };
  /** Renders by resource name (tests, the benchmark). */
  readonly rendersByResource = new Map<string, number>();
  private readonly backends: OriginClient;
  /** Renders in flight by page, with the tid each began with (a reader joins only a render newer than the mark it saw). */
  private readonly inflight = new Map<string, { p: Promise<Served>; tid: string }>();
  private readonly cacheControl: string;

  constructor(
    readonly svc: ContentService,
    readonly byDomain: Map<string, Resource[]>,
    config: RuntimeSections,
    private readonly producer?: EventProducer,
  ) {
    this.heat = new ReadHeat(config.resource_heat.window_seconds * 1000, config.resource_heat.max_pages, () => this.now(), config.resource_heat.min_reads);
    // Named backends get their own pools; requests can only be built against configured ones.
    const named = Object.entries(config.resource_backends ?? {}).map(([n, b]) => [n, { origin: { url: b.url } }]);
    this.backends = new OriginClient(Object.fromEntries(named), { timeoutMs: config.content.origin.timeout_ms, connections: config.content.origin.connections });
    this.cacheControl = `s-maxage=${config.content.s_maxage}, max-age=${config.content.max_age}, must-revalidate`;
  }

  resource(domain: string, name: string): Resource | undefined {
    return this.byDomain.get(domain)?.find((r) => r.name === name);
  }

  // ---------------------------------------------------------------- backend

  /** One backend request of a resource: its URI template expanded; the host is the configured one. */
  async request(r: Resource, domain: string, scope: Record<string, unknown>, query: URLSearchParams | undefined, requestId?: string): Promise<OriginResponse> {
    const req = r.decl.request!;
    let path = r.uri!.expand(scope);
    if (query && req.pass_query.length) {
      const pass = new URLSearchParams();
      for (const q of req.pass_query) for (const v of query.getAll(q)) pass.append(q, v);
      const qs = pass.toString();
      if (qs) path += (path.includes('?') ? '&' : '?') + qs;
    }
    const o = { op: `resource:${r.name}`, path, requestId, headers: { accept: 'application/json', ...req.headers } };
    return req.backend === 'origin' ? this.svc.origin.request(domain, o) : this.backends.request(req.backend, o);
  }

  /** Access filter: page metadata (re-checked with the origin when old), one assertReadable. */
  async access(r: Resource, domain: string, key: string, requestId?: string): Promise<PageMeta | undefined> {
    if (!r.decl.access_check) return undefined;
    const meta = await this.svc.meta(domain, key, requestId);
    assertReadable(meta, key, meta?.latestRev);
    return meta;
  }

  // ---------------------------------------------------------------- stored: read

  /** Heat is per resource and page: a client that reads one resource of a page does not make the others hot. */
  private heatKey(r: Resource, domain: string, key: string): string {
    return `${domain}\u0000${r.name}\u0000${key}`;
  }

  private markKey(r: Resource, key: string): string {
    return `${r.name}/${key}`;
  }

  /** When a change of the page was last processed for this resource (a time UUID), if ever. */
  async markedAt(r: Resource, domain: string, key: string): Promise<string | undefined> {
    return (await this.mark(r, domain, key))?.tid;
  }

  /** The stale mark: when the last change was processed, and the revision it named (if any). */
  async mark(r: Resource, domain: string, key: string): Promise<{ tid: string; rev?: number } | undefined> {
    const rec = await this.svc.store.getLatest(domain, MARKS_BUCKET, this.markKey(r, key));
    if (!rec) return undefined;
    const [tid, rev] = rec.body().toString('utf8').split(' ');
    if (!tid || !isTid(tid)) return undefined;
    const n = Number(rev);
    return { tid, ...(rev !== undefined && Number.isSafeInteger(n) ? { rev: n } : {}) };
  }

  /**
   * The stored render when it may be served: not older than the latest revision known nor than
   * the stale mark; a derivation also not older than its source's render, and only while that
   * source may be served itself.
   */
  private async servable(r: Resource, domain: string, key: string, meta: PageMeta | undefined): Promise<{ rec?: StoredRecord; fresh: boolean; mark?: string }> {
    const [rec, m] = await Promise.all([this.svc.store.getLatest(domain, r.name, key), this.mark(r, domain, key)]);
    const mark = m?.tid;
    if (!rec) return { fresh: false, mark };
    const revOk = r.decl.storage.type !== 'key_rev_value' || r.derive !== undefined || meta?.latestRev === undefined || (rec.rev ?? 0) >= meta.latestRev;
    const markOk = mark === undefined || compareTids(rec.tid, mark) > 0;
    const declOk = rec.headers['x-cascade-decl'] === declHash(r);
    if (!revOk || !markOk || !declOk) return { rec, fresh: false, mark };
    if (r.derive) {
      const source = this.resource(domain, r.derive.from)!;
      const src = await this.servable(source, domain, key, meta);
      if (!src.rec || !src.fresh || compareTids(rec.tid, src.rec.tid) < 0) return { rec, fresh: false, mark };
    }
    return { rec, fresh: true, mark };
  }

  /** A stored resource's latest render for a read: stored and fresh, else rendered (coalesced). */
  async read(r: Resource, domain: string, key: string, o: ReadContext = {}): Promise<Served> {
    this.stats.reads++;
    if (r.decl.refresh === 'hot' && !o.internal) this.heat.touch(this.heatKey(r, domain, key));
    const meta = await this.access(r, domain, key, o.requestId);
    const { rec, fresh, mark } = await this.servable(r, domain, key, meta);
    if (rec && fresh) return { entry: this.entry(r, domain, rec), outcome: 'hit' };
    try {
      const s = await this.renderCoalesced(r, domain, key, meta, o, rec ? 'stale' : 'miss', mark);
      this.stats.readRenders++;
      return s;
    } catch (e) {
      const ce = e instanceof CascadeError ? e : undefined;
      // stale-if-error: the backend is down and an older render exists.
      if (rec && ce !== undefined && ce.status >= 500) return { entry: this.entry(r, domain, rec), outcome: 'stale', stale: 'origin-error' };
      throw e;
    }
  }

  /**
   * One revision of a stored resource (`{path}/{revision}`): the latest goes through `read`
   * (fresh by the marks); an older one is served when a render of it is stored. A backend
   * request names no revision, so only the latest can be rendered.
   */
  async readRevision(r: Resource, domain: string, key: string, rev: number, o: ReadContext = {}): Promise<Served> {
    const meta = r.decl.access_check ? await this.svc.meta(domain, key, o.requestId) : undefined;
    assertReadable(meta, key, rev);
    // The latest revision known: the access state's, or a newer one a change named in the mark.
    const latestKnown = Math.max(meta?.latestRev ?? 0, (await this.mark(r, domain, key))?.rev ?? 0);
    if (rev < latestKnown) {
      const rec = await this.svc.store.getRev(domain, r.name, key, rev);
      if (rec && rec.headers['x-cascade-decl'] === declHash(r)) return { entry: this.entry(r, domain, rec), outcome: 'hit' };
    }
    const latest = await this.read(r, domain, key, o);
    if (latest.entry.rev === rev) return latest;
    throw new CascadeError(ResourceErrors.revisionNotStored, `${r.name} of ${key} is not stored for revision ${rev} (latest: ${latest.entry.rev}); a declared resource renders the latest revision only`);
  }

  private entry(r: Resource, domain: string, rec: StoredRecord): ServedEntry {
    return new ServedEntry(rec, {
      contentType: r.decl.content_type ?? rec.contentType ?? 'application/octet-stream',
      cacheControl: r.decl.cache_control ?? this.cacheControl,
      surrogateKey: `${domain}/${encodeURIComponent(rec.key)}`,
    });
  }

  // ---------------------------------------------------------------- stored: render

  private renderCoalesced(r: Resource, domain: string, key: string, meta: PageMeta | undefined, o: ReadContext, why: 'miss' | 'stale' | 'change', mark?: string): Promise<Served> {
    const k = `${domain}\u0000${r.name}\u0000${key}`;
    const running = this.inflight.get(k);
    // A reader joins a render only when it began after the mark the reader saw; a change never
    // joins one (it began before the change): it waits for it, then renders again.
    if (running && why !== 'change' && (mark === undefined || compareTids(running.tid, mark) > 0)) {
      return running.p.then((s) => ({ ...s, outcome: 'coalesced' as const }));
    }
    // The render's time is when it was asked for: a change processed after that is newer.
    const tid = newTid();
    const entry = { tid } as { p: Promise<Served>; tid: string };
    entry.p = (async (): Promise<Served> => {
      if (running && why === 'change') await running.p.catch(() => undefined);
      try {
        return { ...(await this.render(r, domain, key, meta, o, tid)), outcome: why === 'change' ? 'rerender' : why };
      } finally {
        if (this.inflight.get(k) === entry) this.inflight.delete(k);
      }
    })();
    this.inflight.set(k, entry);
    return entry.p;
  }

  private async render(r: Resource, domain: string, key: string, meta: PageMeta | undefined, o: ReadContext, tid: string): Promise<Served> {
    this.stats.renders++;
    this.rendersByResource.set(r.name, (this.rendersByResource.get(r.name) ?? 0) + 1);
    const revs = r.decl.storage.type === 'key_rev_value';
    const [prev, mark] = await Promise.all([this.svc.store.getLatest(domain, r.name, key), revs ? this.mark(r, domain, key) : undefined]);
    // The revision label: the latest known (a change names it before the access state learns
    // it), never below the stored one (the store's latest is the highest revision).
    const rev = revs ? Math.max(meta?.latestRev ?? 0, mark?.rev ?? 0, prev?.rev ?? 0) : undefined;
    const scope = { title: key, domain, rev, request: { params: { title: key, domain } } };
    const produced = r.derive ? await this.derive(r, domain, key, o) : await this.fetch(r, domain, scope, o);
    const ct = r.decl.content_type ?? produced.contentType;
    // Always written (a new tid), so the render is newer than the mark that asked for it.
    const storedRev = revs ? Math.max(rev ?? 0, produced.rev ?? 0) : undefined;
    // The hash is of the backend's answer: a shape's own fields (tid) do not make a change.
    const hash = sha1(produced.body);
    const body = r.decl.shape ? SHAPES[r.decl.shape]({ body: produced.body, rev: storedRev, tid }) : produced.body;
    const put = await this.svc.store.put({ domain, bucket: r.name, key, rev: storedRev, tid, contentType: ct, headers: { 'x-cascade-origin-sha1': hash, 'x-cascade-decl': declHash(r) }, body, skipUnchanged: false });
    const rec = await this.svc.store.getRevTid(domain, r.name, key, storedRev ?? 0, put.tid);
    if (!rec) throw new CascadeError(Errors.internal, `render of ${r.name}/${key} vanished after the write`);
    // Only a changed body is a change for dependents and CDNs.
    if (prev?.headers['x-cascade-origin-sha1'] !== hash) this.emitChange(r, domain, key, o, 'render');
    return { entry: this.entry(r, domain, rec), outcome: 'miss' };
  }

  private async fetch(r: Resource, domain: string, scope: Record<string, unknown>, o: ReadContext): Promise<{ body: Buffer; contentType: string; rev?: number }> {
    const res = await this.request(r, domain, scope, undefined, o.requestId);
    checkStatus(res, `resource:${r.name}`);
    return { body: res.body, contentType: String(res.headers['content-type'] ?? 'application/octet-stream') };
  }

  /** A derivation: the body template over the source's current render (read, so never stale). */
  private async derive(r: Resource, domain: string, key: string, o: ReadContext): Promise<{ body: Buffer; contentType: string; rev?: number }> {
    const source = this.resource(domain, r.derive!.from)!;
    const src = await this.read(source, domain, key, { ...o, triggeredBy: undefined, internal: true });
    const text = await src.entry.text();
    // JSON sources are given to the template parsed; anything else as text.
    let parsed: unknown;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch {
      parsed = text;
    }
    const value = r.derive!.body({ source: parsed, title: key, domain, rev: src.entry.rev });
    const body = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
    return { body, contentType: typeof value === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8', rev: src.entry.rev };
  }

  // ---------------------------------------------------------------- changes

  /**
   * A change the resource depends on (a revision, a template, another resource) was processed:
   * mark first (so no read serves the older render from now on), then render or leave it to
   * the next read, by the refresh policy.
   */
  async change(r: Resource, domain: string, key: string, o: ReadContext & { rev?: number } = {}): Promise<ChangeOutcome> {
    // The revision stays with this resource's mark: the access state (and so the built-in
    // html) learns of it through its own rules, not through a declared resource.
    await this.writeMark(r, domain, key, o.rev);
    const policy = r.decl.refresh;
    const now = policy === 'eager' || (policy === 'hot' && this.heat.isHot(this.heatKey(r, domain, key)));
    if (!now) {
      this.stats.deferred++;
      this.emitChange(r, domain, key, o, 'stale');
      return 'marked';
    }
    const meta = r.decl.access_check ? await this.svc.meta(domain, key, o.requestId) : undefined;
    // A deleted or hidden page is not rendered: its mark stands, reads answer by access state.
    if (meta?.deleted) return 'marked';
    await this.renderCoalesced(r, domain, key, meta, o, 'change');
    this.stats.changeRenders++;
    return 'rendered';
  }

  /** A client's read of a built-in (read heat, for `refresh: hot`). */
  touchBuiltin(name: string, domain: string, key: string): void {
    const r = this.resource(domain, name);
    if (r?.decl.kind === 'builtin' && r.decl.refresh === 'hot') this.heat.touch(this.heatKey(r, domain, key));
  }

  /**
   * The html a derived built-in is made from changed: derive now (eager, or hot and read
   * recently), or leave it to the next read and tell CDNs and dependents (resource_change,
   * tagged stale). No mark is needed: a derivation is keyed by its html's render id, so one
   * made from an older html is never served.
   */
  async changeBuiltin(r: Resource, domain: string, title: Title, o: ReadContext = {}): Promise<ChangeOutcome> {
    const key = title.prefixedDbKey;
    const policy = r.decl.refresh;
    if (!(policy === 'eager' || (policy === 'hot' && this.heat.isHot(this.heatKey(r, domain, key))))) {
      this.stats.deferred++;
      this.emitChange(r, domain, key, o, 'stale');
      return 'marked';
    }
    // As a read of it: the html (its source, not a step of this change's chain), then the derivation.
    const html = await this.svc.html(domain, title, { requestId: o.requestId });
    if (html.entry.redirect !== undefined) return 'marked'; // a redirect has nothing to derive
    await this.svc.derived(r.name as DerivedKind, domain, title, html.entry, { requestId: o.requestId, ...(o.triggeredBy ? { triggeredBy: o.triggeredBy } : {}) });
    this.stats.changeRenders++;
    return 'rendered';
  }

  private async writeMark(r: Resource, domain: string, key: string, rev?: number): Promise<void> {
    this.stats.marks++;
    // A time UUID of this process's strictly increasing clock: renders whose tid was taken
    // before it are older than the change, those taken after it are not.
    await this.svc.store.put({ domain, bucket: MARKS_BUCKET, key: this.markKey(r, key), body: rev === undefined ? newTid() : `${newTid()} ${rev}`, contentType: 'text/plain', skipUnchanged: false });
  }

  /** Public URL of a stored resource, as CDNs know it (meta.uri of resource_change). */
  publicUri(r: Resource, domain: string, key: string): string {
    return `https://${domain}/api/rest_v1/page/${r.endpoint}/${encodeTitle(key)}`;
  }

  private emitChange(r: Resource, domain: string, key: string, o: ReadContext, what: 'render' | 'stale'): void {
    if (!this.producer) return;
    const event: Record<string, unknown> = {
      $schema: '/resource_change/1.0.0',
      meta: { uri: this.publicUri(r, domain, key), stream: 'resource_change', domain, dt: new Date().toISOString(), id: randomUUID(), ...(o.requestId ? { request_id: o.requestId } : {}) },
      tags: ['cascade', r.endpoint!, ...(what === 'stale' ? ['stale'] : [])],
      ...(o.triggeredBy ? { triggered_by: o.triggeredBy } : {}),
    };
    this.producer.produce([event]).catch((e: unknown) => this.svc.log('resource_change not emitted', { uri: this.publicUri(r, domain, key), error: String(e) }));
  }

  async close(): Promise<void> {
    await this.backends.close();
  }
}
