// A small, safe expression language for rule templates, compatible with the expressions
// swagger-router/hyperswitch templates accept: dotted and bracketed paths, string and number
// literals, function calls of a fixed set of helpers, object and array literals.
// Expressions are parsed once into closures; there is no eval and no `new Function`, and
// `__proto__` / `constructor` / `prototype` can never be reached (checked at compile time for
// literal path segments and at evaluation time for computed ones); only own properties are read.
import { CascadeError } from '../errors/index.ts';
import { ChangepropErrors } from './errors.ts';
import { newTid, tidAt } from '../util/tid.ts';

export type Scope = Record<string, unknown>;
export type Evaluator = (scope: Scope) => unknown;

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__']);

export function isForbiddenKey(k: string): boolean {
  return FORBIDDEN.has(k);
}

/** Reads an own property; never walks the prototype chain. */
export function getOwn(obj: unknown, key: string | number): unknown {
  if (obj === null || obj === undefined) return undefined;
  if (typeof obj === 'string') {
    if (key === 'length') return obj.length;
    return typeof key === 'number' || /^\d+$/.test(key) ? obj[Number(key)] : undefined;
  }
  if (typeof obj !== 'object') return undefined;
  const k = String(key);
  if (FORBIDDEN.has(k)) return undefined;
  if (Array.isArray(obj) && k === 'length') return obj.length;
  return Object.prototype.hasOwnProperty.call(obj, k) ? (obj as Record<string, unknown>)[k] : undefined;
}

// ---- helpers (the template language's function library) ----

function toDate(d: unknown): Date {
  let date: Date;
  if (d instanceof Date) date = d;
  else if (typeof d === 'number') date = new Date(d);
  else if (typeof d === 'string' && /^\d+$/.test(d)) date = new Date(Number(d));
  else date = new Date(Date.parse(String(d)));
  if (Number.isNaN(date.getTime())) throw new CascadeError(ChangepropErrors.templateEval, `date(): invalid date ${JSON.stringify(d)}`);
  return date;
}

function plainObject(v: unknown, fn: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object') throw new CascadeError(ChangepropErrors.templateEval, `${fn}(): argument must be an object`);
  return v as Record<string, unknown>;
}

function copyOwn(src: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(src)) if (!FORBIDDEN.has(k)) out[k] = src[k];
  return out;
}

export const HELPERS: Record<string, (...args: unknown[]) => unknown> = {
  /** `default(x, d)`: x when truthy, else d (hyperswitch semantics). */
  default: (val, def) => val || def,
  /** `merge(a, b)`: a copy of a with b's properties added where a has none. */
  merge: (a, b) => {
    const out = copyOwn(plainObject(a, 'merge'));
    const src = plainObject(b, 'merge');
    for (const k of Object.keys(src)) if (!FORBIDDEN.has(k) && out[k] === undefined) out[k] = src[k];
    return out;
  },
  /** `strip(obj, 'name' | ['a','b'])`: a copy without the named properties. */
  strip: (obj, props) => {
    if (typeof obj !== 'object' || obj === null) throw new CascadeError(ChangepropErrors.templateEval, 'strip(): can only be applied to objects');
    const out = copyOwn(obj as Record<string, unknown>);
    if (typeof props === 'string') delete out[props];
    else if (Array.isArray(props)) for (const p of props) delete out[String(p)];
    else throw new CascadeError(ChangepropErrors.templateEval, 'strip(): properties must be a string or an array');
    return out;
  },
  /** `filter(obj, ['a','b'])`: only the named properties. */
  filter: (obj, pred) => {
    if (typeof obj !== 'object' || obj === null) throw new CascadeError(ChangepropErrors.templateEval, 'filter(): can only be applied to objects');
    if (!Array.isArray(pred)) throw new CascadeError(ChangepropErrors.templateEval, 'filter(): the predicate must be an array');
    const out: Record<string, unknown> = {};
    for (const k of pred) out[String(k)] = getOwn(obj, String(k));
    return out;
  },
  /** `date(x, 'rfc822' | 'iso' | 'timeuuid')`, rfc822 by default (an HTTP-date). */
  date: (d, format) => {
    const date = toDate(d);
    switch (format ?? 'rfc822') {
      case 'rfc822':
        return date.toUTCString();
      case 'iso':
        return date.toISOString();
      case 'timeuuid':
        return tidAt(date.getTime());
      default:
        throw new CascadeError(ChangepropErrors.templateEval, `date(): unsupported format ${JSON.stringify(format)}`);
    }
  },
  /** `decode(s)`: percent-decoding (the value as it is when it is not valid percent-encoding). */
  decode: (s) => {
    if (s === undefined || s === null) return s;
    try {
      return decodeURIComponent(String(s));
    } catch {
      return String(s);
    }
  },
  /** `timeuuid()`: a new time-based UUID (v1), now. */
  timeuuid: () => newTid(),
};

// ---- tokenizer ----

type Tok =
  | { t: 'id'; v: string; p: number }
  | { t: 'str'; v: string; p: number }
  | { t: 'num'; v: number; p: number }
  | { t: 'punct'; v: string; p: number }
  | { t: 'eof'; p: number };

