// Mobile sections (GET /page/mobile-sections{,-lead,-remaining}/{title}) from Parsoid HTML.
import { analyzePage, type PageAnalysis } from './analyze.ts';
import { imageRefs, pageIdentity } from './page.ts';
import type { DeriveMeta, MobileLead, MobileSection, MobileSections } from './types.ts';

const LEAD_IMAGE_WIDTHS = [320, 640, 800, 1024];

/** Derives the lead and the remaining sections from Parsoid HTML (or an analysis of it). */
export function deriveMobileSections(html: string | PageAnalysis, meta: DeriveMeta): MobileSections {
  const page = typeof html === 'string' ? analyzePage(html, { linkPrefix: linkPrefix(meta) }) : html;
  const id = pageIdentity(page, meta);
  const description = meta.description ?? page.shortDescription;
  const images = imageRefs(page, meta, LEAD_IMAGE_WIDTHS);
  const [lead, ...rest] = page.sections;
  const geo = meta.coordinates ?? page.coordinates;

  const leadOut: MobileLead = {
    ns: id.title.namespace,
    id: id.pageid,
    revision: id.revision,
    lastmodified: id.timestamp,
    ...(meta.lastmodifier ? { lastmodifier: meta.lastmodifier } : {}),
    displaytitle: id.displaytitle,
    normalizedtitle: id.title.prefixedText,
    ...(meta.wikibase_item ? { wikibase_item: meta.wikibase_item } : {}),
    ...(description ? { description, description_source: meta.description !== undefined ? (meta.description_source ?? 'central') : 'local' } : {}),
    protection: meta.protection ?? {},
    editable: meta.editable ?? true,
    languagecount: meta.languagecount ?? 0,
    ...(images && page.image
      ? { image: { file: page.image.file, urls: Object.fromEntries([...images.thumbs].map(([w, ref]) => [String(w), ref.source])) } }
      : {}),
    ...(page.hatnotes.length ? { hatnotes: page.hatnotes } : {}),
    ...(page.issues.length ? { issues: page.issues } : {}),
    ...(geo ? { geo: { latitude: geo.lat, longitude: geo.lon } } : {}),
    sections: [{ id: 0, text: lead?.html ?? '' }],
  };
  const remaining: MobileSection[] = rest.map((s) => ({ id: s.id, text: s.html, toclevel: Math.max(1, s.level - 1), line: s.line, anchor: s.anchor }));
  markReferenceSections(remaining);
  // The lead carries the whole table of contents, as the mobile content service's does.
  for (const s of remaining) leadOut.sections.push({ id: s.id, toclevel: s.toclevel, anchor: s.anchor, line: s.line });
  return { lead: leadOut, remaining: { sections: remaining } };
}

// What the mobile content service looks for: Cite's list (`mw-references`, also named by
// Parsoid's `mw:Extension/references`) or a {{refbegin}} bibliography.
const REFERENCE_LIST = /class="(?:[^"]*\s)?(?:mw-references|refbegin)\b|typeof="(?:[^"]*\s)?mw:Extension\/references\b/;

/**
 * Marks every section of a top-level section (the page's highest heading level with its
 * subsections) in which a reference list appears, as the mobile content service does: "Notes"
 * and "References" both are when each holds a list; "See also" is not.
 */
export function markReferenceSections(sections: MobileSection[]): void {
  const top = Math.min(...sections.map((s) => s.toclevel));
  let start = 0;
  let found = false;
  const close = (end: number) => {
    if (found) for (let i = start; i < end; i++) sections[i]!.isReferenceSection = true;
  };
  sections.forEach((s, i) => {
    if (s.toclevel === top) {
      close(i);
      start = i;
      found = false;
    }
    if (REFERENCE_LIST.test(s.text)) found = true;
  });
  close(sections.length);
}

/** Links to other pages as the wiki's article path (`/wiki/Foo`). */
export function linkPrefix(meta: DeriveMeta): string {
  const path = meta.articlePath ?? meta.site?.articlePath ?? '/wiki/$1';
  return path.includes('$1') ? path.slice(0, path.indexOf('$1')) : '/wiki/';
}
