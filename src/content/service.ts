// The content service: persistent caching of a wiki's renders (RESTBase's role).
// Reads come from the store (through a bounded in-memory LRU of ready-to-send entries);
// misses and internal `no-cache` requests render through the origin, store the render,
// emit `resource_change`, and serve it. Concurrent renders of one title/revision coalesce
// into one origin render. Access metadata (deleted pages, suppressed revisions) is kept
// per page and re-checked with the origin when older than a configured bound.
import { createHash, randomUUID } from 'node:crypto';
import type { CascadeConfig } from '../config/index.ts';
import { CascadeError, Errors } from '../errors/index.ts';
import type { EventProducer } from '../events/log/types.ts';
import { metrics } from '../router/metrics.ts';
import type { ContentStore, StoredRecord } from '../storage/types.ts';
import { normalizeTitle, parseSiteinfo, type SiteInfo, type Title } from '../titles/index.ts';
import { newTid, tidTime } from '../util/tid.ts';
import type { ContentConfig } from './config.ts';
import { deriveMobileHtml, deriveMobileSections, deriveSummary, type DeriveMeta } from './derive/index.ts';
import { derivedType, representationHeaders } from './mobile-headers.ts';
import { MediaWikiAdapter } from '../origins/mediawiki/adapter.ts';
import type { PageInfo } from '../origins/mediawiki/page-info.ts';
import { AccessState, assertReadable, type PageMeta } from './access.ts';
import { fetchOriginRender, renderTarget } from './render.ts';
import { encodeTitle, htmlType, HTML_TYPE, injectTid, MOBILE_TYPE, parsePublicUri, redirectTarget } from './html.ts';
import { defaultWorkers, DerivePool, runJob } from './derive/pool.ts';
import { ContentErrors } from './errors.ts';
import { HotCache, ServedEntry, trackHotCache } from './hot.ts';
import { OriginClient } from './origin.ts';

export type { PageMeta } from './access.ts';
export { encodeTitle, htmlType, HTML_TYPE, injectTid, MOBILE_TYPE, parsePublicUri, redirectTarget, SUMMARY_TYPE } from './html.ts';

export type DerivedKind = 'summary' | 'mobile-sections' | 'mobile-sections-lead' | 'mobile-sections-remaining' | 'mobile-html';
export type Outcome = 'hit' | 'miss' | 'stale' | 'coalesced' | 'unchanged' | 'rerender';

export const cacheOutcomes = metrics.counter('cascade_content_cache_total', 'Content cache outcomes by endpoint', ['endpoint', 'outcome']);
export const renderCount = metrics.counter('cascade_content_renders_total', 'HTML renders through the origin by domain (misses and re-renders)', ['domain']);

export interface ContentDeps {
  config: CascadeConfig;
  store: ContentStore;
  /** resource_change events go here (the event bus's in-process producer). */
  producer?: EventProducer;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface ReadOptions {
  requestId?: string;
  /** Internal `Cache-Control: no-cache`: render again. */
  noCache?: boolean;
  /** With noCache: ms since epoch from If-Unmodified-Since. */
  ifUnmodifiedSince?: number;
  /** `x-triggered-by` of the request, carried into emitted events. */
  triggeredBy?: string;
}

/** A normalized title with the cache keys of its page (built once per raw title). */
export interface TitleSlot {
  title: Title;
  /** Hot cache key of the page's latest HTML. */
  htmlKey: string;
  /** Key of its access metadata. */
  metaKey: string;
}

export interface Served {
  entry: ServedEntry;
  outcome: Outcome;
  /** Set when a stored copy was served because the origin failed. */
  stale?: string;
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

export class ContentService {
  readonly origin: OriginClient;
  readonly hot: HotCache;
  readonly cfg: ContentConfig;
  readonly store: ContentStore;
  private readonly producer?: EventProducer;
  readonly log: (msg: string, fields?: Record<string, unknown>) => void;
  private sites = new Map<string, { site: SiteInfo; at: number }>();
  private siteLoads = new Map<string, Promise<SiteInfo>>();
  /** Normalized titles by domain and raw title, with the keys the hot path needs. */
  private titleCache = new Map<string, Map<string, TitleSlot>>();
  private titleCount = 0;
  /** Store reads of hot entries in flight (one per key). */
  private loads = new Map<string, Promise<ServedEntry | undefined>>();
  private inflight = new Map<string, Promise<Served>>();
  private cacheControl: string;
  private readonly accessMaxAgeMs: number;
  /** The typed MediaWiki calls (probed capabilities, renders, access checks, saves). */
  readonly wiki: MediaWikiAdapter;
  /** Page access state (deleted, missing, hidden revisions) with event re-verification. */
  readonly access: AccessState;
  /** Worker threads deriving summaries and mobile sections off the event loop. */
  readonly derivePool: DerivePool;
  /** Renders started (for tests and the benchmark). */
  renders = 0;
  /** Bumped by every eviction: a store read that started before one does not cache its (maybe older) result. */
  private dropGen = 0;
  /** meta.id of resource_change events this process emitted (its own writes are in its cache already). */
  private readonly ownChanges = new Set<string>();
  /** Pages evicted because another instance stored a new render (for tests and metrics). */
  remoteEvictions = 0;
  private readonly untrackHot: () => void;
  /** The origin's page metadata by domain, page and revision (in flight or read). */
  private readonly pageInfos = new Map<string, Promise<PageInfo | undefined>>();

