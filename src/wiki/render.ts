// A wikitext subset rendered to Parsoid-style HTML (spec 2.x): sections per heading, heading
// ids, paragraphs, bold/italic, wiki and external links, lists, templates with parameters
// (marked as mw:Transclusion), redirects. Anything outside the subset (tables, references,
// files, parser functions) is dropped or shown as escaped text; everything is escaped, so
// wikitext can never inject markup or script.
import { encodeTitleForHref, isInterwikiPrefix, parseTitle, type WikiTitle } from './site.ts';

export interface RenderInput {
  /** The wiki's domain (used for `<base href>` and the document's about URI). */
  domain: string;
  title: WikiTitle;
  pageId: number;
  revId: number;
  parentRevId?: number;
  /** ISO timestamp of the revision. */
  timestamp: string;
  /** Wikitext of a page by prefixed DB key (templates), or undefined when it does not exist. */
  loadPage(key: string): string | undefined;
}

export interface RenderResult {
  html: string;
  /** Prefixed DB keys of every page transcluded (directly or through other templates). */
  templates: string[];
  /** Prefixed DB key of the redirect target, when the page is a redirect. */
  redirect?: string;
}

const MAX_DEPTH = 20;
const MAX_EXPANSIONS = 5000;
const S_OPEN = '\uE000';
const S_CLOSE = '\uE001';
const SENTINEL_RE = /\uE000(\d+)\uE001/g;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** `#REDIRECT [[Target]]` at the start of a page (any case, optional colon), as MediaWiki reads it. */
export function redirectTarget(wikitext: string): WikiTitle | undefined {
  const m = /^\s*#redirect\s*:?\s*\[\[([^\]|\n]+)(?:\|[^\]]*)?\]\]/i.exec(wikitext);
  if (!m) return undefined;
  return parseTitle(m[1]);
}

interface Fragment {
  /** Either ready HTML, or wikitext to render in the context where it appears. */
  html?: string;
  block?: boolean;
  wikitext?: string;
  /** Transclusion wrapper attributes (typeof, about, data-mw). */
  attrs?: string;
}

/** One render: the document state shared by the block and inline passes. */
class Renderer {
  private fragments: Fragment[] = [];
  private templates = new Set<string>();
  private expansions = 0;
  private aboutSeq = 0;
  private sectionSeq = 0;
  private headingIds = new Set<string>();
  private out: string[] = [];
  private sectionStack: number[] = [];

  constructor(private readonly input: RenderInput) {}

