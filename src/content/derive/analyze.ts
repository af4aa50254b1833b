// One streaming pass over Parsoid HTML (htmlparser2, entities left encoded so that text and
// attribute values can be written back as they came) collecting everything the summary and the
// mobile sections need: head metadata, sections with their headings, the lead's first
// meaningful paragraph, lead image, hatnotes, issues, short description and coordinates.
import { Parser } from 'htmlparser2';
import { decodeHTML, decodeHTMLAttribute } from 'entities';

/** An empty span carrying only an id (Parsoid's fallback anchor, with or without typeof). */
const FALLBACK_ANCHOR = /<span\b(?=[^>]*\bid=)(?:(?!\b(?:class|style|about|data-mw)=)[^>])*><\/span>/g;

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
const HEADING = /^h([1-6])$/;
// Parsoid's generated element ids (mwAQ, mwBA, …) mean nothing to readers.
const PARSOID_ID = /^mw[A-Za-z0-9_-]{1,8}$/;

// Summary extract: elements removed with their content, and the only tags kept.
const EXTRACT_DROP_TAGS = new Set(['math', 'table', 'div', 'input', 'script', 'style', 'figure', 'figcaption', 'audio', 'video', 'object', 'noscript']);
const EXTRACT_DROP_CLASSES = ['mw-ref', 'reference', 'noexcerpt', 'nomobile', 'noprint', 'sortkey', 'gallery', 'mw-empty-elt', 'mwe-math-element'];
const EXTRACT_KEEP_TAGS = new Set(['b', 'i', 'em', 'strong', 'sub', 'sup', 'small', 'br', 's', 'u', 'q', 'abbr', 'bdi', 'var', 'code']);

// Images that are decoration, not the page's picture.
const IMAGE_SKIP_CLASSES = ['noviewer', 'metadata', 'ambox', 'mbox-image', 'navbox', 'hatnote', 'sistersitebox', 'mw-kartographer-map'];

export interface SectionInfo {
  /** Order of appearance: 0 for the lead, then 1, 2, … for sections with a heading. */
  id: number;
  /** Heading level (2 for `<h2>`), 0 for the lead. */
  level: number;
  /** Heading content as HTML. */
  line: string;
  /** Heading id (the URL fragment). */
  anchor: string;
  /** Section content without its heading and without nested sections. */
  html: string;
}

export interface LeadImageInfo {
  /** File page name without namespace, e.g. `Collage_of_Nine_Dogs.jpg`. */
  file: string;
  /** src of the rendered image as in the HTML (often protocol-relative). */
  src: string;
  /** Size of the original file. */
  fileWidth: number;
  fileHeight: number;
  /** Whether the original is a drawing (SVG): its thumbnails are PNGs. */
  drawing: boolean;
}

export interface PageAnalysis {
  /** `<title>` text (decoded). */
  title: string;
  /** mw:pageNamespace, mw:pageId, revision from the `about` URL, mw:TimeUuid, dc:modified. */
  namespace?: number;
  pageid?: number;
  revision?: string;
  tid?: string;
  modified?: string;
  specVersion?: string;
  lang?: string;
  dir?: 'ltr' | 'rtl';
  disambiguation: boolean;
  /** Text of the page's short description, when it has one. */
  shortDescription?: string;
  /** Title coordinates (`#coordinates .geo`). */
  coordinates?: { lat: number; lon: number };
  image?: LeadImageInfo;
  /** Lead hatnotes and issue boxes (only collected with `sections`: they come out of the lead text). */
  hatnotes: string[];
  issues: { html: string; text: string }[];
  /** First meaningful lead paragraph, cleaned for the summary (`<p>…</p>`), or ''. */
  extractHtml: string;
  /** The lead (id 0) first, then every section with a heading, in document order. */
  sections: SectionInfo[];
}

interface Frame {
  name: string;
  classes: string;
  /** Real Parsoid section (not a pseudo-section with a negative id). */
  section?: SectionBuilder;
  /** Heading of the enclosing section: content goes to its `line`. */
  heading?: SectionBuilder;
  /** Not written to the mobile output (with content). */
  drop?: boolean;
  /** Tag written to the mobile output; false when the element is unwrapped. */
  written: boolean;
  /** Start of a hatnote/issue capture in the section's chunk list. */
  capture?: { kind: 'hatnote' | 'issue'; start: number; text: string[] };
  /** Inside the extract paragraph: how this element was written there. */
  extract?: 'keep' | 'unwrap' | 'drop' | 'root';
  skipImages?: boolean;
  shortDesc?: boolean;
  coordinates?: boolean;
  geo?: boolean;
}

interface SectionBuilder {
  id: number;
  level: number;
  chunks: string[];
  line: string[];
  anchor: string;
  headingSeen: boolean;
  hasContentBeforeHeading: boolean;
}

