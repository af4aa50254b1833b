// Exec URI templates: event values can fill a URI, never reshape it.
//
// Every expression of a `uri` template has a position, known when the rule compiles from the
// literal text around it: scheme, authority, path, query or fragment (or `whole` for a
// template that starts with an expression, such as '{{message.meta.uri}}'). A value is
// encoded for its position, so it cannot leave it:
//   path      `{{x}}` one segment: everything but unreserved and sub-delims is percent-encoded
//             (`/` `?` `#` `\` included), valid `%XX` escapes are kept (pre-encoded titles
//             captured from meta.uri); `{x}` and `{/x}` encodeURIComponent; `{+x}` keeps `/`.
//   query     `{{x}}` and `{+x}` cannot add `#`; `{{x}}` cannot add `&` or `=` either.
//   scheme    http or https only; authority: a host name and port, nothing else.
// After expansion: no `.`/`..` path segment (WHATWG URL parsing would resolve it, `%2e`
// included), a relative template stays a path (never `//host`), and a template with a literal
// origin (`http://host:port/...`) keeps exactly that origin (checked by the HTTP executor,
// which parses the URL anyway: `ExpandedRequest.origin`). Templates whose scheme or host is
// a variable ('//{{message.meta.domain}}/...', '{{message.meta.uri}}') are `variable`: the
// HTTP executor allows them only hosts of the configured domains and their origins.
import { CascadeError } from '../errors/index.ts';
import { ChangepropErrors } from './errors.ts';
import { hasTemplate, splitTemplate, stringify, wellFormed, type Part } from './template.ts';
import type { Scope } from './expr.ts';

/** What a template's origin is: a literal one, Cascade's (relative URI), or from the event. */
export type UriTarget = 'fixed' | 'relative' | 'variable';

type Pos = 'scheme' | 'authority' | 'whole' | 'path' | 'query' | 'fragment';

export interface UriTemplate {
  target: UriTarget;
  /** The literal origin of a `fixed` template. */
  origin?: string;
  expand(scope: Scope): string;
}

const fail = (detail: string): never => {
  throw new CascadeError(ChangepropErrors.templateEval, detail);
};

// What stays as it is; everything else is percent-encoded (valid `%XX` escapes are kept).
// Path segment: RFC 3986 unreserved and sub-delims, ':' and '@'; `{+x}` adds '/'.
// Query value: unreserved and sub-delims that cannot split a parameter; `{+x}` adds '&=+'.
const ENCODERS = {
  segment: encoder("A-Za-z0-9\\-._~!$&'()*+,;=:@"),
  path: encoder("A-Za-z0-9\\-._~!$&'()*+,;=:@/"),
  query: encoder("A-Za-z0-9\\-._~!$'()*,;:@/?"),
  queryPlus: encoder("A-Za-z0-9\\-._~!$'()*,;:@/?&=+"),
};

function encoder(safe: string): (s: string) => string {
  const clean = new RegExp(`^[${safe}]*$`);
  const unsafe = new RegExp(`[^${safe}%]|%(?![0-9A-Fa-f]{2})`, 'gu');
  // Most values (domains, titles, ids) need nothing: one test, no copy.
  return (s) => (clean.test(s) ? s : wellFormed(s).replace(unsafe, (c) => encodeURIComponent(c)));
}

function encodeFor(pos: Pos, kind: Exclude<Part, string>['kind'], v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = stringify(v);
  switch (pos) {
    case 'scheme':
      if (!/^https?$/i.test(s)) fail(`a URI scheme must be http or https, not ${JSON.stringify(s.slice(0, 40))}`);
      return s;
    case 'authority':
      if (!/^[A-Za-z0-9.-]*(:[0-9]{1,5})?$/.test(s)) fail(`not a host name: ${JSON.stringify(s.slice(0, 80))}`);
      return s;
    case 'whole':
      return s;
    case 'path':
      if (kind === 'enc') return encodeURIComponent(wellFormed(s));
      if (kind === 'opt') return '/' + encodeURIComponent(wellFormed(s));
      return kind === 'plus' ? ENCODERS.path(s) : ENCODERS.segment(s);
    case 'query':
    case 'fragment':
      if (kind === 'enc') return encodeURIComponent(wellFormed(s));
      if (kind === 'opt') return '/' + encodeURIComponent(wellFormed(s));
      return kind === 'plus' && pos === 'query' ? ENCODERS.queryPlus(s) : ENCODERS.query(s);
  }
}

