// Rule templates, compatible with hyperswitch request templates:
//   {{expr}}  the raw value (a whole-string `{{expr}}` keeps objects, numbers, arrays)
//   {expr}    the value percent-encoded (encodeURIComponent)
//   {+expr}   the value as it is, unencoded
//   {/expr}   an optional path segment: `/` + encoded value, or nothing when undefined
// Strings with text around expressions concatenate; undefined and null expand to ''.
// A template is compiled once into closures (see expr.ts) and expanded per event.
import { CascadeError } from '../errors/index.ts';
import { ChangepropErrors } from './errors.ts';
import { compileExpression, isForbiddenKey, type Scope } from './expr.ts';
import { compileUriTemplate, type UriTarget } from './uri.ts';

export type Expander<T = unknown> = (scope: Scope) => T;

export type Part = string | { kind: 'raw' | 'enc' | 'plus' | 'opt'; eval: (s: Scope) => unknown; source: string };

/** True when the string contains something that looks like a template (as hyperswitch decides). */
export function hasTemplate(s: string): boolean {
  return /\{[^}]+\}|\{\{/.test(s);
}

/** Splits a template string into literal text and expressions; quotes inside expressions are respected. */
export function splitTemplate(spec: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  let text = '';
  while (i < spec.length) {
    const c = spec[i];
    if (c !== '{') {
      text += c;
      i++;
      continue;
    }
    const double = spec[i + 1] === '{';
    const start = i + (double ? 2 : 1);
    // Find the matching close, counting nested braces (object literals) and skipping strings.
    let depth = 0;
    let j = start;
    let quote = '';
    for (; j < spec.length; j++) {
      const d = spec[j];
      if (quote) {
        if (d === '\\') j++;
        else if (d === quote) quote = '';
        continue;
      }
      if (d === "'" || d === '"') quote = d;
      else if (d === '{') depth++;
      else if (d === '}') {
        if (depth === 0) break;
        depth--;
      }
    }
    if (j >= spec.length) throw new CascadeError(ChangepropErrors.invalidTemplate, `unbalanced curly braces in template ${JSON.stringify(spec)}`);
    let inner = spec.slice(start, j).replace(/\n/g, ' ').trim();
    let end = j + 1;
    if (double) {
      if (spec[end] !== '}') throw new CascadeError(ChangepropErrors.invalidTemplate, `'{{' closed by a single '}' in template ${JSON.stringify(spec)}`);
      end++;
    }
    let kind: 'raw' | 'enc' | 'plus' | 'opt' = 'raw';
    if (!double) {
      if (inner.startsWith('+')) {
        kind = 'plus';
        inner = inner.slice(1);
      } else if (inner.startsWith('/')) {
        kind = 'opt';
        inner = inner.slice(1);
      } else kind = 'enc';
    }
    if (text) parts.push(text);
    text = '';
    const compiled = compileExpression(inner);
    parts.push({ kind, eval: compiled.evaluate, source: inner });
    i = end;
  }
  if (text) parts.push(text);
  return parts;
}

/** Lone surrogates (which encodeURIComponent refuses) replaced by U+FFFD. */
export function wellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

export function stringify(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function render(p: Exclude<Part, string>, s: Scope): unknown {
  const v = p.eval(s);
  switch (p.kind) {
    case 'raw':
    case 'plus':
      return v;
    case 'enc':
      return v === undefined || v === null ? '' : encodeURIComponent(wellFormed(stringify(v)));
    case 'opt':
      return v === undefined || v === null ? '' : '/' + encodeURIComponent(wellFormed(stringify(v)));
  }
}

/**
 * Compiles a string template. A string that is exactly one expression yields the raw value
 * (unless `forceString`); otherwise the pieces concatenate to a string.
 */
export function compileStringTemplate(spec: string, forceString = false): Expander {
  if (!hasTemplate(spec)) return () => spec;
  const parts = splitTemplate(spec);
  if (parts.length === 1 && typeof parts[0] !== 'string') {
    const p = parts[0];
    if (forceString) return (s) => stringify(render(p, s));
    return (s) => render(p, s);
  }
  return (s) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : stringify(render(p, s));
    return out;
  };
}

/** Compiles any YAML value (objects, arrays, strings, literals) into an expander. */
export function compileValueTemplate(spec: unknown): Expander {
  if (typeof spec === 'string') return compileStringTemplate(spec);
  if (Array.isArray(spec)) {
    const items = spec.map(compileValueTemplate);
    return (s) => items.map((e) => e(s));
  }
  if (spec !== null && typeof spec === 'object') {
    const entries: [string, Expander][] = [];
    for (const [k, v] of Object.entries(spec)) {
      if (isForbiddenKey(k)) throw new CascadeError(ChangepropErrors.invalidTemplate, `key '${k}' is not allowed in a template`);
      entries.push([k, compileValueTemplate(v)]);
    }
    return (s) => {
      const o: Record<string, unknown> = {};
      for (const [k, e] of entries) {
        const v = e(s);
        if (v !== undefined) o[k] = v;
      }
      return o;
    };
  }
  return () => spec;
}

export interface ExecSpec {
  method?: string;
  uri: string;
  headers?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
  [other: string]: unknown;
}

export interface ExpandedRequest {
  method: string;
  uri: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  body?: unknown;
  /** Where the URI may lead (uri.ts); absent for requests Cascade builds itself. */
  target?: UriTarget;
  /** The origin a `fixed` template's URI must keep. */
  origin?: string;
}

/** A compiled `exec` entry: one HTTP request template. */
export interface RequestTemplate {
  spec: ExecSpec;
  expand(scope: Scope): ExpandedRequest;
}

const NO_QUERY: Record<string, string> = Object.freeze({}) as Record<string, string>;

function flatStrings(v: unknown, header = false): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k in o) {
      if (!Object.hasOwn(o, k)) continue;
      const x = o[k];
      if (x === undefined || x === null) continue;
      const s = typeof x === 'object' ? JSON.stringify(x) : String(x);
      // An event value cannot add a header line or end the header block.
      if (header && /[\r\n\0]/.test(s)) throw new CascadeError(ChangepropErrors.templateEval, `header '${k}' would contain a line break or NUL`);
      out[k] = s;
    }
  }
  return out;
}

export function compileRequestTemplate(spec: ExecSpec): RequestTemplate {
  const method = compileStringTemplate(String(spec.method ?? 'get'), true);
  const uri = compileUriTemplate(String(spec.uri));
  const headers = compileValueTemplate(spec.headers ?? {});
  // Most rules have no query: no object built per request for one.
  const query = spec.query === undefined ? undefined : compileValueTemplate(spec.query);
  const body = spec.body === undefined ? undefined : compileValueTemplate(spec.body);
  return {
    spec,
    expand(scope) {
      const m = String(method(scope) || 'get').toUpperCase();
      if (!/^[A-Z]{1,20}$/.test(m)) throw new CascadeError(ChangepropErrors.templateEval, `not an HTTP method: ${JSON.stringify(m.slice(0, 40))}`);
      const req: ExpandedRequest = {
        method: m,
        uri: uri.expand(scope),
        headers: flatStrings(headers(scope), true),
        query: query ? flatStrings(query(scope)) : NO_QUERY,
        target: uri.target,
      };
      if (uri.origin) req.origin = uri.origin;
      if (body) req.body = body(scope);
      return req;
    },
  };
}
