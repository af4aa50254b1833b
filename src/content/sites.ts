// Each domain's siteinfo (from the origin, cached for `siteinfo_ttl_seconds`, one load at a
// time, the old one kept while the origin is down) and title normalization against it, with a
// cache of the keys the hot path needs (nested maps: a hit allocates nothing; cleared whole
// when full or when the siteinfo changes, since every slot depends on it).
import type { MediaWikiAdapter } from '../origins/mediawiki/adapter.ts';
import { normalizeTitle, parseSiteinfo, type SiteInfo, type Title } from '../titles/index.ts';
import { SingleFlight } from '../util/single-flight.ts';
import type { TitleSlot } from './types.ts';

const MAX_SLOTS = 50_000;

export class SiteTitles {
  private readonly sites = new Map<string, { site: SiteInfo; at: number }>();
  private readonly loads = new SingleFlight<string, SiteInfo>();
  private readonly slots = new Map<string, Map<string, TitleSlot>>();
  private slotCount = 0;

  constructor(
    private readonly wiki: Pick<MediaWikiAdapter, 'siteinfo'>,
    private readonly ttlMs: number,
    /** The hot-cache and access keys of a page, kept in its slot. */
    private readonly keysOf: (domain: string, key: string) => { htmlKey: string; metaKey: string },
  ) {}

  /** The domain's siteinfo, fetched from the origin and cached (coalesced). */
  async siteinfo(domain: string, requestId?: string): Promise<SiteInfo> {
    const have = this.sites.get(domain);
    if (have && Date.now() - have.at < this.ttlMs) return have.site;
    return this.loads.run(domain, async () => {
      try {
        const site = parseSiteinfo(await this.wiki.siteinfo(domain, requestId));
        this.sites.set(domain, { site, at: Date.now() });
        this.clearSlots();
        return site;
      } catch (e) {
        // Keep serving with the old siteinfo while the origin is down.
        if (have) return have.site;
        throw e;
      }
    });
  }

  /** The content language of a domain when its siteinfo is loaded. */
  lang(domain: string): string | undefined {
    return this.sites.get(domain)?.site.lang;
  }

  /** Cached normalization (sync) when the domain's siteinfo is loaded; no allocation on a hit. */
  slot(domain: string, raw: string): TitleSlot | undefined {
    let byRaw = this.slots.get(domain);
    const hit = byRaw?.get(raw);
    if (hit !== undefined) return hit;
    const s = this.sites.get(domain);
    if (!s || Date.now() - s.at >= this.ttlMs) return undefined;
    const title = normalizeTitle(raw, s.site);
    if (this.slotCount >= MAX_SLOTS) {
      this.clearSlots();
      byRaw = undefined;
    }
    if (!byRaw) this.slots.set(domain, (byRaw = new Map()));
    const slot: TitleSlot = { title, ...this.keysOf(domain, title.prefixedDbKey) };
    byRaw.set(raw, slot);
    this.slotCount++;
    return slot;
  }

  /** The normalized title, loading the siteinfo first when needed. */
  async title(domain: string, raw: string, requestId?: string): Promise<Title> {
    const t = this.slot(domain, raw)?.title;
    if (t) return t;
    const site = await this.siteinfo(domain, requestId);
    return this.slot(domain, raw)?.title ?? normalizeTitle(raw, site);
  }

  private clearSlots(): void {
    this.slots.clear();
    this.slotCount = 0;
  }
}
