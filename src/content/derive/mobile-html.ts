// Mobile HTML (GET /page/mobile-html/{title}): the page content service's reading HTML, derived
// from stored Parsoid HTML in one streaming pass. The shape follows the mobile content service's
// output (test/diff/results/page_mobile-html-* in mediawiki-services-mobileapps):
//   <html class="[no-editing] [page-protected]"> head with content-language, pcs:locale and
//   mw:pageProtection:* metas → <body> → <div id="pcs" class="mw-parser-output"> → <header> (title,
//   description) → Parsoid's <section data-mw-section-id="N"> nesting, h2 headings wrapped in
//   <div class="pcs-edit-section-header v2"> with an edit link; red links become <span class="new">;
//   data-mw / data-parsoid and Parsoid's generated ids are dropped (not needed for reading).
// The first lead paragraph moves up before the infobox (the page library's LeadIntroductionTransform).
// Not done here (the apps' page library does it client side, or it needs endpoints Cascade does
// not serve): the pagelib CSS/JS references, lazy-loading image placeholders.
import { Parser } from 'htmlparser2';
import { analyzePage } from './analyze.ts';
import { pageIdentity, wikiUrlencode } from './page.ts';
import type { DeriveMeta } from './types.ts';

export const MOBILE_HTML_VERSION = '1.2.2';

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
const PARSOID_ID = /^mw[A-Za-z0-9_-]{1,8}$/;
/** Head elements carried over from the Parsoid document (metadata; no stylesheets or scripts). */
const HEAD_KEEP = new Set(['meta', 'title', 'base', 'link']);
const DROP_ATTRS = new Set(['data-mw', 'data-parsoid']);

interface Frame {
  name: string;
  /** Tag written to close it, or undefined when the element is not written (unwrapped or dropped). */
  closeAs?: string;
  /** Dropped with its content. */
  drop?: boolean;
  /** A Parsoid section: its id. */
  section?: number;
  /** The lead section: its direct children, for moving the introduction up. */
  lead?: LeadChild[];
  /** A direct child of the lead section. */
  leadChild?: LeadChild;
  /** Text inside does not count as introduction text (styles, the coordinates). */
  ignoreText?: boolean;
  /** A wrapped section heading: closing it closes the wrapper too. */
  headingOf?: number;
}

interface LeadChild {
  /** Index in the output chunks where it starts. */
  start: number;
  name: string;
  hatnote: boolean;
  /** Length of its text (without styles and coordinates). */
  text: number;
}

/** The page library's minimum text of an introduction paragraph (LeadIntroductionTransform). */
const MIN_INTRO_TEXT = 10;

/**
 * LeadIntroductionTransform, on the output chunks: the first lead paragraph with some text
 * (and what follows it up to the next paragraph) moves up before the infobox and images, after
 * the hatnotes, so the page starts with text.
 */
function moveIntroductionUp(body: string[], children: LeadChild[]): void {
  const i = children.findIndex((c) => c.name === 'p' && c.text >= MIN_INTRO_TEXT);
  if (i <= 0) return;
  let h = 0;
  while (h < i && children[h]!.hatnote) h++;
  if (h === i) return;
  const from = children[i]!.start;
  const to = children.slice(i + 1).find((c) => c.name === 'p')?.start ?? body.length;
  body.splice(children[h]!.start, 0, ...body.splice(from, to - from));
}