  constructor(private readonly deps: ContentDeps) {
    this.cfg = deps.config.content;
    this.store = deps.store;
    this.producer = deps.producer;
    this.log = deps.log ?? (() => {});
    this.origin = new OriginClient(deps.config.domains, { timeoutMs: this.cfg.origin.timeout_ms, connections: this.cfg.origin.connections });
    this.hot = new HotCache(this.cfg.hot_cache.max_bytes, this.cfg.hot_cache.ttl_ms);
    this.untrackHot = trackHotCache(this.hot);
    this.cacheControl = `s-maxage=${this.cfg.s_maxage}, max-age=${this.cfg.max_age}, must-revalidate`;
    this.accessMaxAgeMs = this.cfg.access_check_max_age_seconds * 1000;
    this.wiki = new MediaWikiAdapter(this.origin, this.log);
    this.access = new AccessState(this.store, this.wiki, {
      maxAgeMs: this.accessMaxAgeMs,
      reverifyDelayMs: this.cfg.access_reverify_delay_ms,
      log: this.log,
      dropHot: (d, k) => this.dropHot(d, k),
    });
    const d = this.cfg.derive;
    this.derivePool = new DerivePool(
      { workers: d.workers ?? defaultWorkers(), maxQueue: d.max_queue, inlineBelow: d.inline_below_bytes },
      (job) => runJob(job, deriveSummary, deriveMobileSections, deriveMobileHtml),
      (why) => this.log('derive workers cannot start; deriving on the main thread', { error: why }),
    );
    // Say at start what each wiki offers (transform route, purge, REST); failures retry on use.
    for (const d of Object.keys(deps.config.domains)) this.wiki.capabilities(d).catch(() => {});
  }

  /** Whether the domain declares a bucket (representations added later may have none in an older config). */
  hasBucket(domain: string, bucket: string): boolean {
    const buckets = this.deps.config.domains[domain]?.buckets;
    return buckets !== undefined && Object.hasOwn(buckets, bucket);
  }

  hasDomain(domain: string): boolean {
    // Own properties only: a path segment like `__proto__` names no domain.
    return Object.hasOwn(this.deps.config.domains, domain);
  }

  // ---------------------------------------------------------------- siteinfo and titles

  /** The domain's siteinfo, fetched from the origin and cached (coalesced). */
  async siteinfo(domain: string, requestId?: string): Promise<SiteInfo> {
    const have = this.sites.get(domain);
    if (have && Date.now() - have.at < this.cfg.siteinfo_ttl_seconds * 1000) return have.site;
    let p = this.siteLoads.get(domain);
    if (!p) {
      p = (async () => {
        try {
          const json = await this.wiki.siteinfo(domain, requestId);
          const site = parseSiteinfo(json);
          this.sites.set(domain, { site, at: Date.now() });
          this.titleCache.clear();
          this.titleCount = 0;
          return site;
        } catch (e) {
          // Keep serving with the old siteinfo while the origin is down.
          if (have) return have.site;
          throw e;
        } finally {
          this.siteLoads.delete(domain);
        }
      })();
      this.siteLoads.set(domain, p);
    }
    return p;
  }

