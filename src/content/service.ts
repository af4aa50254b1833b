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
import { deriveMobileSections, deriveSummary, type DeriveMeta } from './derive/index.ts';
import { ContentErrors } from './errors.ts';
import { HotCache, ServedEntry, trackHotCache } from './hot.ts';
import { checkStatus, OriginClient } from './origin.ts';

export const HTML_TYPE = 'text/html; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/HTML/2.1.0"';
export const SUMMARY_TYPE = 'application/json; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/Summary/1.5.0"';
export const MOBILE_TYPE = 'application/json; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/mobile-sections/0.14.5"';

export type DerivedKind = 'summary' | 'mobile-sections' | 'mobile-sections-lead' | 'mobile-sections-remaining';
export type Outcome = 'hit' | 'miss' | 'stale' | 'coalesced' | 'unchanged' | 'rerender';

export const cacheOutcomes = metrics.counter('cascade_content_cache_total', 'Content cache outcomes by endpoint', ['endpoint', 'outcome']);
export const renderCount = metrics.counter('cascade_content_renders_total', 'HTML renders through the origin by domain (misses and re-renders)', ['domain']);

const PAGE_META = 'page-meta';

/** What Cascade knows about a page's access state. Stored in the `page-meta` bucket. */
export interface PageMeta {
  /** Prefixed DB key. */
  title: string;
  pageId?: number;
  latestRev?: number;
  latestTimestamp?: string;
  deleted: boolean;
  /** Revisions whose content is hidden (revision suppression / deletion). */
  suppressed: number[];
  /** ms since epoch of the last confirmation with the origin or an access event. */
  checkedAt: number;
}

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

interface PageBare {
  id: number;
  key?: string;
  title?: string;
  latest: { id: number; timestamp: string };
}

interface RevisionBare {
  id: number;
  timestamp?: string;
  page?: { id: number; key?: string; title?: string };
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

/** URL path segment for a title: percent-encoded, with the characters MediaWiki leaves readable kept. */
export function encodeTitle(prefixedDbKey: string): string {
  return encodeURIComponent(prefixedDbKey).replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%40/g, '@').replace(/%24/g, '$').replace(/%3B/g, ';');
}

const PAGE_PREFIX = '/api/rest_v1/page/';

/** Domain and prefixed DB key of a public URL made by `publicUri`, or undefined. */
export function parsePublicUri(uri: string): { domain: string; endpoint: string; key: string } | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return undefined;
  }
  if (!u.pathname.startsWith(PAGE_PREFIX)) return undefined;
  const rest = u.pathname.slice(PAGE_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  let key: string;
  try {
    key = decodeURIComponent(rest.slice(slash + 1));
  } catch {
    return undefined;
  }
  return { domain: u.hostname, endpoint: rest.slice(0, slash), key };
}

/** Adds the render id to the document head, as Parsoid's `mw:TimeUuid` meta. */
export function injectTid(html: string, tid: string): string {
  const meta = `<meta property="mw:TimeUuid" content="${tid}"/>`;
  const h = html.indexOf('<head');
  if (h !== -1) {
    const end = html.indexOf('>', h);
    if (end !== -1) return html.slice(0, end + 1) + meta + html.slice(end + 1);
  }
  return meta + html;
}

const REDIRECT_RE = /<link\b[^>]*\brel="mw:PageProp\/redirect"[^>]*>/;
const HREF_RE = /\bhref="([^"]*)"/;

