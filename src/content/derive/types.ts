// Shapes of the derived representations, as the public Wikimedia REST API serves them
// (../shared/corpora/golden/summary-Tokyo.json, mobile-sections-Frankenstein.json).
import type { SiteInfo } from '../../titles/index.ts';

/** What the HTML cannot tell; the endpoint knows it from the store and the origin. */
export interface DeriveMeta {
  /** The wiki's domain, e.g. `en.wikipedia.org`. */
  domain: string;
  /** Page title (any spelling: normalized through `site` when given). Default: the HTML `<title>`. */
  title?: string;
  /** Compiled siteinfo of the domain: localized namespace names, talk pages, language, main page. */
  site?: SiteInfo;
  pageid?: number;
  revision?: string | number;
  /** Render id (`tid`); default the HTML's `mw:TimeUuid`. */
  tid?: string;
  /** Revision timestamp (ISO 8601); default the HTML's `dc:modified`. */
  timestamp?: string;
  /** Content language; default `site.lang`, then the body's `lang`. */
  lang?: string;
  dir?: 'ltr' | 'rtl';
  /** Display title HTML (from DISPLAYTITLE); default the title text. */
  displaytitle?: string;
  /** Description (e.g. from Wikidata) when known; overrides the page's short description. */
  description?: string;
  description_source?: 'local' | 'central';
  wikibase_item?: string;
  /** The page image as the origin's PageImages reports it (overrides the HTML's first image in the summary). */
  thumbnail?: ImageRef;
  originalimage?: ImageRef;
  /** Primary coordinates from the origin (GeoData); overrides the HTML's `#coordinates`. */
  coordinates?: { lat: number; lon: number };
  /** Who made the latest revision (the mobile content service's shape). */
  lastmodifier?: { user?: string; anon?: boolean; gender: string };
  /** Page protection, e.g. `{ edit: ['autoconfirmed'] }`. */
  protection?: Record<string, string[]>;
  /** Whether the caller may edit; default true (a public wiki). */
  editable?: boolean;
  languagecount?: number;
  isMainPage?: boolean;
  /** Desktop base URL; default the siteinfo `server` (https), then `https://{domain}`. */
  baseUrl?: string;
  /** Mobile base URL; default `https://{lang}.m.{project}.org` for Wikimedia domains, else the desktop base. */
  mobileBaseUrl?: string;
  /** Article path with `$1`; default `site.articlePath`, then `/wiki/$1`. */
  articlePath?: string;
}

export interface ImageRef {
  source: string;
  width: number;
  height: number;
}

export interface Summary {
  type: 'standard' | 'disambiguation' | 'mainpage' | 'no-extract';
  title: string;
  displaytitle: string;
  namespace: { id: number; text: string };
  wikibase_item?: string;
  titles: { canonical: string; normalized: string; display: string };
  pageid: number;
  thumbnail?: ImageRef;
  originalimage?: ImageRef;
  lang: string;
  dir: 'ltr' | 'rtl';
  revision: string;
  tid: string;
  timestamp: string;
  description?: string;
  description_source?: 'local' | 'central';
  coordinates?: { lat: number; lon: number };
  content_urls: {
    desktop: { page: string; revisions: string; edit: string; talk: string };
    mobile: { page: string; revisions: string; edit: string; talk: string };
  };
  extract: string;
  extract_html: string;
}

export interface LeadImage {
  file: string;
  urls: Record<string, string>;
}

export interface MobileLead {
  ns: number;
  id: number;
  revision: string;
  lastmodified: string;
  lastmodifier?: { user?: string; anon?: boolean; gender: string };
  displaytitle: string;
  normalizedtitle: string;
  wikibase_item?: string;
  description?: string;
  description_source?: 'local' | 'central';
  protection: Record<string, string[]>;
  editable: boolean;
  languagecount: number;
  image?: LeadImage;
  hatnotes?: string[];
  issues?: { html: string; text: string }[];
  geo?: { latitude: number; longitude: number };
  /** Section 0 with its text, then every other section as a table-of-contents entry. */
  sections: [{ id: number; text: string }, ...TocEntry[]];
}

/** A section in the lead's table of contents (the mobile content service's key order). */
export interface TocEntry {
  id: number;
  toclevel: number;
  anchor: string;
  line: string;
}

export interface MobileSection {
  id: number;
  text: string;
  toclevel: number;
  line: string;
  anchor: string;
  /** Set on the sections of a top-level section that holds a reference list. */
  isReferenceSection?: boolean;
}

export interface MobileSections {
  lead: MobileLead;
  remaining: { sections: MobileSection[] };
}