  /** Cached normalization (sync) when the domain's siteinfo is loaded; no allocation on a hit. */
  titleSlot(domain: string, raw: string): TitleSlot | undefined {
    let byRaw = this.titleCache.get(domain);
    const hit = byRaw?.get(raw);
    if (hit !== undefined) return hit;
    const s = this.sites.get(domain);
    if (!s || Date.now() - s.at >= this.cfg.siteinfo_ttl_seconds * 1000) return undefined;
    const title = normalizeTitle(raw, s.site);
    if (this.titleCount >= 50000) {
      this.titleCache.clear();
      this.titleCount = 0;
      byRaw = undefined;
    }
    if (!byRaw) this.titleCache.set(domain, (byRaw = new Map()));
    const key = title.prefixedDbKey;
    const slot: TitleSlot = { title, htmlKey: this.hotKey(domain, 'html', key), metaKey: this.metaKey(domain, key) };
    byRaw.set(raw, slot);
    this.titleCount++;
    return slot;
  }

  /** Cached normalization (sync) when the domain's siteinfo is loaded. */
  titleSync(domain: string, raw: string): Title | undefined {
    return this.titleSlot(domain, raw)?.title;
  }

  async title(domain: string, raw: string, requestId?: string): Promise<Title> {
    const t = this.titleSync(domain, raw);
    if (t) return t;
    await this.siteinfo(domain, requestId);
    return this.titleSync(domain, raw) ?? normalizeTitle(raw, (await this.siteinfo(domain, requestId)));
  }

  // ---------------------------------------------------------------- access metadata

  private metaKey(domain: string, key: string): string {
    return this.access.key(domain, key);
  }

  /** Access metadata when it is in memory and fresh (the hot path). */
  metaFresh(domain: string, key: string): PageMeta | undefined {
    return this.access.fresh(domain, key);
  }

  /** Access metadata, re-checked with the origin when missing or older than the bound. */
  meta(domain: string, key: string, requestId?: string): Promise<PageMeta | undefined> {
    return this.access.get(domain, key, requestId);
  }

  /** Drops a page's hot entries (all endpoints, latest and revisions). */
  dropHot(domain: string, key: string): void {
    this.dropGen++;
    for (const b of ['html', 'summary', 'mobile-sections', 'mobile-sections-lead', 'mobile-sections-remaining', 'mobile-html']) {
      this.hot.deletePrefix(`${domain}\u0000${b}\u0000${key}\u0000`);
    }
  }

  /** Access event: the page was deleted (404 at once; re-verified with the origin shortly). */
  async markDeleted(domain: string, rawTitle: string): Promise<PageMeta> {
    return this.access.markDeleted(domain, (await this.title(domain, rawTitle)).prefixedDbKey);
  }

  /** Access event: the page was restored. */
  async markUndeleted(domain: string, rawTitle: string): Promise<PageMeta> {
    return this.access.markUndeleted(domain, (await this.title(domain, rawTitle)).prefixedDbKey);
  }

  /** Access event: a page moved. Without a redirect left behind the old title is gone at once. */
  async markMoved(domain: string, fromRaw: string, toRaw: string, redirectLeft: boolean): Promise<void> {
    const from = await this.title(domain, fromRaw);
    const to = await this.title(domain, toRaw);
    await this.access.markMoved(domain, from.prefixedDbKey, to.prefixedDbKey, redirectLeft);
  }

  /** Access event: a revision's content was hidden (403 at once, re-verified) or shown again (once the origin confirms). */
  async markRevisionVisibility(domain: string, rawTitle: string, rev: number, hidden: boolean): Promise<PageMeta> {
    return this.access.markRevisionVisibility(domain, (await this.title(domain, rawTitle)).prefixedDbKey, rev, hidden);
  }

  /** Access event: a new revision exists (reads will render it instead of serving the older one). */
  async markNewRevision(domain: string, rawTitle: string, rev: number): Promise<void> {
    await this.access.markNewRevision(domain, (await this.title(domain, rawTitle)).prefixedDbKey, rev);
  }

