// A wiki's siteinfo (action=query&meta=siteinfo&siprop=general|namespaces|namespacealiases
// [|specialpagealiases]) compiled once into lookup tables: title normalization runs on every
// request, so nothing here is recomputed per title.
import { convertByteClassToUnicodeClass } from './byteclass.ts';
import { BoundedMap } from '../util/bounded-map.ts';

export type CaseRule = 'first-letter' | 'case-sensitive';

export interface NamespaceInfo {
  id: number;
  /** Localised name, with spaces ('' for the main namespace). */
  name: string;
  /** Canonical (English) name, when the wiki declares one. */
  canonical?: string;
  case: CaseRule;
  subpages: boolean;
  content: boolean;
}

export interface SiteInfo {
  lang: string;
  /** Text direction of the content language. */
  dir: 'ltr' | 'rtl';
  case: CaseRule;
  legalTitleChars: string;
  mainPage: string;
  siteName: string;
  /** e.g. `//en.wikipedia.org` or `https://wiki.example`. */
  server: string;
  /** e.g. `/wiki/$1`. */
  articlePath: string;
  namespaces: ReadonlyMap<number, NamespaceInfo>;
  /** Upper-cased names, canonical names and aliases (spaces, not underscores) → namespace id. */
  namespaceIndex: ReadonlyMap<string, number>;
  /** Upper-cased special page alias → the page's preferred local name. */
  specialPageAliases: ReadonlyMap<string, string>;
  /** Matches a character or sequence that is not allowed in a title. */
  invalidTitleRegex: RegExp;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

/** formatversion=1 marks booleans by the presence of an empty string; 2 uses true/false. */
function flag(v: unknown): boolean {
  return v === true || v === '';
}

/** The key used for case-insensitive namespace and alias lookups. */
export function namespaceKey(name: string): string {
  return name.replace(/_/g, ' ').toUpperCase();
}

// Keyed by a wiki's legal-title characters: few distinct values, bounded all the same.
const invalidRegexCache = new BoundedMap<string, RegExp>({ maxEntries: 64 });

function invalidTitleRegex(legal: string): RegExp {
  let re = invalidRegexCache.get(legal);
  if (!re) {
    re = new RegExp(
      `[^${convertByteClassToUnicodeClass(legal)}]` +
        // Percent-encoding sequences and character references cannot round-trip through links.
        '|%[0-9A-Fa-f]{2}' +
        '|&[A-Za-z0-9\\u0080-\\uFFFF]+;' +
        '|&#[0-9]+;' +
        '|&#x[0-9A-Fa-f]+;',
    );
    invalidRegexCache.set(legal, re);
  }
  return re;
}

const DEFAULT_LEGAL = ' %!"$&\'()*,\\-.\\/0-9:;=?@A-Z\\\\^_`a-z~\\x80-\\xFF+';

/**
 * Compiles a siteinfo response (formatversion 1 or 2; the whole response or its `query`
 * member). Throws TypeError when the namespaces are missing.
 */
export function parseSiteinfo(json: unknown): SiteInfo {
  const root = isObject(json) && isObject(json.query) ? json.query : json;
  if (!isObject(root) || !isObject(root.namespaces)) {
    throw new TypeError('siteinfo: expected an object with `namespaces` (siprop=general|namespaces|namespacealiases)');
  }
  const general = isObject(root.general) ? root.general : {};
  const siteCase: CaseRule = general.case === 'case-sensitive' ? 'case-sensitive' : 'first-letter';

  const namespaces = new Map<number, NamespaceInfo>();
  const index = new Map<string, number>();
  const nsList = Object.values(root.namespaces).filter(isObject);
  for (const ns of nsList) {
    const id = Number(ns.id);
    if (!Number.isInteger(id)) continue;
    const name = str(ns.name, str(ns['*']));
    const canonical = typeof ns.canonical === 'string' ? ns.canonical : undefined;
    namespaces.set(id, {
      id,
      name,
      ...(canonical !== undefined ? { canonical } : {}),
      case: ns.case === 'case-sensitive' ? 'case-sensitive' : ns.case === 'first-letter' ? 'first-letter' : siteCase,
      subpages: flag(ns.subpages),
      content: flag(ns.content),
    });
  }
  // Localised names win over canonical names, which win over aliases (as in MediaWiki).
  for (const ns of namespaces.values()) if (ns.name !== '' && !index.has(namespaceKey(ns.name))) index.set(namespaceKey(ns.name), ns.id);
  for (const ns of namespaces.values()) if (ns.canonical && !index.has(namespaceKey(ns.canonical))) index.set(namespaceKey(ns.canonical), ns.id);
  const aliases = Array.isArray(root.namespacealiases) ? root.namespacealiases.filter(isObject) : [];
  for (const a of aliases) {
    const alias = str(a.alias, str(a['*']));
    const id = Number(a.id);
    if (alias !== '' && namespaces.has(id) && !index.has(namespaceKey(alias))) index.set(namespaceKey(alias), id);
  }
  if (!namespaces.has(0)) namespaces.set(0, { id: 0, name: '', case: siteCase, subpages: false, content: true });

  const special = new Map<string, string>();
  const spAliases = Array.isArray(root.specialpagealiases) ? root.specialpagealiases.filter(isObject) : [];
  for (const sp of spAliases) {
    const list = Array.isArray(sp.aliases) ? sp.aliases.filter((x): x is string => typeof x === 'string') : [];
    if (list.length === 0) continue;
    for (const alias of list) {
      const key = alias.toUpperCase();
      if (!special.has(key)) special.set(key, list[0]!);
    }
  }

  const legal = str(general.legaltitlechars, DEFAULT_LEGAL);
  return {
    lang: str(general.lang, 'en'),
    dir: flag(general.rtl) ? 'rtl' : 'ltr',
    case: siteCase,
    legalTitleChars: legal,
    mainPage: str(general.mainpage, 'Main Page'),
    siteName: str(general.sitename),
    server: str(general.server),
    articlePath: str(general.articlepath, '/wiki/$1'),
    namespaces,
    namespaceIndex: index,
    specialPageAliases: special,
    invalidTitleRegex: invalidTitleRegex(legal),
  };
}
