// The content service: persistent caching of a wiki's renders (RESTBase's role).
// Reads come from the store (through a bounded in-memory LRU of ready-to-send entries);
// misses and internal `no-cache` requests render through the origin, store the render,
// emit `resource_change`, and serve it. Concurrent renders of one title/revision coalesce
// into one origin render. Access metadata (deleted pages, suppressed revisions) is kept
// per page and re-checked with the origin when older than a configured bound.
import { CascadeError, Errors } from '../errors/index.ts';
import { metrics } from '../router/metrics.ts';
import type { ContentStore, StoredRecord } from '../storage/types.ts';
import type { SiteInfo, Title } from '../titles/index.ts';
import { tidTime } from '../util/tid.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import type { ContentConfig } from './config.ts';
import { deriveMobileHtml, deriveMobileSections, deriveSummary } from './derive/index.ts';
import { derivedType, representationHeaders } from './mobile-headers.ts';
import { MediaWikiAdapter } from '../origins/mediawiki/adapter.ts';
import { AccessState, assertReadable } from './access.ts';
import { renderAndStore } from './render.ts';
import { HTML_TYPE } from './html.ts';
import { defaultWorkers, DerivePool, runJob } from './derive/pool.ts';
import { ContentErrors } from './errors.ts';
import { HotCache, ServedEntry, trackHotCache } from './hot.ts';
import { OriginClient } from './origin.ts';
import { SiteTitles } from './sites.ts';
import { ChangeNotices } from './changes.ts';
import { Derivations } from './derived.ts';
import type { PageMeta } from './access.ts';
import type { ContentDeps, DerivedKind, Outcome, ReadOptions, Served, TitleSlot } from './types.ts';

export type { ContentDeps, DerivedKind, Outcome, ReadOptions, Served, TitleSlot } from './types.ts';
export { renderCount } from './render.ts';
export type { PageMeta } from './access.ts';
export { encodeTitle, htmlType, HTML_TYPE, injectTid, MOBILE_TYPE, parsePublicUri, redirectTarget, SUMMARY_TYPE } from './html.ts';

export const cacheOutcomes = metrics.counter('cascade_content_cache_total', 'Content cache outcomes by endpoint', ['endpoint', 'outcome']);

export class ContentService {
  readonly origin: OriginClient;
  readonly hot: HotCache;
  readonly cfg: ContentConfig;
  readonly store: ContentStore;
  readonly log: Logger;
  /** Siteinfo per domain and title normalization. */
  private readonly sites: SiteTitles;
  /** resource_change out (our renders) and in (other processes' renders). */
  readonly changes: ChangeNotices;
  /** Summary, mobile sections, mobile-html. */
  private readonly derivations: Derivations;
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
  private readonly untrackHot: () => void;

  /** Hot-cache evictions so far: work that began before one must not cache a "latest" entry. */
  get evictions(): number {
    return this.dropGen;
  }

  constructor(private readonly deps: ContentDeps) {
    this.cfg = deps.config.content;
    this.store = deps.store;
    this.log = deps.log ?? silentLogger;
    this.origin = new OriginClient(deps.config.domains, { timeoutMs: this.cfg.origin.timeout_ms, connections: this.cfg.origin.connections });
    this.hot = new HotCache(this.cfg.hot_cache.max_bytes, this.cfg.hot_cache.ttl_ms);
    this.untrackHot = trackHotCache(this.hot);
    this.cacheControl = `s-maxage=${this.cfg.s_maxage}, max-age=${this.cfg.max_age}, must-revalidate`;
    this.accessMaxAgeMs = this.cfg.access_check_max_age_seconds * 1000;
    this.wiki = new MediaWikiAdapter(this.origin, this.log);
    this.sites = new SiteTitles(this.wiki, this.cfg.siteinfo_ttl_seconds * 1000, (d, key) => ({ htmlKey: this.hotKey(d, 'html', key), metaKey: this.access.key(d, key) }));
    this.changes = new ChangeNotices(deps.producer, { hasDomain: (d) => this.hasDomain(d), dropHot: (d, k) => this.dropHot(d, k), log: this.log });
    this.derivations = new Derivations(this);
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
  siteinfo(domain: string, requestId?: string): Promise<SiteInfo> {
    return this.sites.siteinfo(domain, requestId);
  }

  /** Cached normalization (sync) when the domain's siteinfo is loaded; no allocation on a hit. */
  titleSlot(domain: string, raw: string): TitleSlot | undefined {
    return this.sites.slot(domain, raw);
  }

  /** Cached normalization (sync) when the domain's siteinfo is loaded. */
  titleSync(domain: string, raw: string): Title | undefined {
    return this.sites.slot(domain, raw)?.title;
  }

  title(domain: string, raw: string, requestId?: string): Promise<Title> {
    return this.sites.title(domain, raw, requestId);
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
    this.hot.deletePage(domain, key);
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

  /** Hot cache key of a page's representation (latest, or one revision). */
  hotKey(domain: string, bucket: string, key: string, rev?: number): string {
    return `${domain}\u0000${bucket}\u0000${key}\u0000${rev ?? ''}`;
  }

  /** A stored record as a ready-to-send entry with this domain's headers. */
  entry(domain: string, bucket: string, rec: StoredRecord): ServedEntry {
    const contentType = rec.contentType ?? (bucket === 'html' ? HTML_TYPE : derivedType(bucket));
    const extra = representationHeaders(bucket, this.sites.lang(domain));
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
        return await renderAndStore(this, domain, title, rev, stored, o, outcome);
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

  // ---------------------------------------------------------------- events

  /** Public URL of a resource, as CDNs know it (meta.uri of resource_change). */
  publicUri(domain: string, endpoint: string, key: string): string {
    return this.changes.publicUri(domain, endpoint, key);
  }

  /** A resource_change from the shared log (see ChangeNotices.apply). */
  applyResourceChange(uri: string, eventId: string | undefined): boolean {
    return this.changes.apply(uri, eventId);
  }

  /** Pages evicted because another instance stored a new render (for tests and metrics). */
  get remoteEvictions(): number {
    return this.changes.remoteEvictions;
  }

  // ---------------------------------------------------------------- derived content

  /** Summary / mobile sections / mobile-html of the latest revision, derived from the stored HTML. */
  derived(kind: DerivedKind, domain: string, title: Title, html: ServedEntry, o: ReadOptions = {}): Promise<Served> {
    return this.derivations.derived(kind, domain, title, html, o);
  }

  /** A derivation of a render that is not stored (an older revision). */
  deriveUnstored(kind: 'mobile-html', domain: string, title: Title, html: ServedEntry, requestId?: string): Promise<string> {
    return this.derivations.unstored(kind, domain, title, html, requestId);
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