function fail(src: string, pos: number, msg: string): never {
  throw new CascadeError(ChangepropErrors.invalidTemplate, `${msg} at position ${pos} in expression ${JSON.stringify(src)}`);
}

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      // Identifiers may contain dashes (hyperswitch templates allow `{{name-with-dashes}}`).
      while (j < src.length && /[\w$-]/.test(src[j])) j++;
      out.push({ t: 'id', v: src.slice(i, j), p: i });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < src.length && /[0-9.eE]/.test(src[j])) j++;
      const n = Number(src.slice(i, j));
      if (Number.isNaN(n)) fail(src, i, 'bad number');
      out.push({ t: 'num', v: n, p: i });
      i = j;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) {
          const e = src[j + 1];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) fail(src, i, 'unterminated string');
      out.push({ t: 'str', v: s, p: i });
      i = j + 1;
      continue;
    }
    if ('.[](){},:'.includes(c)) {
      out.push({ t: 'punct', v: c, p: i });
      i++;
      continue;
    }
    fail(src, i, `unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ t: 'eof', p: src.length });
  return out;
}

// ---- parser: recursive descent straight to closures ----

/** Roots that name the whole scope, as swagger-router's `$` and `globals`. */
const SCOPE_ALIASES = new Set(['$', 'globals', 'global']);

export interface CompiledExpr {
  source: string;
  evaluate: Evaluator;
  /** Top-level names the expression reads (e.g. `message`, `match`). */
  roots: Set<string>;
}

export function compileExpression(source: string): CompiledExpr {
  const toks = tokenize(source);
  let k = 0;
  const roots = new Set<string>();
  const peek = () => toks[k];
  const isP = (v: string) => {
    const t = toks[k];
    return t.t === 'punct' && t.v === v;
  };
  const expect = (v: string) => {
    if (!isP(v)) fail(source, toks[k].p, `expected '${v}'`);
    k++;
  };
  const checkKey = (key: string, pos: number) => {
    if (FORBIDDEN.has(key)) fail(source, pos, `access to '${key}' is not allowed`);
  };

  function parseExpr(): Evaluator {
    return parsePostfix(parsePrimary());
  }

  function parseArgs(): Evaluator[] {
    expect('(');
    const args: Evaluator[] = [];
    if (!isP(')')) {
      args.push(parseExpr());
      while (isP(',')) {
        k++;
        args.push(parseExpr());
      }
    }
    expect(')');
    return args;
  }

  function helperCall(name: string, pos: number): Evaluator {
    if (!Object.prototype.hasOwnProperty.call(HELPERS, name)) fail(source, pos, `unknown function ${name}()`);
    const fn = HELPERS[name];
    const args = parseArgs();
    return (s) => fn(...args.map((a) => a(s)));
  }

  function parsePrimary(): Evaluator {
    const t = peek();
    if (t.t === 'str' || t.t === 'num') {
      k++;
      const v = t.v;
      return () => v;
    }
    if (t.t === 'punct' && t.v === '{') return parseObject();
    if (t.t === 'punct' && t.v === '[') return parseArray();
    if (t.t === 'punct' && t.v === '(') {
      k++;
      const e = parseExpr();
      expect(')');
      return e;
    }
    if (t.t === 'id') {
      k++;
      const name = t.v;
      if (name === 'true') return () => true;
      if (name === 'false') return () => false;
      if (name === 'null') return () => null;
      if (name === 'undefined') return () => undefined;
      if (name === '$$') {
        // `$$.helper(...)`: the legacy spelling of a helper call.
        expect('.');
        const f = peek();
        if (f.t !== 'id') fail(source, f.p, 'expected a function name after $$.');
        k++;
        return helperCall(f.v, f.p);
      }
      if (isP('(')) return helperCall(name, t.p);
      if (SCOPE_ALIASES.has(name)) return (s) => s;
      checkKey(name, t.p);
      roots.add(name);
      return (s) => getOwn(s, name);
    }
    fail(source, t.p, t.t === 'eof' ? 'unexpected end of expression' : `unexpected '${'v' in t ? t.v : ''}'`);
  }

  function parsePostfix(base: Evaluator): Evaluator {
    let cur = base;
    for (;;) {
      if (isP('.')) {
        k++;
        const t = peek();
        if (t.t !== 'id' && t.t !== 'num') fail(source, t.p, 'expected a property name after .');
        k++;
        const key = String(t.v);
        checkKey(key, t.p);
        const prev = cur;
        cur = (s) => getOwn(prev(s), key);
      } else if (isP('[')) {
        k++;
        const idx = parseExpr();
        expect(']');
        const prev = cur;
        cur = (s) => {
          const key = idx(s);
          if (typeof key !== 'string' && typeof key !== 'number') return undefined;
          return getOwn(prev(s), key);
        };
      } else return cur;
    }
  }

  function parseObject(): Evaluator {
    expect('{');
    const entries: [string, Evaluator][] = [];
    while (!isP('}')) {
      const t = peek();
      if (t.t !== 'id' && t.t !== 'str' && t.t !== 'num') fail(source, t.p, 'expected a key');
      k++;
      const key = String(t.v);
      checkKey(key, t.p);
      expect(':');
      entries.push([key, parseExpr()]);
      if (isP(',')) k++;
      else if (!isP('}')) fail(source, peek().p, "expected ',' or '}'");
    }
    k++;
    return (s) => {
      const o: Record<string, unknown> = {};
      for (const [key, e] of entries) o[key] = e(s);
      return o;
    };
  }

  function parseArray(): Evaluator {
    expect('[');
    const items: Evaluator[] = [];
    while (!isP(']')) {
      items.push(parseExpr());
      if (isP(',')) k++;
      else if (!isP(']')) fail(source, peek().p, "expected ',' or ']'");
    }
    k++;
    return (s) => items.map((e) => e(s));
  }

  if (source.trim() === '') fail(source, 0, 'empty expression');
  const evaluate = parseExpr();
  if (peek().t !== 'eof') fail(source, peek().p, 'unexpected trailing input');
  return { source, evaluate, roots };
}