const escapeText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
/** A raw (still entity-encoded) attribute value, re-quoted. */
const rawAttr = (s: string): string => s.replace(/"/g, '&quot;').replace(/</g, '&lt;');

function attrs(a: Record<string, string>, skip?: (name: string, value: string) => boolean): string {
  let out = '';
  for (const [k, v] of Object.entries(a)) {
    if (skip?.(k, v)) continue;
    out += v === '' && k !== 'alt' && k !== 'content' ? ` ${k}` : ` ${k}="${rawAttr(v)}"`;
  }
  return out;
}

function addClass(classes: string | undefined, ...more: string[]): string {
  const list = (classes ?? '').split(/\s+/).filter(Boolean);
  for (const c of more) if (!list.includes(c)) list.push(c);
  return list.join(' ');
}

/** Derives the mobile HTML document from a Parsoid HTML document. */
export function deriveMobileHtml(html: string, meta: DeriveMeta): string {
  const page = analyzePage(html, { sections: false });
  const id = pageIdentity(page, meta);
  const protection = meta.protection ?? {};
  const editable = meta.editable ?? true;
  const isProtected = Object.keys(protection).length > 0;
  const articlePath = meta.articlePath ?? meta.site?.articlePath ?? '/wiki/$1';
  const editHref = (section: number) =>
    escapeAttr(articlePath.replace('$1', wikiUrlencode(id.title.prefixedDbKey)) + `?action=edit&section=${section}`);
  const description = meta.description ?? page.shortDescription;
  const descriptionSource = meta.description !== undefined ? (meta.description_source ?? 'central') : 'local';
  // The page library leaves main pages as they are.
  const isMainPage = meta.isMainPage ?? (meta.site !== undefined && meta.site.mainPage.replace(/ /g, '_') === id.title.prefixedDbKey);

  const head: string[] = [];
  const body: string[] = [];
  let htmlAttrs: Record<string, string> = {};
  let bodyAttrs: Record<string, string> = {};
  let sawBase = false;
  const stack: Frame[] = [];
  let where: 'none' | 'head' | 'body' = 'none';

  const editLink = (n: number) =>
    `<span class="pcs-edit-section-link-container"><a href="${editHref(n)}" data-id="${n}" data-action="edit_section" aria-labelledby="pcs-edit-section-aria-normal" class="pcs-edit-section-link"></a></span>`;
  const dropping = () => stack.some((f) => f.drop);
  /** Content outside any <section> (non-Parsoid HTML) goes into a lead section of its own. */
  let leadWrapper = false;
  let leadOpen = false;
  let sawSection = false;

  const parser = new Parser(
    {
      onopentag(name, a) {
        const frame: Frame = { name };
        stack.push(frame);
        if (name === 'html') {
          htmlAttrs = a;
          return;
        }
        if (name === 'head') {
          where = 'head';
          return;
        }
        if (name === 'body') {
          where = 'body';
          bodyAttrs = Object.fromEntries(Object.entries(a).filter(([k, v]) => !DROP_ATTRS.has(k) && !(k === 'id' && PARSOID_ID.test(v))));
          return;
        }
        if (where === 'head') {
          if (!HEAD_KEEP.has(name) || (name === 'link' && !/^(?:dc:|mw:)/.test(a.rel ?? ''))) {
            frame.drop = true;
            return;
          }
          if (name === 'base') sawBase = true;
          if (name === 'meta' && (a['http-equiv'] || a.charset !== undefined)) {
            frame.drop = true; // written anew below
            return;
          }
          head.push(`<${name}${attrs(a)}>`);
          if (!VOID.has(name)) frame.closeAs = name;
          return;
        }
        if (dropping()) return;
        if (name === 'script') {
          frame.drop = true;
          return;
        }
        if (name === 'section') {
          // Parsoid's sections, nested as they are (as the mobile content service keeps them).
          sawSection = true;
          const n = Number(a['data-mw-section-id'] ?? NaN);
          frame.section = Number.isInteger(n) ? n : -2;
          frame.closeAs = 'section';
          body.push(`<section data-mw-section-id="${frame.section}">`);
          if (frame.section === 0) {
            body.push(editLink(0));
            if (!isMainPage) frame.lead = [];
          }
          return;
        }
        const up = stack[stack.length - 2];
        if (up?.lead) {
          frame.leadChild = { start: body.length, name, hatnote: /(?:^|\s)hatnote(?:\s|$)/.test(a.class ?? ''), text: 0 };
          up.lead.push(frame.leadChild);
        }
        if (name === 'style' || a.id === 'coordinates') frame.ignoreText = true;
        if (!sawSection && !leadWrapper && stack.length === 3) {
          body.push(`<section data-mw-section-id="0">${editLink(0)}`);
          leadWrapper = leadOpen = true;
        }
        const parent = stack[stack.length - 2];
        if (name === 'h2' && parent?.section !== undefined && parent.section > 0) {
          // Top-level section headings get the page library's header and edit link.
          frame.headingOf = parent.section;
          frame.closeAs = name;
          body.push(`<div class="pcs-edit-section-header v2"><${name}${attrs(a, (k) => k === 'class' || DROP_ATTRS.has(k))} class="${rawAttr(addClass(a.class, 'pcs-edit-section-title'))}">`);
          return;
        }
        const cls = a.class ?? '';
        if (name === 'a' && /(?:^|\s)new(?:\s|$)/.test(cls)) {
          // Red links: flattened, as the mobile content service does (no page to read there).
          frame.closeAs = 'span';
          body.push('<span class="new">');
          return;
        }
        body.push(`<${name}${attrs(a, (k, v) => DROP_ATTRS.has(k) || (k === 'id' && PARSOID_ID.test(v)))}>`);
        if (!VOID.has(name)) frame.closeAs = name;
      },
      ontext(raw) {
        if (dropping()) return;
        if (where === 'head') {
          if (stack[stack.length - 1]?.closeAs === 'title') head.push(raw);
          return;
        }
        if (where !== 'body') return;
        body.push(raw);
        for (let i = stack.length - 1; i >= 0; i--) {
          const f = stack[i]!;
          if (f.ignoreText) break;
          if (f.leadChild) {
            f.leadChild.text += raw.replace(/[\n\r]/g, '').trim().length;
            break;
          }
        }
      },
      onclosetag(name) {
        // htmlparser2 closes implied ends itself: pop until this element's frame.
        let frame = stack.pop();
        while (frame && frame.name !== name) frame = stack.pop();
        if (!frame) return;
        if (name === 'head') where = 'none';
        if (name === 'body') {
          if (leadOpen) body.push('</section>');
          leadOpen = false;
          where = 'none';
        }
        if (!frame.closeAs || frame.drop) return;
        if (frame.lead) moveIntroductionUp(body, frame.lead);
        const out = where === 'head' ? head : body;
        out.push(`</${frame.closeAs}>`);
        if (frame.headingOf !== undefined) out.push(frame.headingOf >= 0 ? `${editLink(frame.headingOf)}</div>` : '</div>');
      },
    },
    { decodeEntities: false, lowerCaseTags: true, lowerCaseAttributeNames: true, recognizeSelfClosing: true },
  );
  parser.end(html);
  if (leadOpen) body.push('</section>'); // a document without </body>
  else if (!sawSection && !leadWrapper) body.push(`<section data-mw-section-id="0">${editLink(0)}</section>`);

  const lang = id.lang;
  const protectionMetas = Object.entries(protection).flatMap(([action, levels]) =>
    levels.map((l) => `<meta property="mw:pageProtection:${escapeAttr(action)}" content="${escapeAttr(l)}">`),
  );
  const server = meta.baseUrl ?? meta.site?.server ?? `//${meta.domain}`;
  const baseHref = server.replace(/^https?:/, '').replace(/\/$/, '') + articlePath.slice(0, articlePath.indexOf('$1') < 0 ? undefined : articlePath.indexOf('$1'));
  const htmlClass = addClass(htmlAttrs.class, ...(editable ? [] : ['no-editing']), ...(isProtected ? ['page-protected'] : []));
  const header =
    `<header><div class="pcs-edit-section-header v2"><div class="pcs-header-inner-left"><h1 data-id="0" class="pcs-edit-section-title">${meta.displaytitle ?? escapeText(id.title.prefixedText)}</h1>` +
    (id.title.namespace === 0 && description
      ? `<p data-description-source="${descriptionSource}"${meta.wikibase_item ? ` data-wikdata-entity-id="${escapeAttr(meta.wikibase_item)}"` : ''} id="pcs-edit-section-title-description">${escapeText(description)}</p>`
      : '') +
    '<hr id="pcs-edit-section-divider"></div><div class="pcs-header-inner-right"></div></div></header>';

  return (
    '<!DOCTYPE html>\n' +
    `<html${attrs(htmlAttrs, (k) => k === 'class')}${htmlClass ? ` class="${rawAttr(htmlClass)}"` : ''}>` +
    '<head><meta charset="utf-8">' +
    head.join('') +
    (sawBase ? '' : `<base href="${escapeAttr(baseHref)}">`) +
    `<meta http-equiv="content-language" content="${escapeAttr(lang)}">` +
    '<meta name="viewport" content="width=device-width, user-scalable=no, initial-scale=1, shrink-to-fit=no">' +
    `<meta property="pcs:locale" content="${escapeAttr(lang)}">` +
    protectionMetas.join('') +
    '</head>' +
    `<body${attrs(bodyAttrs, (k) => k === 'class' || k === 'lang' || k === 'dir')} lang="${escapeAttr(lang)}" dir="${id.dir}" class="${rawAttr(addClass(bodyAttrs.class, `mw-content-${id.dir}`, `sitedir-${id.dir}`, id.dir, 'mw-body-content', 'content'))}">` +
    `<div id="pcs" class="mw-parser-output">${header}${body.join('')}</div>` +
    '</body></html>'
  );
}
