// Derived representations (summary, mobile sections and their lead/remaining split,
// mobile-html) of the latest stored HTML: from the hot cache, else the store when the stored
// derivation is of the same render (rev and tid), else derived in the worker pool with the
// origin's page metadata, stored under the HTML's rev/tid and announced as a resource_change.
// One derivation per render at a time; the origin's metadata is read once per revision.
import { CascadeError, Errors } from '../errors/index.ts';
import type { PageInfo } from '../origins/mediawiki/page-info.ts';
import type { StoredRecord } from '../storage/types.ts';
import type { SiteInfo, Title } from '../titles/index.ts';
import { BoundedMap } from '../util/bounded-map.ts';
import { SingleFlight } from '../util/single-flight.ts';
import type { DeriveMeta } from './derive/index.ts';
import type { ServedEntry } from './hot.ts';
import { MOBILE_TYPE } from './html.ts';
import { derivedType } from './mobile-headers.ts';
import type { ContentService } from './service.ts';
import type { DerivedKind, ReadOptions, Served } from './types.ts';

/** Revisions whose origin metadata is kept (read or in flight). */
const MAX_PAGE_INFOS = 1000;

export class Derivations {
  private readonly running = new SingleFlight<string, Served>();
  private readonly pageInfos = new BoundedMap<string, Promise<PageInfo | undefined>>({ maxEntries: MAX_PAGE_INFOS });

  constructor(private readonly svc: ContentService) {}

  /** Summary / mobile sections / mobile-html of the latest revision, derived from the stored HTML. */
  async derived(kind: DerivedKind, domain: string, title: Title, html: ServedEntry, o: ReadOptions = {}): Promise<Served> {
    const svc = this.svc;
    const key = title.prefixedDbKey;
    const hk = svc.hotKey(domain, kind, key);
    const fits = (e: ServedEntry | undefined) => e !== undefined && e.rev === html.rev && e.tid === html.tid;
    const hot = svc.hot.get(hk);
    if (fits(hot)) return { entry: hot!, outcome: 'hit' };
    if (kind === 'mobile-sections-lead' || kind === 'mobile-sections-remaining') {
      const full = await this.derived('mobile-sections', domain, title, html, o);
      // Both parts at once (the split parses the whole document, in a worker when it is large).
      const [lead, remaining] = await svc.derivePool.run('split', await full.entry.text());
      const other = svc.hotKey(domain, kind === 'mobile-sections-lead' ? 'mobile-sections-remaining' : 'mobile-sections-lead', key);
      const part = (text: string) => svc.entry(domain, 'mobile-sections', syntheticRecord(key, html.rev, html.tid, MOBILE_TYPE, Buffer.from(text)));
      const entry = part(kind === 'mobile-sections-lead' ? lead : remaining);
      svc.hot.set(hk, entry);
      svc.hot.set(other, part(kind === 'mobile-sections-lead' ? remaining : lead));
      return { entry, outcome: full.outcome };
    }
    const rec = svc.hasBucket(domain, kind) ? await svc.store.getRev(domain, kind, key, html.rev) : undefined;
    if (rec && rec.tid === html.tid) {
      const entry = svc.entry(domain, kind, rec);
      svc.hot.set(hk, entry);
      return { entry, outcome: 'hit' };
    }
    const ck = `${domain}\u0000${key}\u0000${kind}\u0000${html.tid}`;
    const joining = this.running.has(ck);
    const p = this.running.run(ck, () => this.deriveAndStore(kind, domain, title, html, hk, o));
    return joining ? p.then((s) => ({ ...s, outcome: 'coalesced' as const })) : p;
  }

  private async deriveAndStore(kind: Exclude<DerivedKind, 'mobile-sections-lead' | 'mobile-sections-remaining'>, domain: string, title: Title, html: ServedEntry, hk: string, o: ReadOptions): Promise<Served> {
    const svc = this.svc;
    const key = title.prefixedDbKey;
    const { meta, complete } = await this.deriveMeta(domain, title, html, o.requestId);
    const [body] = await svc.derivePool.run(kind, await html.text(), meta);
    if (!svc.hasBucket(domain, kind) || !complete) {
      // A config from before this representation had a bucket, or the origin's metadata could
      // not be read: serve the derivation from memory only (the next read after the hot
      // cache's ttl derives it again), never store a degraded one.
      const entry = svc.entry(domain, kind, syntheticRecord(key, html.rev, html.tid, derivedType(kind), Buffer.from(body)));
      svc.hot.set(hk, entry);
      return { entry, outcome: 'miss' };
    }
    const put = await svc.store.put({ domain, bucket: kind, key, rev: html.rev, tid: html.tid, contentType: derivedType(kind), body });
    const stored = await svc.store.getRevTid(domain, kind, key, html.rev, put.tid);
    if (!stored) throw new CascadeError(Errors.internal, `derived ${kind} of ${key} vanished after the write`);
    const entry = svc.entry(domain, kind, stored);
    svc.hot.set(hk, entry);
    if (put.status === 'created') svc.changes.emit(domain, kind, key, o);
    return { entry, outcome: 'miss' };
  }

  /** A derivation of a render that is not stored (an older revision: only the latest is kept, as RESTBase does). */
  async unstored(kind: 'mobile-html', domain: string, title: Title, html: ServedEntry, requestId?: string): Promise<string> {
    const { meta } = await this.deriveMeta(domain, title, html, requestId);
    const [body] = await this.svc.derivePool.run(kind, await html.text(), meta);
    return body!;
  }

  /** The origin's page metadata for one revision (shared by the derivations of one render). */
  private originPageInfo(domain: string, key: string, rev: number, requestId?: string): Promise<PageInfo | undefined> {
    const k = `${domain}\u0000${key}\u0000${rev}`;
    let p = this.pageInfos.get(k);
    if (!p) {
      p = this.svc.wiki.pageMetadata(domain, key, requestId).catch((e: unknown) => {
        this.pageInfos.delete(k);
        this.svc.log('page metadata not read from the origin; deriving without it', { domain, key, error: String(e) });
        return undefined;
      });
      this.pageInfos.set(k, p);
    }
    return p;
  }

  private async deriveMeta(domain: string, title: Title, html: ServedEntry, requestId?: string): Promise<{ meta: DeriveMeta; complete: boolean }> {
    const site = await this.svc.siteinfo(domain, requestId);
    const pageId = Number(html.storedHeaders['x-cascade-page-id'] ?? this.svc.access.peek(this.svc.access.key(domain, title.prefixedDbKey))?.pageId ?? 0);
    const timestamp = html.storedHeaders['x-cascade-rev-timestamp'];
    const info = await this.originPageInfo(domain, title.prefixedDbKey, html.rev, requestId);
    return { meta: { ...baseMeta(domain, title, site, pageId, html, timestamp), ...(info ? originMeta(info) : {}) }, complete: info !== undefined };
  }
}

function baseMeta(domain: string, title: Title, site: SiteInfo, pageId: number, html: ServedEntry, timestamp: string | undefined): DeriveMeta {
  return { domain, title: title.prefixedDbKey, site, pageid: pageId, revision: html.rev, tid: html.tid, ...(timestamp ? { timestamp } : {}), lang: site.lang, dir: site.dir };
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

/** A record that is served but not stored (derivations kept in memory only). */
export function syntheticRecord(key: string, rev: number, tid: string, contentType: string, body: Buffer): StoredRecord {
  return { key, rev, tid, contentType, headers: {}, encoding: 'identity', stored: body, body: () => body, writtenAt: Date.now() };
}
