// The example wiki's site configuration: namespaces, aliases, case rules and title parsing,
// shaped after a default English MediaWiki so that siteinfo-driven clients treat it as one.

export interface NamespaceInfo {
  id: number;
  name: string;
  canonical?: string;
  subpages: boolean;
  content: boolean;
}

export const SITENAME = 'Example Wiki';

const ns = (id: number, name: string, canonical: string | undefined, subpages: boolean, content = false): NamespaceInfo => ({
  id,
  name,
  ...(canonical === undefined ? {} : { canonical }),
  subpages,
  content,
});

/** Namespaces -2..15 as a default MediaWiki install has them (Project named after the site). */
export const NAMESPACES: NamespaceInfo[] = [
  ns(-2, 'Media', 'Media', false),
  ns(-1, 'Special', 'Special', false),
  ns(0, '', undefined, false, true),
  ns(1, 'Talk', 'Talk', true),
  ns(2, 'User', 'User', true),
  ns(3, 'User talk', 'User talk', true),
  ns(4, SITENAME, 'Project', true),
  ns(5, `${SITENAME} talk`, 'Project talk', true),
  ns(6, 'File', 'File', false),
  ns(7, 'File talk', 'File talk', true),
  ns(8, 'MediaWiki', 'MediaWiki', false),
  ns(9, 'MediaWiki talk', 'MediaWiki talk', true),
  ns(10, 'Template', 'Template', true),
  ns(11, 'Template talk', 'Template talk', true),
  ns(12, 'Help', 'Help', true),
  ns(13, 'Help talk', 'Help talk', true),
  ns(14, 'Category', 'Category', true),
  ns(15, 'Category talk', 'Category talk', true),
];

export const NAMESPACE_ALIASES: { id: number; alias: string }[] = [
  { id: 4, alias: 'WP' },
  { id: 5, alias: 'WT' },
  { id: 6, alias: 'Image' },
  { id: 7, alias: 'Image talk' },
  { id: 10, alias: 'TM' },
];

/** MediaWiki's default $wgLegalTitleChars, as siteinfo reports it. */
export const LEGAL_TITLE_CHARS = ' %!"$&\'()*,\\-.\\/0-9:;=?@A-Z\\\\^_`a-z~\\x80-\\xFF+';

const nsById = new Map(NAMESPACES.map((n) => [n.id, n]));
// Lookup key: lower case, spaces (a prefix is matched case-insensitively, as MediaWiki does).
const nsByName = new Map<string, number>();
for (const n of NAMESPACES) {
  if (n.id === 0) continue;
  nsByName.set(n.name.toLowerCase(), n.id);
  if (n.canonical) nsByName.set(n.canonical.toLowerCase(), n.id);
}
for (const a of NAMESPACE_ALIASES) nsByName.set(a.alias.toLowerCase(), a.id);

export function namespaceName(id: number): string {
  return nsById.get(id)?.name ?? '';
}

export interface WikiTitle {
  ns: number;
  /** DB key without the namespace prefix (underscores). */
  dbKey: string;
  /** Prefixed DB key, e.g. `Template:Infobox_city` (the REST API's `key`). */
  key: string;
  /** Prefixed text form with spaces (the REST API's `title`). */
  text: string;
  /** Fragment after `#`, if any (links only). */
  fragment?: string;
}