  render(wikitext: string): RenderResult {
    const { input } = this;
    let text = clean(wikitext);
    const redirect = redirectTarget(text);
    this.out.push('<section data-mw-section-id="0">');
    this.sectionStack.push(0);
    if (redirect) {
      this.out.push(`<link rel="mw:PageProp/redirect" href="./${escapeHtml(encodeTitleForHref(redirect.key))}"/>`);
      text = text.replace(/^\s*#redirect[^\n]*\n?/i, '');
    }
    text = stripIncludeMarkup(stripComments(text), false);
    text = this.protect(text);
    text = this.expandTop(text);
    this.blocks(text, true);
    while (this.sectionStack.length) {
      this.sectionStack.pop();
      this.out.push('</section>');
    }
    const body = this.out.join('');
    return { html: document(input, body), templates: [...this.templates].sort(), ...(redirect ? { redirect: redirect.key } : {}) };
  }

  /** Template usage only, without building HTML (for the links table on save). */
  usedTemplates(wikitext: string): string[] {
    const text = this.protect(stripIncludeMarkup(stripComments(clean(wikitext)), false));
    this.expand(text, undefined, 0, true);
    return [...this.templates].sort();
  }

  // --- preprocessing -------------------------------------------------------------------

  private fragment(f: Fragment): string {
    this.fragments.push(f);
    return `${S_OPEN}${this.fragments.length - 1}${S_CLOSE}`;
  }

  /** nowiki/pre become opaque fragments; extension tags outside the subset are dropped or escaped. */
  private protect(text: string): string {
    return text
      .replace(/<nowiki\s*\/>/gi, '')
      .replace(/<nowiki(?:\s[^>]*)?>([\s\S]*?)(?:<\/nowiki\s*>|$)/gi, (_m, c: string) => this.fragment({ html: escapeHtml(decodeBasicEntities(c)) }))
      .replace(/<pre(?:\s[^>]*)?>([\s\S]*?)(?:<\/pre\s*>|$)/gi, (_m, c: string) => this.fragment({ html: `<pre>${escapeHtml(c)}</pre>`, block: true }))
      .replace(/<(syntaxhighlight|source)(?:\s[^>]*)?>([\s\S]*?)(?:<\/\1\s*>|$)/gi, (_m, _t, c: string) =>
        this.fragment({ html: `<pre>${escapeHtml(c)}</pre>`, block: true }),
      )
      .replace(/<(math|chem|ce|code)(?:\s[^>]*)?>([\s\S]*?)(?:<\/\1\s*>|$)/gi, (_m, _t, c: string) => this.fragment({ html: `<code>${escapeHtml(c)}</code>` }))
      .replace(/<(ref|references|gallery|timeline|imagemap|templatedata|templatestyles|mapframe|maplink|graph|score|inputbox|categorytree|hiero|indicator|section)\b[^>]*\/>/gi, '')
      .replace(/<(ref|references|gallery|timeline|imagemap|templatedata|templatestyles|mapframe|maplink|graph|score|inputbox|categorytree|hiero|indicator)\b[^>]*>[\s\S]*?(?:<\/\1\s*>|$)/gi, '')
      .replace(/<\/?(poem|onlyinclude|includeonly|noinclude)\b[^>]*>/gi, '')
      .replace(/__[A-Z]+__/g, '');
  }

  // --- templates -------------------------------------------------------------------------

  /** Top level: each transclusion becomes a fragment marked as mw:Transclusion. */
  private expandTop(text: string): string {
    return replaceBraces(text, (m) => {
      // A parameter outside a template stays as written (MediaWiki shows it literally).
      if (m.kind === 'arg') return text.slice(m.start, m.end);
      const call = this.templateCall(text.slice(m.start + 2, m.end - 2), undefined, 0, false);
      if (!call) return text.slice(m.offset, m.start);
      const about = `#mwt${++this.aboutSeq}`;
      const attrs = ` typeof="${call.fn ? 'mw:Transclusion mw:ParserFunction' : 'mw:Transclusion'}" about="${about}" data-mw="${escapeHtml(JSON.stringify(call.dataMw))}"`;
      return text.slice(m.offset, m.start) + this.fragment({ wikitext: call.expansion, attrs });
    });
  }

  /** Expands templates and parameters recursively to plain wikitext. */
  private expand(text: string, args: Map<string, string> | undefined, depth: number, linksOnly = false): string {
    if (!text.includes('{{')) return text;
    return replaceBraces(text, (m) => {
      const lead = text.slice(m.offset, m.start);
      if (m.kind === 'arg') {
        const parts = splitParts(text.slice(m.start + 3, m.end - 3));
        const name = this.expand(parts[0], args, depth, linksOnly).trim();
        const value = args?.get(name);
        if (value !== undefined) return lead + value;
        if (parts.length > 1) return lead + this.expand(parts.slice(1).join('|'), args, depth, linksOnly);
        return lead + text.slice(m.start, m.end);
      }
      const call = this.templateCall(text.slice(m.start + 2, m.end - 2), args, depth, linksOnly);
      return lead + (call ? call.expansion : '');
    });
  }

  private templateCall(
    inner: string,
    args: Map<string, string> | undefined,
    depth: number,
    linksOnly: boolean,
  ): { expansion: string; dataMw: unknown; fn: boolean } | undefined {
    if (++this.expansions > MAX_EXPANSIONS || depth > MAX_DEPTH) {
      return { expansion: '', dataMw: { parts: [] }, fn: false };
    }
    const parts = splitParts(inner);
    const rawName = parts[0];
    const name = this.expand(rawName, args, depth, linksOnly).trim();
    const dataMwParams: Record<string, { wt: string }> = {};
    const callArgs = new Map<string, string>();
    let pos = 0;
    for (const p of parts.slice(1)) {
      const eq = topLevelEquals(p);
      if (eq === -1) {
        pos++;
        dataMwParams[String(pos)] = { wt: p };
        callArgs.set(String(pos), this.expand(p, args, depth, linksOnly));
      } else {
        const key = this.expand(p.slice(0, eq), args, depth, linksOnly).trim();
        dataMwParams[key] = { wt: p.slice(eq + 1).trim() };
        callArgs.set(key, this.expand(p.slice(eq + 1), args, depth, linksOnly).trim());
      }
    }
    // Magic words and parser functions: a few harmless ones are understood, the rest dropped.
    const colon = name.indexOf(':');
    const head = (colon === -1 ? name : name.slice(0, colon)).trim();
    const magic = this.magicWord(head, colon === -1 ? undefined : name.slice(colon + 1), callArgs);
    if (magic !== undefined) {
      return { expansion: magic, dataMw: { parts: [{ template: { target: { wt: rawName.trim(), function: head.replace(/^#/, '').toLowerCase() }, params: dataMwParams, i: 0 } }] }, fn: true };
    }
    if (name.startsWith('#')) return undefined;
    const title = parseTitle(name, 10);
    if (!title) return { expansion: escapeWikitext(`{{${inner}}}`), dataMw: { parts: [] }, fn: false };
    const dataMw = {
      parts: [{ template: { target: { wt: rawName.trim(), href: `./${encodeTitleForHref(title.key)}` }, params: dataMwParams, i: 0 } }],
    };
    this.templates.add(title.key);
    let body = this.input.loadPage(title.key);
    if (body !== undefined) {
      // A redirected template transcludes its target, as MediaWiki does (one level).
      const r = redirectTarget(body);
      if (r) {
        this.templates.add(r.key);
        body = this.input.loadPage(r.key);
      }
    }
    if (body === undefined) return { expansion: `[[:${title.text}]]`, dataMw, fn: false };
    if (this.active.has(title.key)) {
      return { expansion: `<span class="error">Template loop detected: [[:${title.text}]]</span>`, dataMw, fn: false };
    }
    this.active.add(title.key);
    try {
      const expansion = this.expand(stripIncludeMarkup(stripComments(clean(body)), true), callArgs, depth + 1, linksOnly);
      return { expansion, dataMw, fn: false };
    } finally {
      this.active.delete(title.key);
    }
  }

  private active = new Set<string>();

  private magicWord(head: string, arg: string | undefined, args: Map<string, string>): string | undefined {
    const t = this.input.title;
    const upper = head.toUpperCase();
    if (arg === undefined) {
      switch (upper) {
        case '!':
          return '|';
        case 'PAGENAME':
          return t.ns === 0 ? t.text : t.text.slice(t.text.indexOf(':') + 1);
        case 'FULLPAGENAME':
          return t.text;
        case 'SITENAME':
          return 'Example Wiki';
        case 'NAMESPACE':
          return t.ns === 0 ? '' : t.text.slice(0, t.text.indexOf(':'));
        default:
          return undefined;
      }
    }
    const lower = head.toLowerCase();
    const value = arg.trim();
    switch (lower) {
      case 'lc':
        return value.toLowerCase();
      case 'uc':
        return value.toUpperCase();
      case 'lcfirst':
        return value.charAt(0).toLowerCase() + value.slice(1);
      case 'ucfirst':
        return value.charAt(0).toUpperCase() + value.slice(1);
      case '#if':
        return value !== '' ? (args.get('1') ?? '').trim() : (args.get('2') ?? '').trim();
      case 'displaytitle':
      case 'defaultsort':
      case 'defaultsortkey':
      case 'defaultcategorysort':
        return '';
      default:
        // Other parser functions (#invoke, #switch, #time, …) are outside the subset: dropped.
        return head.startsWith('#') || /^[a-z]+$/.test(head) ? '' : undefined;
    }
  }

  // --- blocks ----------------------------------------------------------------------------

  /** Renders block-level wikitext into `this.out`; `top` enables sections. */
  private blocks(text: string, top: boolean): void {
    const lines = text.split('\n');
    let para: string[] = [];
    let listPrefix = '';
    let pre: string[] = [];
    const flushPara = () => {
      if (para.length) {
        const html = para.map((l) => this.inline(l)).join('\n').trim();
        if (html !== '') this.out.push(`<p>${html}</p>`);
        para = [];
      }
    };
    const flushPre = () => {
      if (pre.length) {
        this.out.push(`<pre>${pre.map((l) => this.inline(l)).join('\n')}</pre>`);
        pre = [];
      }
    };
    const closeList = () => {
      if (listPrefix) {
        this.out.push(listTransition(listPrefix, ''));
        listPrefix = '';
      }
    };
    const flushAll = () => {
      flushPara();
      flushPre();
      closeList();
    };
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n];
      // Tables are outside the subset: skipped whole, nesting included.
      if (/^\s*(?::*\s*)\{\|/.test(line)) {
        flushAll();
        let level = 0;
        for (; n < lines.length; n++) {
          const l = lines[n].trim();
          if (/^:*\s*\{\|/.test(l)) level++;
          else if (l.startsWith('|}')) level--;
          if (level <= 0) break;
        }
        continue;
      }
      const heading = /^(=+)(.+?)(=+)[ \t]*$/.exec(line);
      if (heading && heading[2].trim() !== '') {
        flushAll();
        const level = Math.min(heading[1].length, heading[3].length, 6);
        const inner = '='.repeat(heading[1].length - level) + heading[2] + '='.repeat(heading[3].length - level);
        this.heading(level, inner.trim(), top);
        continue;
      }
      if (/^----+\s*$/.test(line)) {
        flushAll();
        this.out.push('<hr/>');
        continue;
      }
      const list = /^([*#:;]+)\s*(.*)$/.exec(line);
      if (list) {
        flushPara();
        flushPre();
        let prefix = list[1];
        let content = list[2];
        this.out.push(listTransition(listPrefix, prefix));
        listPrefix = prefix;
        // `; term : definition` on one line.
        if (prefix.endsWith(';')) {
          const c = content.indexOf(' :');
          const c2 = c === -1 ? content.indexOf(':') : c + 1;
          if (c2 > 0 && !/^[a-z]+:\/\//i.test(content.slice(0, c2 + 3))) {
            this.out.push(this.inline(content.slice(0, c2).trim()));
            prefix = prefix.slice(0, -1) + ':';
            this.out.push(listTransition(listPrefix, prefix));
            listPrefix = prefix;
            content = content.slice(c2 + 1);
          }
        }
        this.out.push(this.inline(content.trim()));
        continue;
      }
      closeList();
      const trimmed = line.trim();
      if (trimmed === '') {
        flushPara();
        flushPre();
        continue;
      }
      // A line that is just a block transclusion (or a protected block) stands on its own.
      const only = /^\uE000(\d+)\uE001$/.exec(trimmed);
      if (only) {
        const f = this.fragments[Number(only[1])];
        if (f.block || (f.wikitext !== undefined && isBlockWikitext(f.wikitext))) {
          flushPara();
          flushPre();
          this.out.push(this.blockFragment(f));
          continue;
        }
      }
      if (line.startsWith(' ') && !/^\s*\uE000\d+\uE001\s*$/.test(line)) {
        flushPara();
        pre.push(line.slice(1));
        continue;
      }
      flushPre();
      para.push(line);
    }
    flushAll();
  }

  private blockFragment(f: Fragment): string {
    if (f.html !== undefined) return f.html;
    const saved = this.out;
    this.out = [];
    this.blocks(this.protect(f.wikitext ?? ''), false);
    const inner = this.out.join('');
    this.out = saved;
    return `<div${f.attrs ?? ''}>${inner}</div>`;
  }

  private heading(level: number, wikitext: string, top: boolean): void {
    const html = this.inline(wikitext);
    let id = decodeBasicEntities(html.replace(/<[^>]*>/g, '')).trim().replace(/[ \t\n\r\f]+/g, '_');
    if (id === '') id = '_';
    let unique = id;
    for (let k = 2; this.headingIds.has(unique); k++) unique = `${id}_${k}`;
    this.headingIds.add(unique);
    if (top) {
      // Close sections at this level or deeper (the lead closes at the first heading).
      while (this.sectionStack.length && (this.sectionStack[this.sectionStack.length - 1] >= level || this.sectionStack[this.sectionStack.length - 1] === 0)) {
        this.sectionStack.pop();
        this.out.push('</section>');
      }
      this.out.push(`<section data-mw-section-id="${++this.sectionSeq}">`);
      this.sectionStack.push(level);
    }
    this.out.push(`<h${level} id="${escapeHtml(unique)}">${html}</h${level}>`);
  }

  // --- inline ----------------------------------------------------------------------------

  /** Renders one line of inline wikitext to HTML (always well-formed: open tags are closed). */
  inline(text: string): string {
    const out: string[] = [];
    const open: string[] = []; // open formatting/HTML tags, innermost last
    const closeTo = (tag: string) => {
      const k = open.lastIndexOf(tag);
      if (k === -1) return;
      const reopen = open.splice(k + 1);
      open.pop();
      for (let r = reopen.length - 1; r >= 0; r--) out.push(`</${reopen[r]}>`);
      out.push(`</${tag}>`);
      for (const r of reopen) {
        out.push(`<${r}>`);
        open.push(r);
      }
    };
    const toggle = (tag: 'i' | 'b') => {
      if (open.includes(tag)) closeTo(tag);
      else {
        out.push(`<${tag}>`);
        open.push(tag);
      }
    };
    let i = 0;
    let textStart = 0;
    const flushText = (to: number) => {
      if (to > textStart) out.push(this.plain(text.slice(textStart, to)));
    };
    while (i < text.length) {
      const c = text[i];
      if (c === S_OPEN) {
        const m = sticky(RE_SENTINEL, text, i);
        if (m) {
          flushText(i);
          const f = this.fragments[Number(m[1])];
          out.push(f.html !== undefined ? f.html : `<span${f.attrs ?? ''}>${this.inline(this.protect(f.wikitext ?? '').replace(/\n+/g, ' ').trim())}</span>`);
          i += m[0].length;
          textStart = i;
          continue;
        }
      } else if (c === '[' && text[i + 1] === '[') {
        const end = matchBrackets(text, i);
        if (end !== -1) {
          const link = this.wikiLink(text.slice(i + 2, end - 2), text, end);
          if (link) {
            flushText(i);
            out.push(link.html);
            i = end + link.trail;
            textStart = i;
            continue;
          }
        }
      } else if (c === '[') {
        const m = sticky(RE_EXTLINK, text, i);
        if (m && /^(https?:|ftp:|mailto:|\/\/)/i.test(m[1])) {
          flushText(i);
          const href = escapeHtml(m[1]);
          if (m[3]) out.push(`<a rel="mw:ExtLink" class="external text" href="${href}">${this.inline(m[3])}</a>`);
          else out.push(`<a rel="mw:ExtLink" class="external autonumber" href="${href}"></a>`);
          i += m[0].length;
          textStart = i;
          continue;
        }
      } else if ((c === 'h' || c === 'f') && (i === 0 || !/[\w/]/.test(text[i - 1]))) {
        const m = sticky(RE_FREELINK, text, i);
        if (m) {
          let url = m[0];
          const trailing = /[.,;:!?)]+$/.exec(url);
          if (trailing) url = url.slice(0, -trailing[0].length);
          if (url.length > 8) {
            flushText(i);
            const h = escapeHtml(url);
            out.push(`<a rel="mw:ExtLink" class="external free" href="${h}">${h}</a>`);
            i += url.length;
            textStart = i;
            continue;
          }
        }
      } else if (c === "'" && text[i + 1] === "'") {
        let n = 2;
        while (text[i + n] === "'") n++;
        flushText(i);
        let literal = '';
        if (n === 4) {
          literal = "'";
          n = 3;
        } else if (n > 5) {
          literal = "'".repeat(n - 5);
          n = 5;
        }
        if (literal) out.push(escapeHtml(literal));
        if (n === 2) toggle('i');
        else if (n === 3) toggle('b');
        else {
          // ''''' : close in the order opened, otherwise open bold-italic.
          if (open.includes('i') && open.includes('b')) {
            closeTo(open.lastIndexOf('i') > open.lastIndexOf('b') ? 'i' : 'b');
            closeTo(open.includes('i') ? 'i' : 'b');
          } else {
            toggle('b');
            toggle('i');
          }
        }
        i += n + literal.length;
        textStart = i;
        continue;
      } else if (c === '<') {
        const m = sticky(RE_TAG, text, i);
        if (m) {
          const tag = m[2].toLowerCase();
          flushText(i);
          i += m[0].length;
          textStart = i;
          if (tag === 'br' || tag === 'hr') {
            if (tag === 'br') out.push('<br/>');
          } else if (INLINE_TAGS.has(tag)) {
            if (m[1]) closeTo(tag);
            else if (!m[3]) {
              out.push(`<${tag}>`);
              open.push(tag);
            }
          } else if (!DROP_TAGS.has(tag)) {
            // Unknown tags are shown as text, escaped.
            out.push(escapeHtml(m[0]));
          }
          continue;
        }
      }
      i++;
    }
    flushText(text.length);
    for (let k = open.length - 1; k >= 0; k--) out.push(`</${open[k]}>`);
    return out.join('');
  }

  /** Escapes text, keeping well-formed character references as written. */
  private plain(s: string): string {
    return s.replace(/&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});|[&<>"']/g, (m, ent: string | undefined) => {
      if (ent) return /^#/.test(ent) && !validCodePoint(ent) ? escapeHtml(m) : m;
      return escapeHtml(m);
    });
  }

  private wikiLink(inner: string, text: string, end: number): { html: string; trail: number } | undefined {
    const bar = inner.indexOf('|');
    const target = (bar === -1 ? inner : inner.slice(0, bar)).trim();
    const label = bar === -1 ? undefined : inner.slice(bar + 1);
    if (target === '' || /[\uE000\uE001]/.test(target)) return undefined;
    const forced = target.startsWith(':');
    if (target.startsWith('#')) {
      const frag = target.slice(1).trim().replace(/ /g, '_');
      return { html: `<a rel="mw:WikiLink" href="./${escapeHtml(encodeTitleForHref(this.input.title.key))}#${escapeHtml(encodeURIComponent(frag))}">${label !== undefined ? this.inline(label) : escapeHtml(target)}</a>`, trail: 0 };
    }
    const title = parseTitle(target);
    if (!title) {
      if (isInterwikiPrefix(forced ? target.slice(1) : target)) {
        // Interwiki/interlanguage links: a language link is page metadata, dropped; others show their label.
        return { html: forced || label !== undefined ? this.inline(label ?? target.slice(1)) : '', trail: 0 };
      }
      return undefined;
    }
    if (!forced && (title.ns === 6 || title.ns === -2)) return { html: '', trail: 0 }; // files: outside the subset
    if (!forced && title.ns === 14) {
      return { html: `<link rel="mw:PageProp/Category" href="./${escapeHtml(encodeTitleForHref(title.key))}"/>`, trail: 0 };
    }
    const trailMatch = sticky(RE_TRAIL, text, end);
    const trail = trailMatch ? trailMatch[0] : '';
    let labelHtml: string;
    if (label !== undefined && label.trim() !== '') labelHtml = this.inline(label);
    else if (label !== undefined) labelHtml = escapeHtml(pipeTrick(target.replace(/^:/, '')));
    else labelHtml = this.plain(target.replace(/^:/, ''));
    const href = `./${encodeTitleForHref(title.key)}${title.fragment ? '#' + encodeURIComponent(title.fragment.replace(/ /g, '_')) : ''}`;
    return {
      html: `<a rel="mw:WikiLink" href="${escapeHtml(href)}" title="${escapeHtml(title.text)}">${labelHtml}${escapeHtml(trail)}</a>`,
      trail: trail.length,
    };
  }
}

const RE_SENTINEL = /\uE000(\d+)\uE001/y;
const RE_EXTLINK = /\[((?:https?:|ftp:|mailto:)?\/\/[^\s\]<>"\uE000]+|mailto:[^\s\]<>"]+)([ \t]*)([^\]\n]*)\]/iy;
const RE_FREELINK = /(?:https?|ftp):\/\/[^\s<>[\]"\uE000]{1,2000}/iy;
const RE_TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b[^<>]{0,500}?(\/?)>/y;
const RE_TRAIL = /[a-z]+/y;

/** Matches a sticky regex at position `at` (no slicing: inline rendering stays linear). */
function sticky(re: RegExp, text: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(text);
}

const INLINE_TAGS = new Set(['b', 'i', 'u', 's', 'sup', 'sub', 'small', 'big', 'tt', 'del', 'ins', 'em', 'strong', 'span', 'abbr', 'cite', 'q', 'strike', 'var', 'kbd', 'samp', 'dfn', 'mark', 'bdi']);
// Block and layout tags: the tag is dropped, its content kept (keeps sections well-formed).
const DROP_TAGS = new Set(['div', 'center', 'blockquote', 'font', 'p', 'table', 'tr', 'td', 'th', 'tbody', 'caption', 'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'wbr', 'rt', 'rp', 'ruby', 'time', 'data']);

function validCodePoint(ent: string): boolean {
  const cp = ent[1] === 'x' || ent[1] === 'X' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
  return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) && cp !== 0xe000 && cp !== 0xe001;
}

function pipeTrick(target: string): string {
  return target.replace(/^[^:]*:/, '').replace(/\s*\([^)]*\)\s*$/, '').replace(/,.*$/, '').replace(/_/g, ' ');
}

function clean(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(/[\uE000-\uE0FF]/g, '');
}

function stripComments(text: string): string {
  return text.replace(/<!--[\s\S]*?(?:-->|$)/g, '');
}

/** Transclusion markup: what a page shows when viewed vs when transcluded. */
function stripIncludeMarkup(text: string, transcluding: boolean): string {
  if (transcluding) {
    if (/<onlyinclude>/i.test(text)) {
      const parts = [...text.matchAll(/<onlyinclude>([\s\S]*?)(?:<\/onlyinclude>|$)/gi)].map((m) => m[1]);
      text = parts.join('');
    }
    return text.replace(/<noinclude>[\s\S]*?(?:<\/noinclude>|$)/gi, '').replace(/<\/?includeonly>/gi, '');
  }
  return text.replace(/<includeonly>[\s\S]*?(?:<\/includeonly>|$)/gi, '').replace(/<\/?(noinclude|onlyinclude)>/gi, '');
}

function escapeWikitext(s: string): string {
  return s.replace(/[{}[\]|]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function decodeBasicEntities(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&nbsp;/g, '\u00a0')
    .replace(/&#(\d{1,7});/g, (m, d: string) => (validCodePoint('#' + d) ? String.fromCodePoint(Number(d)) : m))
    .replace(/&amp;/g, '&');
}

function isBlockWikitext(wt: string): boolean {
  const t = wt.trim();
  return /\n/.test(t) || /^(=|\*|#|:|;|----|\{\|)/.test(t);
}

/** HTML for moving from one list prefix (e.g. `*#`) to another. */
function listTransition(from: string, to: string): string {
  let common = 0;
  while (common < from.length && common < to.length && sameList(from[common], to[common])) common++;
  let html = '';
  // Same depth, same list: a new item.
  for (let k = from.length - 1; k >= common; k--) html += `</${itemTag(from[k])}></${listTag(from[k])}>`;
  if (common === to.length && common > 0 && from.length >= to.length) {
    html += `</${itemTag(from[common - 1])}>`;
    if (from[common - 1] !== to[common - 1]) html += `<${itemTag(to[common - 1])}>`;
    else html += `<${itemTag(to[common - 1])}>`;
  }
  for (let k = common; k < to.length; k++) html += `<${listTag(to[k])}><${itemTag(to[k])}>`;
  return html;
}

function sameList(a: string, b: string): boolean {
  return a === b || ((a === ':' || a === ';') && (b === ':' || b === ';'));
}
function listTag(c: string): string {
  return c === '*' ? 'ul' : c === '#' ? 'ol' : 'dl';
}
function itemTag(c: string): string {
  return c === '*' || c === '#' ? 'li' : c === ';' ? 'dt' : 'dd';
}

interface BraceMatch {
  /** Where the construct's own braces begin (after extra leading braces). */
  start: number;
  end: number;
  kind: 'tpl' | 'arg';
  /** Where the scan began (extra braces between offset and start are literal). */
  offset: number;
}

/** Finds the construct opening at `j` (`{{` or `{{{`), skipping nested ones. */
/**
 * `text` with each `{{…}}` / `{{{…}}}` construct (from `m.offset`, its leading braces, to
 * `m.end`) replaced by `f(m)`; unmatched braces stay as they are.
 */
function replaceBraces(text: string, f: (m: BraceMatch) => string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const j = text.indexOf('{{', i);
    if (j === -1) break;
    out += text.slice(i, j);
    const m = matchBraces(text, j);
    if (!m) {
      out += '{{';
      i = j + 2;
      continue;
    }
    out += f(m);
    i = m.end;
  }
  return out + text.slice(i);
}

function matchBraces(text: string, j: number): BraceMatch | undefined {
  let n = 0;
  while (text[j + n] === '{') n++;
  if (n >= 3) {
    const s = j + n - 3;
    const end = findClose(text, s + 3, '}}}');
    if (end !== -1) return { start: s, end, kind: 'arg', offset: j };
  }
  const s = j + n - 2;
  const end = findClose(text, s + 2, '}}');
  if (end !== -1) return { start: s, end, kind: 'tpl', offset: j };
  return undefined;
}

function findClose(text: string, from: number, close: '}}' | '}}}'): number {
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (c === '{' && text[i + 1] === '{') {
      const m = matchBraces(text, i);
      if (m) {
        i = m.end;
        continue;
      }
      i += 2;
      continue;
    }
    if (c === '}' && text[i + 1] === '}') {
      if (close === '}}') return i + 2;
      if (text[i + 2] === '}') return i + 3;
      return -1;
    }
    i++;
  }
  return -1;
}

/** Index of `]]` closing the `[[` at `i` (nested links allowed, as in file captions), or -1. */
function matchBrackets(text: string, i: number): number {
  let depth = 0;
  for (let k = i; k < text.length - 1; k++) {
    if (text[k] === '[' && text[k + 1] === '[') {
      depth++;
      k++;
    } else if (text[k] === ']' && text[k + 1] === ']') {
      depth--;
      k++;
      if (depth === 0) return k + 1;
    }
  }
  return -1;
}

/** Splits template content at top-level `|` (not inside nested braces or links). */
function splitParts(inner: string): string[] {
  const parts: string[] = [];
  let depthB = 0;
  let depthL = 0;
  let last = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    const past = pastTemplate(inner, i);
    if (past > i) {
      i = past - 1;
      continue;
    }
    if (c === '{' && inner[i + 1] === '{') {
      depthB++;
      i++;
    } else if (c === '[' && inner[i + 1] === '[') {
      depthL++;
      i++;
    } else if (c === ']' && inner[i + 1] === ']' && depthL > 0) {
      depthL--;
      i++;
    } else if (c === '|' && depthB === 0 && depthL === 0) {
      parts.push(inner.slice(last, i));
      last = i + 1;
    }
  }
  parts.push(inner.slice(last));
  return parts;
}

/** Index of the `=` naming a template parameter (top level only), or -1. */
function topLevelEquals(part: string): number {
  for (let i = 0; i < part.length; i++) {
    const past = pastTemplate(part, i);
    if (past > i) i = past - 1;
    else if (part.startsWith('[[', i)) return -1;
    else if (part[i] === '=') return i;
  }
  return -1;
}

/** Where a `{{…}}` (or `{{{…}}}`) starting at `i` ends, or `i` when none starts there. */
function pastTemplate(s: string, i: number): number {
  if (s[i] !== '{' || s[i + 1] !== '{') return i;
  return matchBraces(s, i)?.end ?? i;
}

function document(input: RenderInput, body: string): string {
  const { domain, title, pageId, revId, parentRevId, timestamp } = input;
  const base = `//${domain}/wiki/`;
  return (
    '<!DOCTYPE html>\n' +
    `<html prefix="dc: http://purl.org/dc/terms/ mw: http://mediawiki.org/rdf/" about="https://${escapeHtml(domain)}/wiki/Special:Redirect/revision/${revId}">` +
    `<head prefix="mwr: https://${escapeHtml(domain)}/wiki/Special:Redirect/">` +
    '<meta charset="utf-8"/>' +
    `<meta property="mw:pageId" content="${pageId}"/>` +
    `<meta property="mw:pageNamespace" content="${title.ns}"/>` +
    (parentRevId ? `<link rel="dc:replaces" resource="mwr:revision/${parentRevId}"/>` : '') +
    `<meta property="mw:revisionSNo" content="${revId}"/>` +
    `<meta property="dc:modified" content="${escapeHtml(timestamp.replace(/Z$/, '.000Z'))}"/>` +
    '<meta property="mw:htmlVersion" content="2.1.0"/>' +
    `<link rel="dc:isVersionOf" href="${escapeHtml(base + encodeTitleForHref(title.key))}"/>` +
    `<base href="${escapeHtml(base)}"/>` +
    `<title>${escapeHtml(title.text)}</title>` +
    '</head>' +
    `<body lang="en" class="mw-content-ltr sitedir-ltr ltr mw-body-content parsoid-body mediawiki mw-parser-output" dir="ltr">${body}</body></html>`
  );
}

/** Renders a revision's wikitext to a Parsoid-style HTML document. */
export function renderWikitext(wikitext: string, input: RenderInput): RenderResult {
  return new Renderer(input).render(wikitext);
}

/** The pages a revision transcludes (templates and what they transclude), without rendering. */
export function templatesUsed(wikitext: string, input: RenderInput): string[] {
  return new Renderer(input).usedTemplates(wikitext);
}

/** Internal helpers, exported for unit tests. */
export const _internal = { splitParts, matchBraces, listTransition, SENTINEL_RE };