function hasClass(classes: string, names: readonly string[]): boolean {
  if (classes === '') return false;
  const list = classes.split(/\s+/);
  return names.some((n) => list.includes(n));
}

function escapeAttr(raw: string): string {
  return raw.replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** Removes tags and decodes entities. */
export function htmlToText(html: string): string {
  return decodeHTML(html.replace(/<[^>]*>/g, ''));
}

export interface AnalyzeOptions {
  /** Build the mobile sections' HTML (skip it when only the summary is wanted). */
  sections?: boolean;
  /** Path prefix that replaces Parsoid's `./` in links (default `/wiki/`). */
  linkPrefix?: string;
}

export function analyzePage(html: string, options: AnalyzeOptions = {}): PageAnalysis {
  const wantSections = options.sections !== false;
  const linkPrefix = options.linkPrefix ?? '/wiki/';
  const out: PageAnalysis = { title: '', disambiguation: false, hatnotes: [], issues: [], extractHtml: '', sections: [] };
  const stack: Frame[] = [];
  const built: SectionBuilder[] = [];
  let inHead = false;
  let inTitle = false;
  let inBody = false;
  let current: SectionBuilder | undefined; // innermost real section
  let extract: string[] | undefined; // the paragraph being captured for the summary
  let extractDone = false;
  let shortDesc: string[] | undefined;
  let geoText: string[] | undefined;
  let nextSectionId = 1;

  const newSection = (level: number, id: number): SectionBuilder => {
    const s: SectionBuilder = { id, level, chunks: [], line: [], anchor: '', headingSeen: false, hasContentBeforeHeading: false };
    built.push(s);
    return s;
  };

  // Content outside any <section> (non-Parsoid HTML) belongs to the lead.
  const target = (): SectionBuilder => {
    if (!current) current = built.find((s) => s.id === 0) ?? newSection(0, 0);
    return current;
  };

  const emit = (chunk: string, frameIndex = stack.length - 1): void => {
    if (!wantSections) return;
    for (let i = frameIndex; i >= 0; i--) {
      const f = stack[i]!;
      if (f.drop) return;
      if (f.heading) {
        f.heading.line.push(chunk);
        return;
      }
      if (f.section) break;
    }
    target().chunks.push(chunk);
  };

  const inDropped = (): boolean => stack.some((f) => f.drop);

  const parser = new Parser(
    {
      onopentag(name, attribs) {
        const classes = attribs.class ?? '';
        const parent = stack[stack.length - 1];
        const frame: Frame = { name, classes, written: false };

        if (name === 'head') inHead = true;
        if (name === 'html' && attribs.about) {
          const m = /revision\/(\d+)/.exec(attribs.about);
          if (m) out.revision = m[1];
        }
        if (inHead) {
          if (name === 'title') inTitle = true;
          if (name === 'meta' && attribs.property) {
            const v = decodeHTMLAttribute(attribs.content ?? '');
            switch (attribs.property) {
              case 'mw:pageNamespace': out.namespace = Number(v); break;
              case 'mw:pageId': out.pageid = Number(v); break;
              case 'mw:TimeUuid': out.tid = v; break;
              case 'dc:modified': out.modified = v; break;
              case 'mw:html:version': out.specVersion = v; break;
            }
          }
          stack.push(frame);
          return;
        }
        if (name === 'body') {
          inBody = true;
          if (attribs.lang) out.lang = attribs.lang;
          if (attribs.dir === 'rtl' || attribs.dir === 'ltr') out.dir = attribs.dir;
          stack.push(frame);
          return;
        }
        if (!inBody) {
          stack.push(frame);
          return;
        }

        if ((attribs.property ?? attribs.rel ?? '').includes('mw:PageProp/disambiguation')) out.disambiguation = true;

        // Sections: a real section opens a new builder; pseudo-sections (negative ids) are content.
        const sectionId = name === 'section' ? attribs['data-mw-section-id'] : undefined;
        if (sectionId !== undefined && Number(sectionId) >= 0) {
          const isLead = Number(sectionId) === 0 && !built.some((s) => s.id === 0);
          frame.section = isLead ? newSection(0, 0) : newSection(0, -1);
          current = frame.section;
          stack.push(frame);
          return;
        }

        // The first heading directly inside a section names it.
        const h = HEADING.exec(name);
        if (h && parent?.section && !parent.section.headingSeen && parent.section.id !== 0) {
          const s = parent.section;
          s.headingSeen = true;
          s.level = Number(h[1]);
          s.id = nextSectionId++;
          s.anchor = decodeHTMLAttribute(attribs.id ?? '');
          frame.heading = s;
          stack.push(frame);
          return;
        }

        const dropped = inDropped();

        // Summary extract: the lead's first paragraph with text in it.
        const leadChild = parent?.section?.id === 0 || (parent?.name === 'body' && (current === undefined || current.id === 0));
        if (!extractDone && !extract && name === 'p' && leadChild && !dropped) {
          extract = ['<p>'];
          frame.extract = 'root';
        } else if (extract) {
          const pf = parent?.extract;
          if (pf === 'drop') frame.extract = 'drop';
          else if (
            EXTRACT_DROP_TAGS.has(name) ||
            hasClass(classes, EXTRACT_DROP_CLASSES) ||
            attribs.id === 'coordinates' ||
            // A link to a template is a missing template's placeholder, never prose.
            (name === 'a' && (attribs.href ?? '').startsWith('./Template:')) ||
            /display:\s*none/.test(attribs.style ?? '') ||
            /\bmw:PageProp|\bmw:Extension\/ref\b/.test(attribs.typeof ?? '')
          ) frame.extract = 'drop';
          else if (EXTRACT_KEEP_TAGS.has(name)) {
            frame.extract = 'keep';
            extract.push(name === 'br' ? '<br/>' : `<${name}>`);
          } else frame.extract = 'unwrap';
        }

        // Lead extras.
        if (wantSections && current?.id === 0 && !dropped) {
          if (name === 'div' && hasClass(classes, ['hatnote']) && !stack.some((f) => f.capture)) {
            frame.capture = { kind: 'hatnote', start: target().chunks.length, text: [] };
          } else if ((name === 'table' || name === 'div') && hasClass(classes, ['ambox']) && !stack.some((f) => f.capture)) {
            frame.capture = { kind: 'issue', start: target().chunks.length, text: [] };
          }
        }
        if (hasClass(classes, ['shortdescription']) && out.shortDescription === undefined && !shortDesc) {
          frame.shortDesc = true;
          shortDesc = [];
        }
        if (attribs.id === 'coordinates') frame.coordinates = true;
        if (name === 'span' && hasClass(classes, ['geo']) && !out.coordinates && !geoText && stack.some((f) => f.coordinates)) {
          frame.geo = true;
          geoText = [];
        }
        if (hasClass(classes, IMAGE_SKIP_CLASSES)) frame.skipImages = true;
        if (name === 'img' && !out.image && current?.id === 0 && !stack.some((f) => f.skipImages) && !hasClass(classes, IMAGE_SKIP_CLASSES)) {
          const fw = Number(attribs['data-file-width'] ?? attribs.width ?? 0);
          const fh = Number(attribs['data-file-height'] ?? attribs.height ?? 0);
          const shown = Number(attribs.width ?? fw);
          const resource = decodeHTMLAttribute(attribs.resource ?? '');
          const src = decodeHTMLAttribute(attribs.src ?? '');
          if (src && fw > 0 && fh > 0 && shown >= 64) {
            const file = resource ? resource.replace(/^\.\//, '').replace(/^[^:]*:/, '') : decodeURIComponent(src.replace(/\/\d+px-[^/]*$/, '').replace(/.*\//, ''));
            out.image = { file, src, fileWidth: fw, fileHeight: fh, drawing: attribs['data-file-type'] === 'drawing' };
          }
        }

        // Mobile output: leave out page properties and metadata, trim Parsoid's attributes.
        if (name === 'meta' || name === 'link' || name === 'script') frame.drop = true;
        if (!frame.drop && !dropped && wantSections) {
          let tag = `<${name}`;
          for (const [k, v] of Object.entries(attribs)) {
            if (k === 'data-mw' || k === 'data-parsoid' || k === 'about' || k === 'typeof') continue;
            if (k === 'id' && PARSOID_ID.test(v)) continue;
            if (k === 'rel' && v.startsWith('mw:')) continue;
            if (k === 'href' && v.startsWith('./')) {
              tag += ` href="${escapeAttr(linkPrefix + v.slice(2))}"`;
              continue;
            }
            tag += v === '' ? ` ${k}=""` : ` ${k}="${escapeAttr(v)}"`;
          }
          tag += VOID.has(name) ? '/>' : '>';
          frame.written = true;
          emit(tag);
        }
        stack.push(frame);
      },

      ontext(raw) {
        if (inTitle) {
          out.title += raw;
          return;
        }
        if (!inBody) return;
        if (extract) {
          const top = stack[stack.length - 1];
          if (top?.extract !== 'drop') extract.push(raw);
        }
        if (shortDesc) shortDesc.push(raw);
        if (geoText) geoText.push(raw);
        for (const f of stack) if (f.capture) f.capture.text.push(raw);
        emit(raw);
      },

      onclosetag(name) {
        const frame = stack.pop();
        if (!frame) return;
        if (name === 'head') inHead = false;
        if (name === 'title') inTitle = false;
        if (name === 'body') inBody = false;

        if (frame.section) {
          // Back to the enclosing section.
          current = undefined;
          for (let i = stack.length - 1; i >= 0; i--) {
            if (stack[i]!.section) {
              current = stack[i]!.section;
              break;
            }
          }
          return;
        }
        if (frame.heading) return;

        if (frame.written && !VOID.has(name)) emit(`</${name}>`);

        if (frame.extract && extract) {
          if (frame.extract === 'keep' && name !== 'br') extract.push(`</${name}>`);
          if (frame.extract === 'root') {
            extract.push('</p>');
            const cleaned = cleanExtract(extract.join(''));
            extract = undefined;
            if (htmlToText(cleaned).trim() !== '') {
              out.extractHtml = cleaned;
              extractDone = true;
            }
          }
        }
        if (frame.capture) {
          const s = target();
          const captured = s.chunks.splice(frame.capture.start);
          // Without the wrapper element itself: its opening and closing tags.
          const inner = captured.slice(1, -1).join('');
          const text = decodeHTML(frame.capture.text.join('')).replace(/\s+/g, ' ').trim();
          if (frame.capture.kind === 'hatnote') out.hatnotes.push(inner);
          else out.issues.push({ html: inner, text });
        }
        if (frame.shortDesc && shortDesc) {
          out.shortDescription = decodeHTML(shortDesc.join('')).replace(/\s+/g, ' ').trim();
          shortDesc = undefined;
        }
        if (frame.geo && geoText) {
          const m = /(-?\d+(?:\.\d+)?)\s*[;,]\s*(-?\d+(?:\.\d+)?)/.exec(decodeHTML(geoText.join('')));
          if (m) out.coordinates = { lat: Number(m[1]), lon: Number(m[2]) };
          geoText = undefined;
        }
      },
    },
    { decodeEntities: false, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.end(html);

  out.title = decodeHTML(out.title).trim();
  for (const s of built) {
    if (s.id === 0) {
      out.sections.unshift({ id: 0, level: 0, line: '', anchor: '', html: s.chunks.join('') });
    } else if (s.headingSeen) {
      // Parsoid keeps the legacy (.22-escaped) anchor as an empty `mw:FallbackId` span inside the heading.
      const line = s.line.join('').replace(FALLBACK_ANCHOR, '');
      out.sections.push({ id: s.id, level: s.level, line, anchor: s.anchor || htmlToText(line).trim().replace(/ /g, '_'), html: s.chunks.join('') });
    } else if (s.chunks.length > 0) {
      // A section without heading (rare): its content continues the previous section.
      const prev = out.sections[out.sections.length - 1];
      if (prev) prev.html += s.chunks.join('');
    }
  }
  if (!out.sections.some((s) => s.id === 0)) out.sections.unshift({ id: 0, level: 0, line: '', anchor: '', html: '' });
  out.sections.sort((a, b) => a.id - b.id);
  return out;
}

// Parentheticals in the first sentence carry pronunciations, other names and dates: the
// mobile apps' summaries drop those that contain a space (and nested ones), unless the text
// looks like a chemical formula.
const CHEM_FORMULA = /<su[bp]>[0-9+-]{1,3}<\/su[bp]>/;

function removeNestedParentheticals(html: string): string {
  const re = /(\([^()]*)(\([^()]+\))/g;
  let prev: string;
  let cur = html;
  let rounds = 0;
  do {
    prev = cur;
    cur = cur.replace(re, '$1 ');
  } while (cur !== prev && ++rounds < 20);
  return cur;
}

/** Final clean-up of the summary paragraph (after unwanted elements are gone). */
export function cleanExtract(html: string): string {
  let h = html
    // Empty inline elements left after removals.
    .replace(/<(b|i|em|strong|small|sub|sup|s|u|q|abbr|bdi|var|code)>\s*<\/\1>/g, '')
    .replace(/\s+/g, ' ');
  if (!CHEM_FORMULA.test(h)) {
    h = removeNestedParentheticals(h);
    h = h.replace(/( |&nbsp;|&#160;|\u00A0)\([^)]+ [^)]+\)/g, ' ');
    h = h.replace(/（[^）]+[ ：，][^）]+）/g, ' ');
  }
  h = h
    .replace(/\(\)/g, ' ')
    .replace(/ *((?:&nbsp;|\u00A0)+) */g, '$1')
    .replace(/ +(<\/p>)/g, '$1')
    .replace(/(<p>) +/g, '$1')
    .replace(/ +/g, ' ')
    .replace(/( |&nbsp;|\u00A0)([,.!?;:，。])/g, '$2');
  return h;
}