  // ---------------------------------------------------------------- HTML

  private hotKey(domain: string, bucket: string, key: string, rev?: number): string {
    return `${domain}\u0000${bucket}\u0000${key}\u0000${rev ?? ''}`;
  }

  private entry(domain: string, bucket: string, rec: StoredRecord): ServedEntry {
    const contentType = rec.contentType ?? (bucket === 'html' ? HTML_TYPE : derivedType(bucket));
    const extra = representationHeaders(bucket, this.sites.get(domain)?.site.lang);
    return new ServedEntry(rec, {
      contentType,
      cacheControl: this.cacheControl,
      surrogateKey: `${domain}/${encodeURIComponent(rec.key)}`,
      ...(extra.length ? { extraHeaders: extra } : {}),
    });
  }

  /**
   * The servable latest HTML when it can be decided without waiting: hot entry fresh,
   * access metadata fresh, not deleted, not superseded. The hot path of every read: no
   * allocation, no promise.
   */
  htmlHot(slot: TitleSlot): ServedEntry | undefined {
    const now = Date.now();
    const meta = this.access.peek(slot.metaKey);
    if (meta === undefined || meta.deleted || now - meta.checkedAt > this.accessMaxAgeMs) return undefined;
    const entry = this.hot.get(slot.htmlKey, now);
    if (entry === undefined) return undefined;
    if (meta.latestRev !== undefined && meta.latestRev > entry.rev) return undefined;
    if (meta.suppressed.length > 0 && meta.suppressed.includes(entry.rev)) return undefined;
    return entry;
  }

  /** The in-memory entry of a page's latest HTML, fresh or not (introspection, tests). */
  hotHtml(domain: string, key: string): ServedEntry | undefined {
    return this.hot.peek(this.hotKey(domain, 'html', key));
  }

  /**
   * The entry under hot key `hk` when fresh; otherwise the store's record through `load`.
   * When the store still holds the cached render, the cached entry is kept (with the codings
   * it has computed) and marked fresh; concurrent callers share one store read.
   */
  private cachedOrLoad(domain: string, bucket: string, hk: string, load: () => Promise<StoredRecord | undefined>): Promise<ServedEntry | undefined> {
    const fresh = this.hot.get(hk);
    if (fresh) return Promise.resolve(fresh);
    let p = this.loads.get(hk);
    if (!p) {
      const gen = this.dropGen;
      p = (async () => {
        try {
          const rec = await load();
          const cur = this.hot.peek(hk);
          if (!rec) {
            this.hot.delete(hk);
            return undefined;
          }
          const rev = rec.rev ?? 0;
          if (cur && cur.rev === rev && cur.tid === rec.tid) {
            cur.loadedAt = Date.now();
            return cur;
          }
          // This process stored a newer render while the read ran: keep it.
          if (cur && (cur.rev > rev || (cur.rev === rev && cur.renderedAt > tidTime(rec.tid)))) return cur;
          const e = this.entry(domain, bucket, rec);
          // An eviction ran while the store was read: the record may predate it, so serve it
          // once and let the next read go to the store again.
          if (gen === this.dropGen) this.hot.set(hk, e);
          return e;
        } finally {
          this.loads.delete(hk);
        }
      })();
      this.loads.set(hk, p);
    }
    return p;
  }

  /** Latest HTML of a page (the full path: access checks, store, render on miss). */
  async html(domain: string, title: Title, o: ReadOptions = {}): Promise<Served> {
    const key = title.prefixedDbKey;
    const meta = await this.meta(domain, key, o.requestId);
    assertReadable(meta, key);
    const stored = await this.cachedOrLoad(domain, 'html', this.hotKey(domain, 'html', key), () => this.store.getLatest(domain, 'html', key));
    if (o.noCache) {
      if (stored && o.ifUnmodifiedSince !== undefined && Math.floor(renderTime(stored) / 1000) * 1000 > o.ifUnmodifiedSince) {
        throw new CascadeError(Errors.preconditionFailed, `the stored render of ${key} is newer than If-Unmodified-Since`);
      }
      return this.renderCoalesced(domain, title, undefined, stored, o, 'rerender');
    }
    if (stored && (meta?.latestRev === undefined || meta.latestRev <= stored.rev)) {
      assertReadable(meta, key, stored.rev);
      return { entry: stored, outcome: 'hit' };
    }
    return this.renderCoalesced(domain, title, undefined, stored, o, 'miss');
  }

