// Title validation and normalization after MediaWikiTitleCodec::splitTitleString, with the
// conventions of the `mediawiki-title` package (fragment keeps underscores, special page
// aliases resolve to the local name). No interwiki prefixes: every title is local.
import { TitleError } from './errors.ts';
import { sanitizeIP } from './ip.ts';
import { namespaceKey, type SiteInfo } from './siteinfo.ts';
import { ucfirst } from './ucfirst.ts';

const NS_SPECIAL = -1;
const NS_MAIN = 0;
const NS_TALK = 1;
const NS_USER = 2;
const NS_USER_TALK = 3;

export interface Title {
  /** Namespace id. */
  namespace: number;
  /** Title without namespace, underscores for spaces (`X-Men_(film_series)`). */
  dbKey: string;
  /** With the localised namespace name (`User_talk:Foo`); the canonical URL form. */
  prefixedDbKey: string;
  /** Readable form with spaces (`User talk:Foo`). */
  prefixedText: string;
  /** The part after `#`, underscores kept; undefined when there is none. */
  fragment: string | undefined;
}

const BIDI_RE = /[\u200E\u200F\u202A-\u202E]+/g;
const SPACE_RE = /[ _\u00A0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+/g;
const TRIM_RE = /^_+|_+$/g;
const PREFIX_RE = /^(.+?)_*:_*(.*)$/s;
// A lone surrogate is what invalid UTF-8 becomes when it is not already U+FFFD. MediaWiki's
// UtfNormal turns U+FFFE and U+FFFF into U+FFFD too, so they count as invalid UTF-8.
const BAD_UTF16_RE = /[\uFFFD\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// A byte order mark (U+FEFF) is legal to MediaWiki but invisible: `%EF%BB%BFFoo` would be a
// page no link can name apart from `Foo`, and origins disagree on it (some strip it as white
// space). Refused, never passed on.
const INVISIBLE_RE = /\uFEFF/;

function nsIndex(site: SiteInfo, prefix: string): number | undefined {
  return site.namespaceIndex.get(namespaceKey(prefix));
}

function utf8Length(s: string): number {
  // ASCII titles are the common case: their length is their byte length.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

function isRelative(key: string): boolean {
  return (
    key.includes('.') &&
    (key === '.' ||
      key === '..' ||
      key.startsWith('./') ||
      key.startsWith('../') ||
      key.includes('/./') ||
      key.includes('/../') ||
      key.endsWith('/.') ||
      key.endsWith('/..'))
  );
}

function fixSpecialName(key: string, site: SiteInfo): string {
  const slash = key.indexOf('/');
  const name = slash === -1 ? key : key.slice(0, slash);
  const local = site.specialPageAliases.get(name.toUpperCase());
  return local === undefined ? key : local + (slash === -1 ? '' : key.slice(slash));
}

/**
 * Validates and normalizes `input` by the rules of `site`. `defaultNs` applies when the input
 * names no namespace (a leading `:` forces the main namespace). Throws TitleError.
 */
export function normalizeTitle(input: string, site: SiteInfo, defaultNs = NS_MAIN): Title {
  if (typeof input !== 'string') throw new TypeError('title must be a string');
  if (!site.namespaces.has(defaultNs)) throw new RangeError(`unknown default namespace ${defaultNs}`);

  let key = input.replace(BIDI_RE, '').replace(SPACE_RE, '_').replace(TRIM_RE, '');
  if (BAD_UTF16_RE.test(key)) throw new TitleError('title-invalid-utf8', input);
  if (INVISIBLE_RE.test(key)) throw new TitleError('title-invalid-characters', input, { invalid: '\uFEFF' });

  let ns = defaultNs;
  if (key.charCodeAt(0) === 0x3a /* : */) {
    ns = NS_MAIN;
    key = key.slice(1).replace(TRIM_RE, '');
  }
  if (key === '') throw new TitleError('title-invalid-empty', input);

  const m = PREFIX_RE.exec(key);
  if (m) {
    const found = nsIndex(site, m[1]!);
    if (found !== undefined) {
      key = m[2]!;
      ns = found;
      if (ns === NS_TALK) {
        const inner = PREFIX_RE.exec(key);
        if (inner && nsIndex(site, inner[1]!)) throw new TitleError('title-invalid-talk-namespace', input);
      }
    }
  }

  let fragment: string | undefined;
  const hash = key.indexOf('#');
  if (hash !== -1) {
    fragment = key.slice(hash + 1);
    key = key.slice(0, hash).replace(/_+$/, '');
  }

  const bad = site.invalidTitleRegex.exec(key);
  if (bad) throw new TitleError('title-invalid-characters', input, { invalid: bad[0] });
  if (isRelative(key)) throw new TitleError('title-invalid-relative', input);
  if (key.includes('~~~')) throw new TitleError('title-invalid-magic-tilde', input);
  // Titles are stored in 255-byte columns; special pages are never stored and may be longer.
  const maxBytes = ns === NS_SPECIAL ? 512 : 255;
  if (utf8Length(key) > maxBytes) throw new TitleError('title-invalid-too-long', input, { max_bytes: maxBytes });

  const nsInfo = site.namespaces.get(ns)!;
  if (nsInfo.case === 'first-letter') key = ucfirst(key, site.lang);
  if (key === '' && ns !== NS_MAIN) throw new TitleError('title-invalid-empty', input);
  if (ns === NS_USER || ns === NS_USER_TALK) key = sanitizeIP(key);
  if (key.charCodeAt(0) === 0x3a) throw new TitleError('title-invalid-leading-colon', input);
  if (ns === NS_SPECIAL) key = fixSpecialName(key, site);

  const nsName = nsInfo.name.replace(/ /g, '_');
  const prefixedDbKey = ns === NS_MAIN || nsName === '' ? key : `${nsName}:${key}`;
  return {
    namespace: ns,
    dbKey: key,
    prefixedDbKey,
    prefixedText: prefixedDbKey.replace(/_/g, ' '),
    fragment,
  };
}