// Characters MediaWiki never allows in titles (outside the legal set, plus markup).
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const ILLEGAL = /[<>[\]{}|#\u0000-\u001f\u007f\uE000-\uE0FF]|%[0-9A-Fa-f]{2}|&[A-Za-z0-9\x80-\uFFFF]+;|^\.\.?$|^\.\.?\/|\/\.\.?\/|\/\.\.?$|~~~/;

function ucfirst(s: string): string {
  if (s === '') return s;
  const cp = s.codePointAt(0)!;
  const first = String.fromCodePoint(cp);
  return first.toUpperCase() + s.slice(first.length);
}

/**
 * Parses a title as MediaWiki does for this site: underscores and spaces are one, runs are
 * collapsed, a namespace prefix (or alias, any case) is recognised, the first letter is
 * upper-cased. Returns undefined for invalid titles. `#fragment` is split off.
 */
export function parseTitle(input: string, defaultNs = 0): WikiTitle | undefined {
  let s = input.replace(/[_\s\u00a0\u200e\u200f\u2028\u2029]+/g, ' ').trim();
  let fragment: string | undefined;
  const hash = s.indexOf('#');
  if (hash !== -1) {
    fragment = s.slice(hash + 1).trim();
    s = s.slice(0, hash).trim();
  }
  let nsId = defaultNs;
  if (s.startsWith(':')) {
    s = s.slice(1).trim();
    nsId = 0;
  }
  const colon = s.indexOf(':');
  if (colon > 0) {
    const prefix = s.slice(0, colon).trim().toLowerCase();
    const id = nsByName.get(prefix);
    if (id !== undefined) {
      nsId = id;
      s = s.slice(colon + 1).trim();
    }
  }
  if (s === '' || ILLEGAL.test(s) || Buffer.byteLength(s) > 255) return undefined;
  if (nsId === -1 || nsId === -2) return undefined;
  s = ucfirst(s);
  const dbKey = s.replace(/ /g, '_');
  const prefix = namespaceName(nsId);
  const key = prefix ? `${prefix.replace(/ /g, '_')}:${dbKey}` : dbKey;
  return { ns: nsId, dbKey, key, text: key.replace(/_/g, ' '), ...(fragment ? { fragment } : {}) };
}

/** A link prefix that is neither a namespace nor empty: an interwiki or interlanguage link. */
export function isInterwikiPrefix(target: string): boolean {
  const colon = target.indexOf(':');
  if (colon <= 0) return false;
  const prefix = target.slice(0, colon).trim().toLowerCase();
  if (nsByName.has(prefix)) return false;
  return /^[a-z][a-z0-9-]{0,20}$/.test(prefix);
}

/** Percent-encodes a prefixed DB key for a relative `./Title` href, as Parsoid does. */
export function encodeTitleForHref(key: string): string {
  return encodeURIComponent(key).replace(/%(3A|2C|2F|40|21|24|28|29|2A|3B|27)/g, (_m, h: string) => decodeURIComponent('%' + h));
}

export interface SiteinfoOptions {
  domain: string;
  server: string;
  formatversion: 1 | 2;
  props: string[];
  maxPageId: number;
}

/** `action=query&meta=siteinfo` in MediaWiki's shape. */
export function siteinfo(opts: SiteinfoOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fv1 = opts.formatversion === 1;
  if (opts.props.includes('general')) {
    out.general = {
      mainpage: 'Main Page',
      base: `${opts.server}/wiki/Main_Page`,
      sitename: SITENAME,
      mainpageisdomainroot: false,
      generator: 'MediaWiki 1.43.0 (Cascade example wiki)',
      phpversion: 'n/a',
      dbtype: 'sqlite',
      linkprefixcharset: '',
      linkprefix: '',
      linktrail: '/^([a-z]+)(.*)$/sD',
      legaltitlechars: LEGAL_TITLE_CHARS,
      invalidusernamechars: '@:>=',
      case: 'first-letter',
      lang: 'en',
      fallback: [],
      rtl: false,
      fallback8bitEncoding: 'windows-1252',
      readonly: false,
      writeapi: true,
      maxarticlesize: 2097152,
      timezone: 'UTC',
      timeoffset: 0,
      articlepath: '/wiki/$1',
      scriptpath: '/w',
      script: '/w/index.php',
      variantarticlepath: false,
      server: opts.server,
      servername: opts.domain,
      wikiid: databaseName(opts.domain),
      uploadsenabled: false,
      'max-page-id': opts.maxPageId,
    };
  }
  if (opts.props.includes('namespaces')) {
    const nss: Record<string, unknown> = {};
    for (const n of NAMESPACES) {
      const base: Record<string, unknown> = { id: n.id, case: 'first-letter' };
      if (fv1) {
        base['*'] = n.name;
        if (n.subpages) base.subpages = '';
        if (n.canonical) base.canonical = n.canonical;
        if (n.content) base.content = '';
      } else {
        Object.assign(base, { name: n.name, subpages: n.subpages });
        if (n.canonical) base.canonical = n.canonical;
        Object.assign(base, { content: n.content, nonincludable: false });
      }
      nss[String(n.id)] = base;
    }
    out.namespaces = nss;
  }
  if (opts.props.includes('namespacealiases')) {
    out.namespacealiases = NAMESPACE_ALIASES.map((a) => (fv1 ? { id: a.id, '*': a.alias } : { id: a.id, alias: a.alias }));
  }
  return out;
}

/** The wiki's database name as MediaWiki events carry it (`example.wiki` → `examplewiki`). */
export function databaseName(domain: string): string {
  return domain.replace(/[^a-z0-9]/gi, '').toLowerCase() || 'wiki';
}