  /** HTML of one revision (newest render of it), rendering it when not stored. */
  async htmlRevision(domain: string, title: Title, rev: number, o: ReadOptions = {}): Promise<Served> {
    const key = title.prefixedDbKey;
    const meta = await this.meta(domain, key, o.requestId);
    assertReadable(meta, key, rev);
    const stored = await this.cachedOrLoad(domain, 'html', this.hotKey(domain, 'html', key, rev), () => this.store.getRev(domain, 'html', key, rev));
    if (stored && !o.noCache && meta && meta.latestRev !== rev) {
      // An older revision: its visibility is not covered by the page-level check.
      await this.access.checkOldRevision(domain, key, rev, o.requestId);
    }
    if (o.noCache) {
      if (stored && o.ifUnmodifiedSince !== undefined && Math.floor(renderTime(stored) / 1000) * 1000 > o.ifUnmodifiedSince) {
        throw new CascadeError(Errors.preconditionFailed, `the stored render of ${key}/${rev} is newer than If-Unmodified-Since`);
      }
      return this.renderCoalesced(domain, title, rev, stored, o, 'rerender');
    }
    if (stored) return { entry: stored, outcome: 'hit' };
    return this.renderCoalesced(domain, title, rev, undefined, o, 'miss');
  }

  /** One exact render; never renders. */
  async htmlRevTid(domain: string, title: Title, rev: number, tid: string, o: ReadOptions = {}): Promise<Served> {
    const key = title.prefixedDbKey;
    const meta = await this.meta(domain, key, o.requestId);
    assertReadable(meta, key, rev);
    const rec = await this.store.getRevTid(domain, 'html', key, rev, tid);
    if (!rec) throw new CascadeError(ContentErrors.renderNotFound, `no render ${rev}/${tid} of ${key}`);
    if (meta && meta.latestRev !== rev) await this.access.checkOldRevision(domain, key, rev, o.requestId);
    return { entry: this.entry(domain, 'html', rec), outcome: 'hit' };
  }

  private renderCoalesced(
    domain: string,
    title: Title,
    rev: number | undefined,
    stored: ServedEntry | undefined,
    o: ReadOptions,
    outcome: Outcome,
  ): Promise<Served> {
    // Internal re-renders verify the origin's render is new enough; they do not share a plain miss's result.
    const k = `${domain}\u0000${title.prefixedDbKey}\u0000${rev ?? 'latest'}${o.noCache ? '\u0000nc' : ''}`;
    const running = this.inflight.get(k);
    if (running) return running.then((s) => ({ ...s, outcome: 'coalesced' as const }));
    const p = (async (): Promise<Served> => {
      try {
        return await this.render(domain, title, rev, stored, o, outcome);
      } catch (e) {
        const ce = e instanceof CascadeError ? e : undefined;
        const originDown = ce !== undefined && (ce.code === ContentErrors.originFailed.code || ce.status >= 500);
        // stale-if-error for readers only: an internal no-cache re-render that fails must fail,
        // so change propagation retries it instead of counting an old render as done.
        if (stored && originDown && !o.noCache) {
          this.log('origin failed; serving stored render', { domain, key: title.prefixedDbKey, error: String(e) });
          return { entry: stored, outcome: 'stale', stale: 'origin-error' };
        }
        throw e;
      } finally {
        this.inflight.delete(k);
      }
    })();
    this.inflight.set(k, p);
    return p;
  }

