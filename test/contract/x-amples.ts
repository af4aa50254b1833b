// Runs the x-amples of RESTBase's and the mobile content service's published API specs
// (fixtures/x-amples.json, with its source and licence) against a Cascade, as Wikimedia's
// service checker runs them against production: the request from the x-ample (path params,
// query, headers, body), then status, headers and body checked against the expectation, where a
// value written `/…/` is a regular expression and anything else must be equal.
import { readFileSync } from 'node:fs';

export type Fetch = (path: string, init?: RequestInit) => Promise<Response>;

export interface XAmple {
  id: string;
  source: string;
  method: 'GET' | 'POST';
  path: string;
  title: string;
  request: { params?: Record<string, string | number>; query?: Record<string, unknown>; headers?: Record<string, string>; body?: unknown };
  response: { status?: number; headers?: Record<string, string>; body?: unknown };
}

export interface XAmpleResult {
  id: string;
  ok: boolean;
  failures: string[];
}

export function loadXAmples(): XAmple[] {
  const f = JSON.parse(readFileSync(new URL('./fixtures/x-amples.json', import.meta.url), 'utf8')) as { 'x-amples': XAmple[] };
  return f['x-amples'];
}

/** A path segment as Cascade's canonical URLs write titles (`/` encoded, `:` kept). */
const segment = (v: string | number) => encodeURIComponent(String(v)).replace(/%3A/g, ':');

function isPattern(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 2 && v.startsWith('/') && v.endsWith('/');
}

/** `expected` (an x-ample value) against `actual`; failures are pushed with their JSON path. */
export function matchValue(expected: unknown, actual: unknown, path: string, failures: string[]): void {
  if (isPattern(expected)) {
    const re = new RegExp(expected.slice(1, -1), 's');
    if (actual === undefined || actual === null || typeof actual === 'object' || !re.test(String(actual))) failures.push(`${path}: ${JSON.stringify(actual)?.slice(0, 120)} does not match ${expected}`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return void failures.push(`${path}: expected an array, got ${typeof actual}`);
    // Each expected element must match the element at its place (the checker's reading).
    expected.forEach((e, i) => matchValue(e, actual[i], `${path}[${i}]`, failures));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return void failures.push(`${path}: expected an object, got ${JSON.stringify(actual)?.slice(0, 80)}`);
    for (const [k, v] of Object.entries(expected)) {
      if (!(k in actual)) failures.push(`${path}.${k}: missing`);
      else matchValue(v, (actual as Record<string, unknown>)[k], `${path}.${k}`, failures);
    }
    return;
  }
  if (expected !== actual) failures.push(`${path}: ${JSON.stringify(actual)?.slice(0, 120)} !== ${JSON.stringify(expected)}`);
}

/**
 * Sends one x-ample. `domain` replaces the spec's (en.wikipedia.org); `titles` maps the spec's
 * titles to pages of the wiki under test; `fill` gives params the x-ample leaves out (the
 * `/{revision}` routes inherit their x-ample from the title route, which names no revision).
 */
export async function runXAmple(f: Fetch, x: XAmple, domain: string, titles: Record<string, string>, fill: Record<string, string | number>): Promise<XAmpleResult> {
  const failures: string[] = [];
  const params: Record<string, string | number> = { ...fill, ...x.request.params, domain };
  if (typeof params.title === 'string') params.title = titles[params.title] ?? params.title;
  let path = x.path.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'domain' ? domain : params[name] !== undefined ? segment(params[name]) : `{${name}}`));
  if (x.request.query) path += `?${new URLSearchParams(Object.entries(x.request.query).map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
  const headers: Record<string, string> = { ...(x.request.headers ?? {}) };
  let body: string | undefined;
  if (x.request.body !== undefined) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
    body = new URLSearchParams(Object.entries(x.request.body as Record<string, unknown>).map(([k, v]): [string, string] => [k, String(v)])).toString();
  }
  let r: Response;
  try {
    r = await f(path, { method: x.method, headers, ...(body !== undefined ? { body } : {}) });
  } catch (e) {
    return { id: x.id, ok: false, failures: [`request failed: ${String(e)}`] };
  }
  const text = await r.text();
  const want = x.response;
  if (want.status !== undefined && r.status !== want.status) failures.push(`status ${r.status} !== ${want.status}${r.status >= 400 ? `: ${text.slice(0, 200)}` : ''}`);
  for (const [name, v] of Object.entries(want.headers ?? {})) matchValue(v, r.headers.get(name) ?? undefined, `header ${name}`, failures);
  if (want.body !== undefined && r.status < 400) {
    if (typeof want.body === 'string') matchValue(want.body, text, 'body', failures);
    else {
      try {
        matchValue(want.body, JSON.parse(text), 'body', failures);
      } catch {
        failures.push(`body: not JSON: ${text.slice(0, 80)}`);
      }
    }
  }
  return { id: x.id, ok: failures.length === 0, failures };
}

/** The markdown table of a run (for the contract note). */
export function resultTable(results: { id: string; ok: boolean; reason: string }[], backend: string): string {
  const rows = results.map((r) => `| ${r.id} | ${backend} | ${r.ok ? 'pass' : 'fail'} | ${r.reason.replace(/\|/g, '\\|')} |`);
  return ['| x-ample | against | result | reason |', '|---|---|---|---|', ...rows].join('\n');
}