/** Advances the position over literal text. */
function scan(pos: Pos, text: string): Pos {
  let p = pos;
  for (const c of text) {
    if (p === 'fragment') break;
    if (c === '#') p = 'fragment';
    else if (c === '?' && p !== 'query') p = 'query';
    else if (c === '/' && p === 'authority') p = 'path';
  }
  return p;
}

// A `.` or `..` segment, as URL parsing recognizes them (`%2e` too, `\\` as a separator).
const DOT_SEGMENT = /(?:^|[/\\])((?:\.|%2e){1,2})(?=[/\\]|$)/i;

/** Throws when the path of an expanded URI has a `.` or `..` segment. */
function checkDotSegments(uri: string): void {
  const end = uri.search(/[?#]/);
  const m = DOT_SEGMENT.exec(end < 0 ? uri : uri.slice(0, end));
  if (m) fail(`the expanded URI has a '${m[1]}' path segment: ${uri.slice(0, 200)}`);
}

/** The origin of an absolute URI (`//host` ones: scheme-less, `//host:port`). */
function originOf(uri: string): string | undefined {
  try {
    if (uri.startsWith('//')) return '//' + new URL('http:' + uri).host;
    const o = new URL(uri).origin;
    return o === 'null' ? undefined : o;
  } catch {
    return undefined;
  }
}

/** True when `u` has the origin `origin` (as originOf gives it). */
export function hasOrigin(u: URL, origin: string): boolean {
  return origin.startsWith('//') ? '//' + u.host === origin : u.origin === origin;
}

export function compileUriTemplate(spec: string): UriTemplate {
  const parts: Part[] = hasTemplate(spec) ? splitTemplate(spec) : [spec];
  const first = parts[0];
  let pos: Pos;
  let start = 0;
  let target: UriTarget;
  let origin: string | undefined;
  if (typeof first === 'string') {
    const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(first) ?? /^\/\//.exec(first);
    if (abs) {
      pos = scan('authority', first.slice(abs[0].length));
      // The literal text reaches past the authority (or is the whole template): a fixed origin.
      if (pos !== 'authority' || parts.length === 1) {
        target = 'fixed';
        origin = originOf(first);
        if (!origin) throw new CascadeError(ChangepropErrors.invalidTemplate, `not a valid URI: ${spec}`);
      } else target = 'variable';
    } else {
      target = 'relative';
      pos = scan('path', first);
    }
    start = 1;
  } else {
    target = 'variable';
    const next = parts[1];
    pos = typeof next === 'string' && next.startsWith('://') ? 'scheme' : 'whole';
  }
  // Each expression's position, fixed at compile time.
  const steps: { text?: string; part?: Exclude<Part, string>; pos: Pos }[] = [];
  if (start === 1) steps.push({ text: first as string, pos });
  for (let i = start; i < parts.length; i++) {
    const p = parts[i];
    if (typeof p === 'string') {
      if (pos === 'scheme' && p.startsWith('://')) pos = scan('authority', p.slice(3));
      else pos = scan(pos === 'whole' ? 'path' : pos, p);
      steps.push({ text: p, pos });
    } else steps.push({ part: p, pos });
  }
  return {
    target,
    origin,
    expand(scope) {
      let out = '';
      for (const s of steps) out += s.text ?? encodeFor(s.pos, s.part!.kind, s.part!.eval(scope));
      if (target === 'relative' && (!out.startsWith('/') || out[1] === '/' || out[1] === '\\')) {
        fail(`a relative URI template must expand to a path on Cascade, got ${JSON.stringify(out.slice(0, 200))}`);
      }
      checkDotSegments(out);

      return out;
    },
  };
}