  private async render(
    domain: string,
    title: Title,
    rev: number | undefined,
    stored: ServedEntry | undefined,
    o: ReadOptions,
    outcome: Outcome,
  ): Promise<Served> {
    const key = title.prefixedDbKey;
    this.renders++;
    renderCount.inc([domain]);
    const isLatest = rev === undefined;
    const t = await renderTarget(this, domain, key, rev, stored, o);
    let got;
    try {
      got = await fetchOriginRender(this, domain, key, t, o, isLatest);
    } catch (e) {
      // MediaWiki 1.39 answers a hidden revision's HTML with 500 (RevisionAccessException): ask.
      const hidden =
        e instanceof CascadeError &&
        (e.status === 403 || (e.status >= 500 && (await this.wiki.revisionsHidden(domain, [t.rev], o.requestId).catch(() => undefined))?.get(t.rev) === true));
      if (hidden) {
        await this.access.markRevisionVisibility(domain, key, t.rev, true);
        throw new CascadeError(ContentErrors.revisionSuppressed, `revision ${t.rev} of ${key} is hidden`);
      }
      throw e;
    }
    const { rev: targetRev, pageId, timestamp } = t;
    const html = got.body;
    const hash = sha1(html);
    const revKey = this.hotKey(domain, 'html', key, targetRev);
    const latestKey = this.hotKey(domain, 'html', key);

    // Byte-identical to the stored render of this revision: keep its tid (and ETag), emit nothing.
    let same: ServedEntry | undefined = stored && stored.rev === targetRev ? stored : undefined;
    if (!same) {
      const rec = await this.store.getRev(domain, 'html', key, targetRev);
      if (rec) same = this.entry(domain, 'html', rec);
    }
    let served: Served;
    if (same && same.storedHeaders['x-cascade-origin-sha1'] === hash) {
      served = { entry: same, outcome: 'unchanged' };
      this.hot.set(revKey, same);
      if (isLatest) this.hot.set(latestKey, same);
    } else {
      const tid = newTid();
      const text = html.toString('utf8');
      const redirect = redirectTarget(text);
      let redirectKey: string | undefined;
      if (redirect) {
        try {
          redirectKey = (await this.title(domain, redirect)).prefixedDbKey;
        } catch {
          redirectKey = undefined;
        }
      }
      const headers: Record<string, string> = { 'x-cascade-origin-sha1': hash };
      if (redirectKey) headers['x-cascade-redirect'] = redirectKey;
      if (pageId !== undefined) headers['x-cascade-page-id'] = String(pageId);
      if (timestamp) headers['x-cascade-rev-timestamp'] = timestamp;
      if (got.renderedAt !== undefined) headers['x-cascade-origin-rendered'] = String(got.renderedAt);
      const put = await this.store.put({
        domain,
        bucket: 'html',
        key,
        rev: targetRev,
        tid,
        contentType: got.htmlVersion ? htmlType(got.htmlVersion) : HTML_TYPE,
        headers,
        body: injectTid(text, tid),
        skipUnchanged: false,
      });
      const rec = await this.store.getRevTid(domain, 'html', key, targetRev, put.tid);
      if (!rec) throw new CascadeError(Errors.internal, `render ${targetRev}/${put.tid} of ${key} vanished after the write`);
      const entry = this.entry(domain, 'html', rec);
      served = { entry, outcome };
      this.hot.set(revKey, entry);
      if (put.status === 'created') {
        const latest = this.hot.peek(latestKey);
        if (isLatest || !latest || latest.rev <= targetRev) this.hot.set(latestKey, entry);
        this.emitChange(domain, 'html', key, o);
      }
    }
    if (isLatest) {
      await this.access.update(domain, key, (m) => {
        m.latestRev = targetRev;
        if (pageId !== undefined) m.pageId = pageId;
        if (timestamp) m.latestTimestamp = timestamp;
        m.deleted = false;
        delete m.missing;
        m.checkedAt = Date.now();
      });
    }
    return served;
  }

  // ---------------------------------------------------------------- events

  /** Public URL of a resource, as CDNs know it (meta.uri of resource_change). */
  publicUri(domain: string, endpoint: string, key: string): string {
    return `https://${domain}/api/rest_v1/page/${endpoint}/${encodeTitle(key)}`;
  }

  private emitChange(domain: string, endpoint: string, key: string, o: ReadOptions): void {
    if (!this.producer) return;
    const event: Record<string, unknown> = {
      $schema: '/resource_change/1.0.0',
      meta: {
        uri: this.publicUri(domain, endpoint, key),
        stream: 'resource_change',
        domain,
        dt: new Date().toISOString(),
        id: randomUUID(),
        ...(o.requestId ? { request_id: o.requestId } : {}),
      },
      tags: ['cascade', endpoint],
      ...(o.triggeredBy ? { triggered_by: o.triggeredBy } : {}),
    };
    if (this.ownChanges.size >= 10000) this.ownChanges.clear(); // ids whose event never came back (no consumer)
    this.ownChanges.add((event.meta as { id: string }).id);
    this.producer.produce([event]).catch((e: unknown) => this.log('resource_change not emitted', { uri: (event.meta as { uri: string }).uri, error: String(e) }));
  }