/** The target of a redirect page from its Parsoid HTML (`<link rel="mw:PageProp/redirect" href="./Target">`). */
export function redirectTarget(html: string): string | undefined {
  const m = REDIRECT_RE.exec(html);
  if (!m) return undefined;
  const href = HREF_RE.exec(m[0])?.[1];
  if (!href) return undefined;
  let t = href.replace(/^\.\//, '').replace(/^\/wiki\//, '');
  const hash = t.indexOf('#');
  if (hash !== -1) t = t.slice(0, hash);
  try {
    t = decodeURIComponent(t);
  } catch {
    /* keep as is */
  }
  return t.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'") || undefined;
}

export class ContentService {
  readonly origin: OriginClient;
  readonly hot: HotCache;
  readonly cfg: ContentConfig;
  private readonly store: ContentStore;
  private readonly producer?: EventProducer;
  private readonly log: (msg: string, fields?: Record<string, unknown>) => void;
  private sites = new Map<string, { site: SiteInfo; at: number }>();
  private siteLoads = new Map<string, Promise<SiteInfo>>();
  /** Normalized titles by domain and raw title, with the keys the hot path needs. */
  private titleCache = new Map<string, Map<string, TitleSlot>>();
  private titleCount = 0;
  /** Store reads of hot entries in flight (one per key). */
  private loads = new Map<string, Promise<ServedEntry | undefined>>();
  private metas = new Map<string, PageMeta>();
  private inflight = new Map<string, Promise<Served>>();
  private checks = new Map<string, Promise<PageMeta | undefined>>();
  private cacheControl: string;
  private readonly accessMaxAgeMs: number;
  /** Renders started (for tests and the benchmark). */
  renders = 0;
  /** Bumped by every eviction: a store read that started before one does not cache its (maybe older) result. */
  private dropGen = 0;
  /** meta.id of resource_change events this process emitted (its own writes are in its cache already). */
  private readonly ownChanges = new Set<string>();
  /** Pages evicted because another instance stored a new render (for tests and metrics). */
  remoteEvictions = 0;
  private readonly untrackHot: () => void;

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
          const json = await this.origin.getJson<unknown>(
            domain,
            'siteinfo',
            '/w/api.php?action=query&meta=siteinfo&siprop=general%7Cnamespaces%7Cnamespacealiases&format=json&formatversion=2',
            requestId,
          );
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
    return domain + '\u0000' + key;
  }

  /** Access metadata when it is in memory and fresh (the hot path). */
  metaFresh(domain: string, key: string): PageMeta | undefined {
    const m = this.metas.get(this.metaKey(domain, key));
    if (m && Date.now() - m.checkedAt <= this.accessMaxAgeMs) return m;
    return undefined;
  }

  /** Access metadata, re-checked with the origin when missing or older than the bound. */
  async meta(domain: string, key: string, requestId?: string): Promise<PageMeta | undefined> {
    const fresh = this.metaFresh(domain, key);
    if (fresh) return fresh;
    const mk = this.metaKey(domain, key);
    let p = this.checks.get(mk);
    if (!p) {
      p = (async () => {
        try {
          let known = this.metas.get(mk);
          if (!known) {
            const rec = await this.store.getLatest(domain, PAGE_META, key);
            if (rec) known = JSON.parse(rec.body().toString('utf8')) as PageMeta;
            if (known && Date.now() - known.checkedAt <= this.accessMaxAgeMs) {
              this.rememberMeta(domain, known);
              return known;
            }
          }
          try {
            return await this.recheck(domain, key, known, requestId);
          } catch (e) {
            // Origin down: go on with what we knew (stale-if-error for metadata too).
            this.log('access re-check failed', { domain, key, error: String(e) });
            return known;
          }
        } finally {
          this.checks.delete(mk);
        }
      })();
      this.checks.set(mk, p);
    }
    return p;
  }

  /** Asks the origin about a page: exists? latest revision? latest revision hidden? */
  private async recheck(domain: string, key: string, known: PageMeta | undefined, requestId?: string): Promise<PageMeta> {
    const q = `/w/api.php?action=query&prop=info%7Crevisions&rvprop=ids%7Ctimestamp%7Cflags&format=json&formatversion=2&titles=${encodeURIComponent(key)}`;
    const json = await this.origin.getJson<{ query?: { pages?: Record<string, unknown>[] } }>(domain, 'access-check', q, requestId);
    const page = json.query?.pages?.[0] ?? {};
    const missing = page.missing === true || page.missing === '' || page.invalid === true;
    const revs = Array.isArray(page.revisions) ? (page.revisions as Record<string, unknown>[]) : [];
    const latest = revs[0];
    const suppressed = new Set(known?.suppressed ?? []);
    if (latest && typeof latest.revid === 'number') {
      if (isHidden(latest)) suppressed.add(latest.revid);
      else suppressed.delete(latest.revid);
    }
    const m: PageMeta = {
      title: key,
      ...(typeof page.pageid === 'number' ? { pageId: page.pageid } : known?.pageId !== undefined ? { pageId: known.pageId } : {}),
      ...(typeof page.lastrevid === 'number'
        ? { latestRev: page.lastrevid }
        : latest && typeof latest.revid === 'number'
          ? { latestRev: latest.revid }
          : {}),
      ...(latest && typeof latest.timestamp === 'string' ? { latestTimestamp: latest.timestamp } : {}),
      deleted: missing,
      suppressed: [...suppressed],
      checkedAt: Date.now(),
    };
    await this.saveMeta(domain, m);
    return m;
  }

  /** Checks one (older) revision's visibility with the origin. */
  private async revisionHidden(domain: string, rev: number, requestId?: string): Promise<boolean | undefined> {
    const q = `/w/api.php?action=query&prop=revisions&rvprop=ids%7Ctimestamp%7Cflags&format=json&formatversion=2&revids=${rev}`;
    const json = await this.origin.getJson<{ query?: { pages?: { revisions?: Record<string, unknown>[] }[]; badrevids?: unknown } }>(
      domain,
      'access-check',
      q,
      requestId,
    );
    const r = json.query?.pages?.[0]?.revisions?.[0];
    if (!r) return undefined;
    return isHidden(r);
  }

  private rememberMeta(domain: string, m: PageMeta): void {
    const mk = this.metaKey(domain, m.title);
    if (this.metas.size >= 200000 && !this.metas.has(mk)) {
      const first = this.metas.keys().next().value;
      if (first !== undefined) this.metas.delete(first);
    }
    this.metas.set(mk, m);
  }

  private async saveMeta(domain: string, m: PageMeta): Promise<void> {
    this.rememberMeta(domain, m);
    await this.store.put({ domain, bucket: PAGE_META, key: m.title, body: JSON.stringify(m), contentType: 'application/json', skipUnchanged: false });
  }

  private async updateMeta(domain: string, key: string, change: (m: PageMeta) => void): Promise<PageMeta> {
    const mk = this.metaKey(domain, key);
    let m = this.metas.get(mk);
    if (!m) {
      const rec = await this.store.getLatest(domain, PAGE_META, key);
      m = rec ? (JSON.parse(rec.body().toString('utf8')) as PageMeta) : { title: key, deleted: false, suppressed: [], checkedAt: 0 };
    }
    const next: PageMeta = { ...m, suppressed: [...m.suppressed] };
    change(next);
    await this.saveMeta(domain, next);
    return next;
  }

  private dropHot(domain: string, key: string): void {
    this.dropGen++;
    for (const b of ['html', 'summary', 'mobile-sections', 'mobile-sections-lead', 'mobile-sections-remaining']) {
      this.hot.deletePrefix(`${domain}\u0000${b}\u0000${key}\u0000`);
    }
  }

  /** Access event: the page was deleted (404 from now on). */
  async markDeleted(domain: string, rawTitle: string): Promise<PageMeta> {
    const t = await this.title(domain, rawTitle);
    this.dropHot(domain, t.prefixedDbKey);
    return this.updateMeta(domain, t.prefixedDbKey, (m) => {
      m.deleted = true;
      m.checkedAt = Date.now();
    });
  }

  /** Access event: the page was restored. */
  async markUndeleted(domain: string, rawTitle: string): Promise<PageMeta> {
    const t = await this.title(domain, rawTitle);
    this.dropHot(domain, t.prefixedDbKey);
    // Confirm the rest (latest revision) with the origin on the next read.
    return this.updateMeta(domain, t.prefixedDbKey, (m) => {
      m.deleted = false;
      m.checkedAt = 0;
    });
  }

  /** Access event: a page moved. Without a redirect left behind the old title is gone at once. */
  async markMoved(domain: string, fromRaw: string, toRaw: string, redirectLeft: boolean): Promise<void> {
    const from = await this.title(domain, fromRaw);
    const to = await this.title(domain, toRaw);
    this.dropHot(domain, from.prefixedDbKey);
    this.dropHot(domain, to.prefixedDbKey);
    await this.updateMeta(domain, from.prefixedDbKey, (m) => {
      m.deleted = !redirectLeft;
      // The old title now holds a new (redirect) revision or nothing: ask the origin on next read.
      m.checkedAt = redirectLeft ? 0 : Date.now();
      delete m.latestRev;
    });
    await this.updateMeta(domain, to.prefixedDbKey, (m) => {
      m.deleted = false;
      m.checkedAt = 0;
      delete m.latestRev;
    });
  }

  /** Access event: a revision's content was hidden (403 from now on) or shown again. */
  async markRevisionVisibility(domain: string, rawTitle: string, rev: number, hidden: boolean): Promise<PageMeta> {
    const t = await this.title(domain, rawTitle);
    this.dropHot(domain, t.prefixedDbKey);
    return this.updateMeta(domain, t.prefixedDbKey, (m) => {
      const s = new Set(m.suppressed);
      if (hidden) s.add(rev);
      else s.delete(rev);
      m.suppressed = [...s];
    });
  }

  /** Access event: a new revision exists (reads will render it instead of serving the older one). */
  async markNewRevision(domain: string, rawTitle: string, rev: number): Promise<void> {
    const t = await this.title(domain, rawTitle);
    await this.updateMeta(domain, t.prefixedDbKey, (m) => {
      if (m.latestRev === undefined || rev > m.latestRev) m.latestRev = rev;
      m.deleted = false;
    });
  }

  // ---------------------------------------------------------------- HTML

  private hotKey(domain: string, bucket: string, key: string, rev?: number): string {
    return `${domain}\u0000${bucket}\u0000${key}\u0000${rev ?? ''}`;
  }

  private entry(domain: string, bucket: string, rec: StoredRecord): ServedEntry {
    const contentType = rec.contentType ?? (bucket === 'html' ? HTML_TYPE : bucket === 'summary' ? SUMMARY_TYPE : MOBILE_TYPE);
    return new ServedEntry(rec, {
      contentType,
      cacheControl: this.cacheControl,
      surrogateKey: `${domain}/${encodeURIComponent(rec.key)}`,
    });
  }

  /**
   * The servable latest HTML when it can be decided without waiting: hot entry fresh,
   * access metadata fresh, not deleted, not superseded. The hot path of every read: no
   * allocation, no promise.
   */
  htmlHot(slot: TitleSlot): ServedEntry | undefined {
    const now = Date.now();
    const meta = this.metas.get(slot.metaKey);
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
    if (meta?.deleted) throw new CascadeError(ContentErrors.pageDeleted, `${key} has been deleted`);
    const stored = await this.cachedOrLoad(domain, 'html', this.hotKey(domain, 'html', key), () => this.store.getLatest(domain, 'html', key));
    if (o.noCache) {
      if (stored && o.ifUnmodifiedSince !== undefined && Math.floor(stored.renderedAt / 1000) * 1000 > o.ifUnmodifiedSince) {
        throw new CascadeError(Errors.preconditionFailed, `the stored render of ${key} is newer than If-Unmodified-Since`);
      }
      return this.renderCoalesced(domain, title, undefined, stored, o, 'rerender');
    }
    if (stored && (meta?.latestRev === undefined || meta.latestRev <= stored.rev)) {
      if (meta?.suppressed.includes(stored.rev)) throw new CascadeError(ContentErrors.revisionSuppressed, `revision ${stored.rev} of ${key} is hidden`);
      return { entry: stored, outcome: 'hit' };
    }
    return this.renderCoalesced(domain, title, undefined, stored, o, 'miss');
  }

  /** HTML of one revision (newest render of it), rendering it when not stored. */
  async htmlRevision(domain: string, title: Title, rev: number, o: ReadOptions = {}): Promise<Served> {
    const key = title.prefixedDbKey;
    const meta = await this.meta(domain, key, o.requestId);
    if (meta?.deleted) throw new CascadeError(ContentErrors.pageDeleted, `${key} has been deleted`);
    if (meta?.suppressed.includes(rev)) throw new CascadeError(ContentErrors.revisionSuppressed, `revision ${rev} of ${key} is hidden`);
    const stored = await this.cachedOrLoad(domain, 'html', this.hotKey(domain, 'html', key, rev), () => this.store.getRev(domain, 'html', key, rev));
    if (stored && !o.noCache && meta && meta.latestRev !== rev) {
      // An older revision: its visibility is not covered by the page-level check.
      await this.checkOldRevision(domain, key, rev, o.requestId);
    }
    if (o.noCache) {
      if (stored && o.ifUnmodifiedSince !== undefined && Math.floor(stored.renderedAt / 1000) * 1000 > o.ifUnmodifiedSince) {
        throw new CascadeError(Errors.preconditionFailed, `the stored render of ${key}/${rev} is newer than If-Unmodified-Since`);
      }
      return this.renderCoalesced(domain, title, rev, stored, o, 'rerender');
    }
    if (stored) return { entry: stored, outcome: 'hit' };
    return this.renderCoalesced(domain, title, rev, undefined, o, 'miss');
  }

  private oldRevChecked = new Map<string, number>();

  private async checkOldRevision(domain: string, key: string, rev: number, requestId?: string): Promise<void> {
    const k = `${domain}\u0000${rev}`;
    const at = this.oldRevChecked.get(k);
    if (at !== undefined && Date.now() - at <= this.accessMaxAgeMs) return;
    try {
      const hidden = await this.revisionHidden(domain, rev, requestId);
      if (this.oldRevChecked.size > 100000) this.oldRevChecked.clear();
      this.oldRevChecked.set(k, Date.now());
      if (hidden) {
        await this.markRevisionVisibility(domain, key, rev, true);
        throw new CascadeError(ContentErrors.revisionSuppressed, `revision ${rev} of ${key} is hidden`);
      }
    } catch (e) {
      if (e instanceof CascadeError && e.status === 403) throw e;
      // Origin unreachable: serve on the event-driven state.
    }
  }

  /** One exact render; never renders. */
  async htmlRevTid(domain: string, title: Title, rev: number, tid: string, o: ReadOptions = {}): Promise<Served> {
    const key = title.prefixedDbKey;
    const meta = await this.meta(domain, key, o.requestId);
    if (meta?.deleted) throw new CascadeError(ContentErrors.pageDeleted, `${key} has been deleted`);
    if (meta?.suppressed.includes(rev)) throw new CascadeError(ContentErrors.revisionSuppressed, `revision ${rev} of ${key} is hidden`);
    const rec = await this.store.getRevTid(domain, 'html', key, rev, tid);
    if (!rec) throw new CascadeError(ContentErrors.renderNotFound, `no render ${rev}/${tid} of ${key}`);
    if (meta && meta.latestRev !== rev) await this.checkOldRevision(domain, key, rev, o.requestId);
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
    const k = `${domain}\u0000${title.prefixedDbKey}\u0000${rev ?? 'latest'}`;
    const running = this.inflight.get(k);
    if (running) return running.then((s) => ({ ...s, outcome: 'coalesced' as const }));
    const p = (async (): Promise<Served> => {
      try {
        return await this.render(domain, title, rev, stored, o, outcome);
      } catch (e) {
        const ce = e instanceof CascadeError ? e : undefined;
        const originDown = ce !== undefined && (ce.code === ContentErrors.originFailed.code || ce.status >= 500);
        if (stored && originDown) {
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
    let pageId: number | undefined;
    let timestamp: string | undefined;
    let targetRev: number;
    const isLatest = rev === undefined;
    if (rev === undefined) {
      let bare: PageBare;
      try {
        bare = await this.origin.getJson<PageBare>(domain, 'page-bare', `/w/rest.php/v1/page/${encodeTitle(key)}/bare`, o.requestId);
      } catch (e) {
        if (e instanceof CascadeError && e.status === 404 && stored) {
          // We held content for it, the origin has none: deleted and the event lost.
          await this.updateMeta(domain, key, (m) => {
            m.deleted = true;
            m.checkedAt = Date.now();
          });
          this.dropHot(domain, key);
          throw new CascadeError(ContentErrors.pageDeleted, `${key} has been deleted`);
        }
        throw e;
      }
      targetRev = bare.latest.id;
      pageId = bare.id;
      timestamp = bare.latest.timestamp;
    } else {
      const rb = await this.origin.getJson<RevisionBare>(domain, 'revision-bare', `/w/rest.php/v1/revision/${rev}/bare`, o.requestId);
      const pageKey = rb.page?.key ?? rb.page?.title;
      if (pageKey !== undefined) {
        const owner = await this.title(domain, pageKey);
        if (owner.prefixedDbKey !== key) throw new CascadeError(ContentErrors.revisionNotFound, `revision ${rev} does not belong to ${key}`);
      }
      targetRev = rev;
      pageId = rb.page?.id;
      timestamp = rb.timestamp;
    }
    const res = await this.origin.request(domain, {
      op: 'revision-html',
      path: `/w/rest.php/v1/revision/${targetRev}/html`,
      requestId: o.requestId,
      headers: { accept: 'text/html' },
    });
    if (res.status === 403) {
      await this.markRevisionVisibility(domain, key, targetRev, true);
    }
    checkStatus(res, 'revision-html');
    const html = res.body;
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
      const put = await this.store.put({
        domain,
        bucket: 'html',
        key,
        rev: targetRev,
        tid,
        contentType: HTML_TYPE,
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
      await this.updateMeta(domain, key, (m) => {
        m.latestRev = targetRev;
        if (pageId !== undefined) m.pageId = pageId;
        if (timestamp) m.latestTimestamp = timestamp;
        m.deleted = false;
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
      const parsed = JSON.parse(await full.entry.text()) as { lead: unknown; remaining: unknown };
      const part = kind === 'mobile-sections-lead' ? parsed.lead : parsed.remaining;
      const body = Buffer.from(JSON.stringify(part));
      const entry = this.entry(domain, 'mobile-sections', syntheticRecord(key, html.rev, html.tid, MOBILE_TYPE, body));
      this.hot.set(hk, entry);
      return { entry, outcome: full.outcome };
    }
    const rec = await this.store.getRev(domain, kind, key, html.rev);
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
        const meta = await this.deriveMeta(domain, title, html, o.requestId);
        const value = kind === 'summary' ? deriveSummary(text, meta) : deriveMobileSections(text, meta);
        const put = await this.store.put({
          domain,
          bucket: kind,
          key,
          rev: html.rev,
          tid: html.tid,
          contentType: kind === 'summary' ? SUMMARY_TYPE : MOBILE_TYPE,
          body: JSON.stringify(value),
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

  private async deriveMeta(domain: string, title: Title, html: ServedEntry, requestId?: string): Promise<DeriveMeta> {
    const site = await this.siteinfo(domain, requestId);
    const pageId = Number(html.storedHeaders['x-cascade-page-id'] ?? this.metas.get(this.metaKey(domain, title.prefixedDbKey))?.pageId ?? 0);
    const timestamp = html.storedHeaders['x-cascade-rev-timestamp'];
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

  // ---------------------------------------------------------------- listings and metadata

  /** Pages with stored HTML, in key order, without deleted ones. */
  async listPages(domain: string, pageToken?: string): Promise<{ items: string[]; next?: string }> {
    const page = await this.store.listKeys(domain, 'html', { limit: 100, ...(pageToken ? { pageToken } : {}) });
    const items: string[] = [];
    for (const key of page.items) {
      const m = this.metas.get(this.metaKey(domain, key));
      if (m?.deleted) continue;
      items.push(key);
    }
    return { items, ...(page.next ? { next: page.next } : {}) };
  }

  /** Stored renders of a page, newest first (hidden revisions left out). */
  async listRenders(domain: string, title: Title, pageToken?: string, requestId?: string): Promise<{ items: unknown[]; next?: string }> {
    const key = title.prefixedDbKey;
    const meta = await this.meta(domain, key, requestId);
    if (meta?.deleted) throw new CascadeError(ContentErrors.pageDeleted, `${key} has been deleted`);
    const page = await this.store.listRevisions(domain, 'html', key, { limit: 100, ...(pageToken ? { pageToken } : {}) });
    const hidden = new Set(meta?.suppressed ?? []);
    const items = page.items.filter((r) => !hidden.has(r.rev)).map((r) => ({ title: key, revision: r.rev, tid: r.tid }));
    return { items, ...(page.next ? { next: page.next } : {}) };
  }

  /** Latest revision metadata of a page (RESTBase's `/page/title/{title}` item). */
  async titleInfo(domain: string, title: Title, requestId?: string): Promise<Record<string, unknown>> {
    const key = title.prefixedDbKey;
    const meta = await this.meta(domain, key, requestId);
    if (meta?.deleted) throw new CascadeError(ContentErrors.pageDeleted, `${key} has been deleted`);
    const bare = await this.origin.getJson<PageBare>(domain, 'page-bare', `/w/rest.php/v1/page/${encodeTitle(key)}/bare`, requestId);
    const rb = await this.origin.getJson<Record<string, unknown>>(domain, 'revision-bare', `/w/rest.php/v1/revision/${bare.latest.id}/bare`, requestId);
    const stored = await this.store.getRev(domain, 'html', key, bare.latest.id);
    const user = (rb.user ?? {}) as { id?: number; name?: string };
    return {
      title: key,
      page_id: bare.id,
      rev: bare.latest.id,
      tid: stored?.tid ?? null,
      namespace: title.namespace,
      user_id: user.id ?? null,
      user_text: user.name ?? null,
      timestamp: bare.latest.timestamp,
      comment: typeof rb.comment === 'string' ? rb.comment : '',
      tags: [],
      restrictions: meta?.suppressed.includes(bare.latest.id) ? ['texthidden'] : [],
      page_language: (await this.siteinfo(domain, requestId)).lang,
      redirect: stored?.headers['x-cascade-redirect'] !== undefined,
    };
  }

  /** A page's revisions from the origin's history, newest first. */
  async titleRevisions(domain: string, title: Title, olderThan?: number, requestId?: string): Promise<{ items: unknown[]; older?: number }> {
    const key = title.prefixedDbKey;
    const meta = await this.meta(domain, key, requestId);
    if (meta?.deleted) throw new CascadeError(ContentErrors.pageDeleted, `${key} has been deleted`);
    const q = olderThan !== undefined ? `?older_than=${olderThan}` : '';
    const h = await this.origin.getJson<{ revisions?: Record<string, unknown>[]; older?: string | null }>(
      domain,
      'page-history',
      `/w/rest.php/v1/page/${encodeTitle(key)}/history${q}`,
      requestId,
    );
    const hidden = new Set(meta?.suppressed ?? []);
    const items = (h.revisions ?? []).map((r) => {
      const user = (r.user ?? {}) as { id?: number; name?: string };
      const rev = Number(r.id);
      return {
        title: key,
        rev,
        timestamp: r.timestamp,
        user_id: user.id ?? null,
        user_text: user.name ?? null,
        comment: typeof r.comment === 'string' ? r.comment : '',
        minor: r.minor === true,
        size: r.size,
        restrictions: hidden.has(rev) ? ['texthidden'] : [],
      };
    });
    const older = typeof h.older === 'string' ? Number(/older_than=(\d+)/.exec(h.older)?.[1]) : NaN;
    return { items, ...(Number.isFinite(older) ? { older } : {}) };
  }

  /** Metadata of one revision. */
  async revisionInfo(domain: string, rev: number, requestId?: string): Promise<Record<string, unknown>> {
    let rb: Record<string, unknown>;
    try {
      rb = await this.origin.getJson<Record<string, unknown>>(domain, 'revision-bare', `/w/rest.php/v1/revision/${rev}/bare`, requestId);
    } catch (e) {
      if (e instanceof CascadeError && e.status === 404) throw new CascadeError(ContentErrors.revisionNotFound, `no revision ${rev}`);
      throw e;
    }
    const page = (rb.page ?? {}) as { id?: number; key?: string; title?: string };
    const title = await this.title(domain, page.key ?? page.title ?? '', requestId);
    const meta = await this.meta(domain, title.prefixedDbKey, requestId);
    if (meta?.deleted) throw new CascadeError(ContentErrors.pageDeleted, `${title.prefixedDbKey} has been deleted`);
    if (meta?.suppressed.includes(rev)) throw new CascadeError(ContentErrors.revisionSuppressed, `revision ${rev} is hidden`);
    const user = (rb.user ?? {}) as { id?: number; name?: string };
    const stored = await this.store.getRev(domain, 'html', title.prefixedDbKey, rev);
    return {
      title: title.prefixedDbKey,
      page_id: page.id ?? null,
      rev,
      tid: stored?.tid ?? null,
      namespace: title.namespace,
      user_id: user.id ?? null,
      user_text: user.name ?? null,
      timestamp: rb.timestamp,
      comment: typeof rb.comment === 'string' ? rb.comment : '',
      tags: [],
      restrictions: [],
      redirect: stored?.headers['x-cascade-redirect'] !== undefined,
    };
  }

  /** Saves wikitext through the origin's `PUT /page/{title}`; the origin decides who may edit. */
  async save(
    domain: string,
    title: Title,
    f: { wikitext: string; baseEtag?: string; comment?: string; token?: string },
    passHeaders: Record<string, string>,
    requestId?: string,
  ): Promise<{ created: boolean; body: Record<string, unknown> }> {
    const key = title.prefixedDbKey;
    let baseRev: number | undefined;
    if (f.baseEtag) {
      const m = /^(?:W\/)?"?(\d+)(?:\/[^"]*)?"?$/.exec(f.baseEtag.trim());
      if (!m) throw new CascadeError(ContentErrors.badForm, `base_etag is not "rev/tid": ${f.baseEtag}`);
      baseRev = Number(m[1]);
    }
    const body = {
      source: f.wikitext,
      comment: f.comment ?? '',
      content_model: 'wikitext',
      ...(baseRev !== undefined ? { latest: { id: baseRev } } : {}),
      ...(f.token ? { token: f.token } : {}),
    };
    const res = await this.origin.request(domain, {
      op: 'page-save',
      method: 'PUT',
      path: `/w/rest.php/v1/page/${encodeTitle(key)}`,
      headers: { ...passHeaders, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      requestId,
    });
    if (res.status === 403 || res.status === 401) {
      throw new CascadeError(ContentErrors.editForbidden, `the origin refused the edit of ${key} (HTTP ${res.status})`);
    }
    if (res.status === 409 || res.status === 412) throw new CascadeError(ContentErrors.editConflict, `edit conflict on ${key}`);
    checkStatus(res, 'page-save');
    const page = JSON.parse(res.body.toString('utf8')) as PageBare;
    const oldRev = this.metas.get(this.metaKey(domain, key))?.latestRev;
    await this.updateMeta(domain, key, (m) => {
      m.latestRev = page.latest.id;
      m.pageId = page.id;
      m.latestTimestamp = page.latest.timestamp;
      m.deleted = false;
    });
    return {
      created: res.status === 201,
      body: {
        result: 'Success',
        pageid: page.id,
        title: key,
        contentmodel: 'wikitext',
        ...(oldRev !== undefined ? { oldrevid: oldRev } : {}),
        newrevid: page.latest.id,
        newtimestamp: page.latest.timestamp,
      },
    };
  }

  async close(): Promise<void> {
    this.untrackHot();
    await this.origin.close();
  }
}

function isHidden(r: Record<string, unknown>): boolean {
  return r.texthidden === true || r.texthidden === '' || r.suppressed === true || r.suppressed === '' || r.sha1hidden === true;
}

function syntheticRecord(key: string, rev: number, tid: string, contentType: string, body: Buffer): StoredRecord {
  return { key, rev, tid, contentType, headers: {}, encoding: 'identity', stored: body, body: () => body, writtenAt: Date.now() };
}
