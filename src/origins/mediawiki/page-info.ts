// What the summary and the mobile sections take from the origin rather than from the HTML: the
// mobile content service's metadata query (lib/mwapi.js getMetadataForMobileSections), one
// action API call. Props of extensions a wiki lacks (PageImages, GeoData, WikibaseClient's
// `description`) only draw a warning from MediaWiki and are absent from the answer: whatever is
// absent is left out here, never made up.
import type { OriginClient } from '../../content/origin.ts';

export interface OriginImage {
  source: string;
  width: number;
  height: number;
}

export interface PageInfo {
  wikibaseItem?: string;
  /** Short description with its source (WikibaseClient's `description` prop, else the local `wikibase-shortdesc` page prop). */
  description?: { text: string; source: 'local' | 'central' };
  /** PageImages: the page image's file name, a thumbnail and the original. */
  pageImage?: string;
  thumbnail?: OriginImage;
  original?: OriginImage;
  /** GeoData: the primary coordinates on Earth. */
  coordinates?: { lat: number; lon: number };
  /** Page protection as the mobile content service simplifies it: `{edit: ['sysop']}`. */
  protection?: Record<string, string[]>;
  lastModifier?: { user?: string; anon?: boolean; gender: 'unknown' };
  languageCount?: number;
}

const THUMB_SIZE = 320;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function image(v: unknown): OriginImage | undefined {
  if (!isObj(v) || typeof v.source !== 'string') return undefined;
  const width = Number(v.width);
  const height = Number(v.height);
  if (!Number.isFinite(width) || !Number.isFinite(height)) return undefined;
  return { source: v.source.startsWith('//') ? `https:${v.source}` : v.source, width, height };
}

/** Reads the action API answer for one page (formatversion 2). Exported for tests. */
export function parsePageInfo(page: Json): PageInfo {
  const out: PageInfo = {};
  const props = isObj(page.pageprops) ? page.pageprops : {};
  if (typeof props.wikibase_item === 'string') out.wikibaseItem = props.wikibase_item;
  if (typeof page.description === 'string' && page.description !== '') {
    out.description = { text: page.description, source: page.descriptionsource === 'central' ? 'central' : 'local' };
  } else if (typeof props['wikibase-shortdesc'] === 'string' && props['wikibase-shortdesc'] !== '') {
    out.description = { text: props['wikibase-shortdesc'], source: 'local' };
  }
  if (typeof page.pageimage === 'string') out.pageImage = page.pageimage;
  const thumb = image(page.thumbnail);
  const original = image(page.original);
  if (thumb) out.thumbnail = thumb;
  if (original) out.original = original;
  if (Array.isArray(page.coordinates)) {
    const coords = page.coordinates.filter(isObj);
    const c = coords.find((x) => (x.globe ?? 'earth') === 'earth' && (x.primary === true || x.primary === '')) ?? coords.find((x) => (x.globe ?? 'earth') === 'earth');
    if (c && typeof c.lat === 'number' && typeof c.lon === 'number') out.coordinates = { lat: c.lat, lon: c.lon };
  }
  if (Array.isArray(page.protection)) {
    const p: Record<string, string[]> = {};
    for (const r of page.protection.filter(isObj)) {
      if (typeof r.type !== 'string' || typeof r.level !== 'string') continue;
      const levels = (p[r.type] ??= []);
      if (!levels.includes(r.level)) levels.push(r.level);
    }
    out.protection = p;
  }
  const rev = Array.isArray(page.revisions) && isObj(page.revisions[0]) ? page.revisions[0] : undefined;
  if (rev && (typeof rev.user === 'string' || rev.anon === true)) {
    out.lastModifier = { ...(rev.anon === true ? { anon: true } : {}), ...(typeof rev.user === 'string' ? { user: rev.user } : {}), gender: 'unknown' };
  }
  if (Array.isArray(page.langlinks)) out.languageCount = page.langlinks.length;
  return out;
}

/** The page's metadata from the origin's action API (one request). */
export async function pageInfo(client: OriginClient, domain: string, key: string, requestId?: string): Promise<PageInfo> {
  const q = new URLSearchParams({
    action: 'query',
    format: 'json',
    formatversion: '2',
    prop: 'info|pageprops|pageimages|coordinates|description|revisions|langlinks',
    titles: key,
    inprop: 'protection',
    ppprop: 'wikibase_item|wikibase-shortdesc',
    piprop: 'thumbnail|original|name',
    pilicense: 'any',
    pithumbsize: String(THUMB_SIZE),
    coprop: 'globe',
    colimit: 'max',
    rvprop: 'ids|timestamp|user',
    lllimit: 'max',
  });
  const j = await client.getJson<{ query?: { pages?: unknown[] } }>(domain, 'page-info', `/w/api.php?${q.toString()}`, requestId);
  const page = j.query?.pages?.[0];
  return isObj(page) ? parsePageInfo(page) : {};
}