  /**
   * A resource_change from the shared log: when another process stored a new render of the
   * page, drops this process's hot entries of it (all endpoints, latest and revisions) so the
   * next read goes to the shared store. Returns whether anything was evicted for it.
   */
  applyResourceChange(uri: string, eventId: string | undefined): boolean {
    if (eventId !== undefined && this.ownChanges.delete(eventId)) return false;
    const page = parsePublicUri(uri);
    if (!page || !this.hasDomain(page.domain)) return false;
    this.dropHot(page.domain, page.key);
    this.remoteEvictions++;
    return true;
  }

  // ---------------------------------------------------------------- derived content

  /** Summary / mobile sections of the latest revision, derived from the stored HTML. */
  async derived(kind: DerivedKind, domain: string, title: Title, html: ServedEntry, o: ReadOptions = {}): Promise<Served> {
    const key = title.prefixedDbKey;
    const hk = this.hotKey(domain, kind, key);
    const fits = (e: ServedEntry | undefined) => e !== undefined && e.rev === html.rev && e.tid === html.tid;
    const hot = this.hot.get(hk);
    if (fits(hot)) return { entry: hot!, outcome: 'hit' };
    if (kind === 'mobile-sections-lead' || kind === 'mobile-sections-remaining') {
      const full = await this.derived('mobile-sections', domain, title, html, o);
      // Both parts at once (the split parses the whole document, in a worker when it is large).
      const [lead, remaining] = await this.derivePool.run('split', await full.entry.text());
      const other = this.hotKey(domain, kind === 'mobile-sections-lead' ? 'mobile-sections-remaining' : 'mobile-sections-lead', key);
      const part = (text: string) => this.entry(domain, 'mobile-sections', syntheticRecord(key, html.rev, html.tid, MOBILE_TYPE, Buffer.from(text)));
      const entry = part(kind === 'mobile-sections-lead' ? lead : remaining);
      this.hot.set(hk, entry);
      this.hot.set(other, part(kind === 'mobile-sections-lead' ? remaining : lead));
      return { entry, outcome: full.outcome };
    }
    const rec = this.hasBucket(domain, kind) ? await this.store.getRev(domain, kind, key, html.rev) : undefined;
    if (rec && rec.tid === html.tid) {
      const entry = this.entry(domain, kind, rec);
      this.hot.set(hk, entry);
      return { entry, outcome: 'hit' };
    }
    const ck = `${domain}\u0000${key}\u0000${kind}\u0000${html.tid}`;
    const running = this.inflight.get(ck);
    if (running) return running.then((s) => ({ ...s, outcome: 'coalesced' as const }));
    const p = (async (): Promise<Served> => {
      try {
        const text = await html.text();
        const { meta, complete } = await this.deriveMeta(domain, title, html, o.requestId);
        const [body] = await this.derivePool.run(kind, text, meta);
        if (!this.hasBucket(domain, kind) || !complete) {
          // A config from before this representation had a bucket, or the origin's metadata could
          // not be read: serve the derivation from memory only (the next read after the hot
          // cache's ttl derives it again), never store a degraded one.
          const entry = this.entry(domain, kind, syntheticRecord(key, html.rev, html.tid, derivedType(kind), Buffer.from(body)));
          this.hot.set(hk, entry);
          return { entry, outcome: 'miss' };
        }
        const put = await this.store.put({
          domain,
          bucket: kind,
          key,
          rev: html.rev,
          tid: html.tid,
          contentType: derivedType(kind),
          body,
        });
        const stored = await this.store.getRevTid(domain, kind, key, html.rev, put.tid);
        if (!stored) throw new CascadeError(Errors.internal, `derived ${kind} of ${key} vanished after the write`);
        const entry = this.entry(domain, kind, stored);
        this.hot.set(hk, entry);
        if (put.status === 'created') this.emitChange(domain, kind, key, o);
        return { entry, outcome: 'miss' };
      } finally {
        this.inflight.delete(ck);
      }
    })();
    this.inflight.set(ck, p);
    return p;
  }

