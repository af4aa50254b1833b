// Parsoid HTML helpers and the content types of the stored representations: title path
// segments, public URLs of resources, the render id meta, redirect targets.
import { PROFILE_BASE } from '../origins/mediawiki/adapter.ts';

/** Content type of Parsoid HTML of a spec version (the version the render declares). */
export const htmlType = (version: string) => `text/html; charset=utf-8; profile="${PROFILE_BASE}${version}"`;
/** For renders that declare no version (the oldest profile Cascade knows). */
export const HTML_TYPE = htmlType('2.1.0');
export const SUMMARY_TYPE = 'application/json; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/Summary/1.5.0"';
export const MOBILE_TYPE = 'application/json; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/mobile-sections/0.14.5"';
export const MOBILE_HTML_TYPE = 'text/html; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/Mobile-HTML/1.2.2"';

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

const BODY_RE = /<body\b[^>]*>([\s\S]*)<\/body\s*>/i;

/** The inner HTML of a document's body (`body_only`, as RESTBase answers); a fragment stays as it is. */
export function bodyInner(html: string): string {
  const m = BODY_RE.exec(html);
  return m ? m[1] : html;
}
