// What the summary and the mobile sections share: the page's identity, URLs and lead image.
import { normalizeTitle, type SiteInfo, type Title } from '../../titles/index.ts';
import type { PageAnalysis } from './analyze.ts';
import type { DeriveMeta, ImageRef } from './types.ts';

export interface PageIdentity {
  title: Title;
  namespaceText: string;
  lang: string;
  dir: 'ltr' | 'rtl';
  pageid: number;
  revision: string;
  tid: string;
  timestamp: string;
  displaytitle: string;
}

/** MediaWiki's wfUrlencode: percent-encoding that keeps titles readable in URLs. */
export function wikiUrlencode(s: string): string {
  return encodeURIComponent(s).replace(/%(?:3B|40|24|21|2A|28|29|2C|2F|7E|3A)/gi, (m) => decodeURIComponent(m));
}

/** Without siteinfo: split `Ns:Rest` only when the HTML says the page is not in the main namespace. */
function titleWithoutSite(text: string, ns: number): Title {
  const dbKey = text.replace(/ /g, '_');
  const colon = dbKey.indexOf(':');
  const key = ns !== 0 && colon > 0 ? dbKey.slice(colon + 1) : dbKey;
  return { namespace: ns, dbKey: key, prefixedDbKey: dbKey, prefixedText: dbKey.replace(/_/g, ' '), fragment: undefined };
}

function isoSeconds(ts: string | undefined): string {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function pageIdentity(page: PageAnalysis, meta: DeriveMeta): PageIdentity {
  const site = meta.site;
  const rawTitle = meta.title ?? page.title;
  const ns = page.namespace ?? 0;
  let title: Title;
  if (site) {
    try {
      title = normalizeTitle(rawTitle, site);
    } catch {
      title = titleWithoutSite(rawTitle, ns);
    }
  } else {
    title = titleWithoutSite(rawTitle, ns);
  }
  const namespaceText = site?.namespaces.get(title.namespace)?.name ?? (title.namespace === 0 ? '' : title.prefixedText.slice(0, title.prefixedText.indexOf(':')));
  return {
    title,
    namespaceText,
    lang: meta.lang ?? site?.lang ?? page.lang ?? 'en',
    dir: meta.dir ?? page.dir ?? site?.dir ?? 'ltr',
    pageid: meta.pageid ?? page.pageid ?? 0,
    revision: String(meta.revision ?? page.revision ?? '0'),
    tid: meta.tid ?? page.tid ?? '',
    timestamp: isoSeconds(meta.timestamp ?? page.modified),
    displaytitle: meta.displaytitle ?? title.prefixedText,
  };
}

function talkTitle(id: PageIdentity, site: SiteInfo | undefined): string {
  const { title } = id;
  if (title.namespace % 2 === 1 || title.namespace < 0) return title.prefixedDbKey;
  const talkNs = site?.namespaces.get(title.namespace + 1)?.name ?? (title.namespace === 0 ? 'Talk' : `${id.namespaceText} talk`);
  return `${talkNs.replace(/ /g, '_')}:${title.dbKey}`;
}

export function contentUrls(id: PageIdentity, meta: DeriveMeta): {
  desktop: { page: string; revisions: string; edit: string; talk: string };
  mobile: { page: string; revisions: string; edit: string; talk: string };
} {
  const base = desktopBase(meta);
  // Wikimedia wikis have a mobile domain ({lang}.m.{project}.org); other wikis serve both from one.
  const wm = /^([a-z0-9-]+)\.((?:wikipedia|wiktionary|wikibooks|wikinews|wikiquote|wikisource|wikiversity|wikivoyage|wikimedia|wikidata|mediawiki)\.org)$/.exec(meta.domain);
  const mobileBase = (meta.mobileBaseUrl ?? (wm && wm[1] !== 'm' ? `https://${wm[1]}.m.${wm[2]}` : base)).replace(/\/$/, '');
  const path = meta.articlePath ?? meta.site?.articlePath ?? '/wiki/$1';
  const url = (b: string, t: string, query = ''): string => b + path.replace('$1', wikiUrlencode(t)) + query;
  const page = id.title.prefixedDbKey;
  const talk = talkTitle(id, meta.site);
  const special = (meta.site?.namespaces.get(-1)?.name ?? 'Special').replace(/ /g, '_');
  return {
    desktop: { page: url(base, page), revisions: url(base, page, '?action=history'), edit: url(base, page, '?action=edit'), talk: url(base, talk) },
    mobile: { page: url(mobileBase, page), revisions: url(mobileBase, `${special}:History/${page}`), edit: url(mobileBase, page, '?action=edit'), talk: url(mobileBase, talk) },
  };
}

/** The wiki's own base URL: configured, else the siteinfo server, else https://{domain}. */
function desktopBase(meta: DeriveMeta): string {
  const server = meta.site?.server;
  const fromSite = server ? (server.startsWith('//') ? `https:${server}` : server) : undefined;
  return (meta.baseUrl ?? fromSite ?? `https://${meta.domain}`).replace(/\/$/, '');
}

function absolute(src: string, meta: DeriveMeta): string {
  if (src.startsWith('//')) return `https:${src}`;
  if (/^https?:\/\//.test(src)) return src;
  const base = desktopBase(meta);
  return src.startsWith('/') ? base + src : `${base}/${src}`;
}

/** The original file's URL and a thumbnail of `width` px (MediaWiki's thumb URL scheme). */
export function imageRefs(page: PageAnalysis, meta: DeriveMeta, widths: number[]): { original: ImageRef; thumbs: Map<number, ImageRef> } | undefined {
  const img = page.image;
  if (!img) return undefined;
  const src = absolute(img.src, meta);
  // .../thumb/d/d9/Name.jpg/260px-Name.jpg → .../d/d9/Name.jpg
  const m = /^(.*)\/thumb(\/[0-9a-f]\/[0-9a-f]{2}\/([^/]+))\/[^/]*\d+px-[^/]+$/.exec(src);
  const originalUrl = m ? m[1]! + m[2]! : src;
  const original: ImageRef = { source: originalUrl, width: img.fileWidth, height: img.fileHeight };
  const thumbs = new Map<number, ImageRef>();
  for (const w of widths) {
    // Bitmaps are never scaled up; drawings (SVG) render at any width.
    if (!m || (w >= img.fileWidth && !img.drawing)) {
      thumbs.set(w, original);
      continue;
    }
    const name = m[3]!;
    const thumbName = `${w}px-${name}${img.drawing && !/\.png$/i.test(name) ? '.png' : ''}`;
    thumbs.set(w, { source: `${m[1]}/thumb${m[2]}/${thumbName}`, width: w, height: Math.round((img.fileHeight * w) / img.fileWidth) });
  }
  return { original, thumbs };
}