  /** A derivation of a render that is not stored (an older revision: only the latest is kept, as RESTBase does). */
  async deriveUnstored(kind: 'mobile-html', domain: string, title: Title, html: ServedEntry, requestId?: string): Promise<string> {
    const { meta } = await this.deriveMeta(domain, title, html, requestId);
    const [body] = await this.derivePool.run(kind, await html.text(), meta);
    return body!;
  }

  /** The origin's page metadata for one revision (shared by the derivations of one render). */
  private originPageInfo(domain: string, key: string, rev: number, requestId?: string): Promise<PageInfo | undefined> {
    const k = `${domain}\u0000${key}\u0000${rev}`;
    let p = this.pageInfos.get(k);
    if (!p) {
      if (this.pageInfos.size >= 1000) this.pageInfos.clear();
      p = this.wiki.pageMetadata(domain, key, requestId).catch((e: unknown) => {
        this.pageInfos.delete(k);
        this.log('page metadata not read from the origin; deriving without it', { domain, key, error: String(e) });
        return undefined;
      });
      this.pageInfos.set(k, p);
    }
    return p;
  }

  private async deriveMeta(domain: string, title: Title, html: ServedEntry, requestId?: string): Promise<{ meta: DeriveMeta; complete: boolean }> {
    const site = await this.siteinfo(domain, requestId);
    const pageId = Number(html.storedHeaders['x-cascade-page-id'] ?? this.access.peek(this.metaKey(domain, title.prefixedDbKey))?.pageId ?? 0);
    const timestamp = html.storedHeaders['x-cascade-rev-timestamp'];
    const info = await this.originPageInfo(domain, title.prefixedDbKey, html.rev, requestId);
    return { meta: { ...this.baseMeta(domain, title, site, pageId, html, timestamp), ...(info ? originMeta(info) : {}) }, complete: info !== undefined };
  }

  private baseMeta(domain: string, title: Title, site: SiteInfo, pageId: number, html: ServedEntry, timestamp: string | undefined): DeriveMeta {
    return {
      domain,
      title: title.prefixedDbKey,
      site,
      pageid: pageId,
      revision: html.rev,
      tid: html.tid,
      ...(timestamp ? { timestamp } : {}),
      lang: site.lang,
      dir: site.dir,
    };
  }

  async close(): Promise<void> {
    this.untrackHot();
    this.access.close();
    await this.derivePool.close();
    await this.origin.close();
  }
}

/**
 * When a stored render was made: the origin's own render time when it said (a stock wiki may
 * hand out a parser-cache entry older than the moment Cascade stored it), else the tid's time.
 */
function renderTime(e: ServedEntry): number {
  const origin = Number(e.storedHeaders['x-cascade-origin-rendered']);
  return Number.isFinite(origin) && origin > 0 ? Math.min(origin, e.renderedAt) : e.renderedAt;
}

/** DeriveMeta fields from the origin's page metadata (only those it has). */
function originMeta(info: PageInfo): Partial<DeriveMeta> {
  return {
    ...(info.wikibaseItem ? { wikibase_item: info.wikibaseItem } : {}),
    ...(info.description ? { description: info.description.text, description_source: info.description.source } : {}),
    ...(info.thumbnail && info.original ? { thumbnail: info.thumbnail, originalimage: info.original } : {}),
    ...(info.coordinates ? { coordinates: info.coordinates } : {}),
    ...(info.protection ? { protection: info.protection, editable: info.protection.edit === undefined } : {}),
    ...(info.lastModifier ? { lastmodifier: info.lastModifier } : {}),
    ...(info.languageCount !== undefined ? { languagecount: info.languageCount } : {}),
  };
}

function syntheticRecord(key: string, rev: number, tid: string, contentType: string, body: Buffer): StoredRecord {
  return { key, rev, tid, contentType, headers: {}, encoding: 'identity', stored: body, body: () => body, writtenAt: Date.now() };
}
