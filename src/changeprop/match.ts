// `match` / `match_not` of change-propagation rules, compiled to closures (no eval):
// - an object: every key must match (nested AND);
// - a string '/regex/flags': the field is a string the regex matches; its captures become
//   `match.<path>` (named groups by name, numbered groups by index);
// - the string 'undefined': the field is absent;
// - an array: the field is an array and each pattern item matches some element;
// - anything else: the field equals the value exactly.
import { CascadeError } from '../errors/index.ts';
import { ChangepropErrors } from './errors.ts';
import { getOwn, isForbiddenKey } from './expr.ts';

export interface CompiledMatch {
  test(value: unknown): boolean;
  /** The match object (regex captures and literal values) for a value that passed `test`. */
  expand(value: unknown): unknown;
}

const REGEX_RE = /^\/(.+)\/([gimsuy]{0,6})$/s;

export function isRegexString(s: unknown): s is string {
  return typeof s === 'string' && REGEX_RE.test(s);
}

/** Compiles '/re/flags' (the `g` and `y` flags are dropped: matching must not keep state). */
export function compileRegexString(s: string): RegExp {
  const m = REGEX_RE.exec(s);
  if (!m) throw new CascadeError(ChangepropErrors.invalidRule, `not a /regex/: ${s}`);
  try {
    return new RegExp(m[1], m[2].replace(/[gy]/g, ''));
  } catch (e) {
    throw new CascadeError(ChangepropErrors.invalidRule, `invalid regular expression ${s}: ${(e as Error).message}`);
  }
}

function regexCaptures(re: RegExp, s: string): unknown {
  const m = re.exec(s);
  if (!m) return undefined;
  const arr: unknown[] = [...m];
  if (m.groups) {
    // Named groups by name (and still by index), as Wikimedia's rules use `match.meta.uri.title`.
    const o: Record<string, unknown> = {};
    arr.forEach((v, i) => (o[i] = v));
    for (const [k, v] of Object.entries(m.groups)) if (!isForbiddenKey(k)) o[k] = v;
    return o;
  }
  return arr;
}

export function compileMatch(spec: unknown, path = 'match'): CompiledMatch {
  if (Array.isArray(spec)) {
    const items = spec.map((it, i) => compileMatch(it, `${path}[${i}]`));
    return {
      test: (v) => Array.isArray(v) && items.every((it) => v.some((el) => it.test(el))),
      expand: (v) => (Array.isArray(v) ? items.map((it) => it.expand(v.find((el) => it.test(el)))) : undefined),
    };
  }
  if (spec !== null && typeof spec === 'object') {
    const entries: [string, CompiledMatch][] = [];
    for (const [k, sub] of Object.entries(spec as Record<string, unknown>)) {
      if (isForbiddenKey(k)) throw new CascadeError(ChangepropErrors.invalidRule, `${path}: key '${k}' is not allowed`);
      entries.push([k, compileMatch(sub, `${path}.${k}`)]);
    }
    return {
      test: (v) => {
        for (const [k, m] of entries) if (!m.test(getOwn(v, k))) return false;
        return true;
      },
      expand: (v) => {
        const o: Record<string, unknown> = {};
        for (const [k, m] of entries) o[k] = m.expand(getOwn(v, k));
        return o;
      },
    };
  }
  if (spec === 'undefined') return { test: (v) => v === undefined, expand: () => undefined };
  if (isRegexString(spec)) {
    const re = compileRegexString(spec);
    return {
      test: (v) => typeof v === 'string' && re.test(v),
      expand: (v) => (typeof v === 'string' ? regexCaptures(re, v) : undefined),
    };
  }
  return { test: (v) => v === spec, expand: () => spec };
}

/** `match_not`: an object (excluded when it matches) or an array of them (excluded when any matches). */
export function compileMatchNot(spec: unknown, path = 'match_not'): (v: unknown) => boolean {
  if (Array.isArray(spec)) {
    const alts = spec.map((s, i) => compileMatch(s, `${path}[${i}]`));
    return (v) => alts.some((a) => a.test(v));
  }
  const m = compileMatch(spec, path);
  return (v) => m.test(v);
}
