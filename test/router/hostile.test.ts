// Hostile input against a started Cascade (example wiki behind it): a few hundred generated
// requests over titles, revisions, tids, paths, methods, headers, bodies and content types,
// and the internal storage API. No answer is a 5xx, every error is problem+json with type,
// title and detail, nothing hangs, and the server still serves a page afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startHarness, type Harness } from '../content/harness.ts';

interface Probe {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send from behind a proxy (an external caller). */
  external?: boolean;
}

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
}

/** Raw http.request: no URL normalisation, any method and header the parser allows. */
function send(base: URL, p: Probe): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(p.external ? { 'x-forwarded-for': '203.0.113.66' } : {}), ...p.headers };
    const req = request({ host: base.hostname, port: base.port, method: p.method, path: p.path, headers, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 20 s: ${p.method} ${p.path}`)));
    req.on('error', reject);
    req.end(p.body);
  });
}

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TITLES = [
  'Larkford', 'Main_Page', 'Silver_river', '%EF%BB%BFLarkford', 'Larkford%EF%BB%BF', '%E2%80%8ELarkford', '%C2%A0Larkford',
  '%00', 'A%00B', '%0A', '%0D%0ASet-Cookie:x', '%7F', '%', '%ZZ', '%C0%80', '%ED%A0%80', '%FF%FE', '%EF%BF%BE', '%EF%BF%BF',
  '..', '.', '.%2F..%2Fetc%2Fpasswd', '~~~~', 'Talk:Talk:X', ':', '::', ':Larkford', 'Larkford%23frag', '%23', '__proto__',
  'constructor', 'toString', 'hasOwnProperty', 'Special:Version', 'Special:%00', 'Media:X', 'File:', 'User:127.0.0.1',
  'User:%3A%3A1', '%3Cscript%3E', '%5B%5Bx%5D%5D', '%7B%7D', '%7C', 'A%2FB', encodeURIComponent('😀'.repeat(70)),
  'x'.repeat(256), 'x'.repeat(5000), encodeURIComponent('ü'.repeat(200)), '%D7%A9%D7%9C%D7%95%D7%9D', 'Larkford%20%20', '_Larkford_',
  '%25', '%2525', '%26amp%3B', '%26%2332%3B', 'Foo%3F', 'Foo%3Fredirect%3Dfalse',
];
const REVISIONS = ['1', '0', '-1', '1e3', '1.5', '0x10', 'abc', '99999999999999999999', '9007199254740993', '%20', '__proto__', '2'];
const TIDS = ['00000000-0000-1000-8000-000000000000', 'not-a-tid', 'A0A0A0A0-0000-1000-8000-000000000000', '__proto__', '6ba7b810-9dad-41d1-80b4-00c04fd430c8', '%00'];
const ENDPOINTS = ['html', 'summary', 'mobile-sections', 'mobile-sections-lead', 'mobile-sections-remaining', 'title'];
const PREFIXES = ['/example.wiki/v1', '/api/rest_v1'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'PROPFIND', 'FOO'];
const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data', 'multipart/form-data; boundary=zz', 'text/plain', 'application/json; charset=utf-16', 'application/problem+json', '*/*', ';;;', 'application/cloudevents-batch+json'];
const BODIES: (string | Buffer)[] = [
  '', '{', '[]', 'null', '"x"', '{"wikitext":"hello"}', '{"wikitext":{"a":1}}', 'wikitext=%FF', 'wikitext=' + 'a'.repeat(1000),
  '--zz\r\nContent-Disposition: form-data; name="wikitext"\r\n\r\nhi\r\n--zz--\r\n', '--zz\r\nbroken', Buffer.from([0xff, 0xfe, 0, 1, 2]),
  '{"__proto__":{"polluted":1},"wikitext":"x"}', '{"constructor":{"prototype":{"polluted":1}}}', '[' + '['.repeat(5000) + ']'.repeat(5000) + ']',
];
const HEADER_SETS: Record<string, string>[] = [
  {},
  { 'accept-encoding': 'br;q=0, gzip;q=abc, *;q=-1' },
  { 'if-none-match': '"' + 'x'.repeat(2000) + '"' },
  { 'if-none-match': '*' },
  { 'cache-control': 'no-cache' },
  { 'cache-control': 'no-cache', 'if-unmodified-since': 'yesterday' },
  { host: '__proto__' },
  { host: 'constructor:80' },
  { host: 'example.wiki:99999' },
  { 'x-request-id': 'x'.repeat(300) },
  { range: 'bytes=-1-2' },
  { accept: 'application/json; q=NaN' },
  { 'x-cascade-internal': 'guess' },
  { forwarded: 'for="[::1]"' },
  { 'x-real-ip': '127.0.0.1' },
];

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

function generate(seed: number, n: number): Probe[] {
  const r = rng(seed);
  const out: Probe[] = [];
  // Every title, revision and tid at least once, then random combinations.
  for (const t of TITLES) out.push({ method: 'GET', path: `${pick(r, PREFIXES)}/page/${pick(r, ENDPOINTS)}/${t}`, external: r() < 0.5 });
  for (const rev of REVISIONS) out.push({ method: 'GET', path: `/api/rest_v1/page/html/Larkford/${rev}`, external: true });
  for (const rev of REVISIONS) out.push({ method: 'GET', path: `/example.wiki/v1/page/revision/${rev}` });
  for (const tid of TIDS) out.push({ method: 'GET', path: `/example.wiki/v1/page/html/Larkford/1/${tid}`, external: true });
  const fixed = [
    '/', '//', '/../', '/%2e%2e/', '/example.wiki', '/example.wiki/', '/example.wiki/v1', '/example.wiki/v1/', '/example.wiki/v1/?spec',
    '/api/rest_v1/?spec', '/_swagger/__proto__', '/_swagger/constructor', '/_swagger/toString', '/_swagger/hasOwnProperty',
    '/_swagger/valueOf', '/_swagger/..%2Fpackage.json', '/_swagger/%00', '/_swagger/init.js', '/__proto__/v1/page/html/X',
    '/constructor/v1/page/html/X', '/toString/v1/', '/prototype/v1/page/title/X', '/example.wiki/v1/page/', '/example.wiki/v1/page/title/',
    '/example.wiki/v1/page/title/?page=%%%', '/example.wiki/v1/page/html/Larkford/', '/example.wiki/v1/page/html/Larkford/?page=__proto__',
    '/example.wiki/v1/page/html/Larkford/?page=' + 'A'.repeat(3000), '/example.wiki/v1/page/html/Larkford?redirect=__proto__',
    '/metrics', '/v1/events', '/v1/events?hasty=__proto__', '/example.wiki/sys/', '/example.wiki/sys/key_value/', '/favicon.ico',
    '/api/rest_v1/page/revision/', '/api/rest_v1/page/html/Larkford/title/extra/segments', '/api/rest_v1/transform/wikitext/to/html/X',
  ];
  for (const path of fixed) out.push({ method: 'GET', path, external: r() < 0.5 });
  // The internal storage API, from inside (loopback) and from outside.
  const sysPaths = [
    '/example.wiki/sys/key_value/page-meta/Larkford', '/example.wiki/sys/key_value/__proto__/x', '/example.wiki/sys/key_value/constructor/',
    '/example.wiki/sys/key_value/nope/x', '/example.wiki/sys/key_rev_value/html/Larkford/', '/example.wiki/sys/key_rev_value/html/Larkford/abc',
    '/example.wiki/sys/key_rev_value/html/Larkford/1/nottid', '/example.wiki/sys/key_rev_value/html/Larkford/-1', '/example.wiki/sys/key_rev_value/html/' + 'k'.repeat(3000),
    '/example.wiki/sys/key_rev_value/html/?limit=-5', '/example.wiki/sys/key_rev_value/html/?limit=abc&page=%%', '/example.wiki/sys/key_value/page-meta/%00',
    '/__proto__/sys/key_value/page-meta/x', '/example.wiki/sys/content/page/Larkford/moved', '/example.wiki/sys/content/revision/abc/visibility',
    '/example.wiki/sys/content/page/__proto__/deleted',
  ];
  for (const path of sysPaths) {
    for (const method of ['GET', 'PUT', 'DELETE', 'POST']) {
      out.push({
        method,
        path,
        external: r() < 0.3,
        headers: method === 'PUT' || method === 'POST' ? { 'content-type': pick(r, CONTENT_TYPES), ...(r() < 0.4 ? { 'x-cascade-headers': pick(r, ['{', '[]', '{"a\\r\\nb":"c"}', '{"x":1}', '{"__proto__":"x"}']) } : {}) } : {},
        ...(method === 'PUT' || method === 'POST' ? { body: pick(r, BODIES) } : {}),
      });
    }
  }
  // Random combinations of method, endpoint, title, headers and bodies.
  while (out.length < n) {
    const method = pick(r, METHODS);
    const title = pick(r, TITLES);
    const kind = r();
    let path: string;
    if (kind < 0.35) path = `${pick(r, PREFIXES)}/page/${pick(r, ENDPOINTS)}/${title}`;
    else if (kind < 0.5) path = `${pick(r, PREFIXES)}/page/html/${title}/${pick(r, REVISIONS)}`;
    else if (kind < 0.6) path = `${pick(r, PREFIXES)}/page/html/${title}/${pick(r, REVISIONS)}/${pick(r, TIDS)}`;
    else if (kind < 0.75) path = `${pick(r, PREFIXES)}/transform/wikitext/to/html/${title}`;
    else if (kind < 0.85) path = `${pick(r, PREFIXES)}/page/wikitext/${title}`;
    else path = pick(r, ['/v1/events', '/v1/events?hasty=true', '/example.wiki/sys/key_value/page-meta/' + title]);
    const post = method === 'POST' || method === 'PUT' || method === 'PATCH';
    out.push({
      method,
      path,
      external: r() < 0.6,
      headers: { ...pick(r, HEADER_SETS), ...(post ? { 'content-type': pick(r, CONTENT_TYPES) } : {}) },
      ...(post ? { body: pick(r, BODIES) } : {}),
    });
  }
  return out;
}

describe('hostile input over HTTP', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  /** Sends the probes a few at a time; returns the failures and the number of error answers. */
  async function run(probes: Probe[]): Promise<{ failures: string[]; errors: number }> {
    const base = new URL(h.url);
    const failures: string[] = [];
    let errors = 0;
    // A few at a time: enough overlap to find races, not so much the 2-core machine times out.
    for (let i = 0; i < probes.length; i += 6) {
      const batch = probes.slice(i, i + 6);
      const replies = await Promise.all(batch.map((p) => send(base, p).catch((e: Error) => e)));
      replies.forEach((reply, j) => {
        const p = batch[j]!;
        const what = `${p.method} ${p.path.slice(0, 120)}${p.external ? ' (external)' : ''} ${JSON.stringify(p.headers ?? {}).slice(0, 120)}`;
        if (reply instanceof Error) return void failures.push(`${what}: ${reply.message}`);
        if (reply.status >= 500) failures.push(`${what}: ${reply.status} ${reply.body.slice(0, 300)}`);
        if (reply.status >= 400) {
          errors++;
          if (p.method === 'HEAD') return;
          if (!reply.type?.startsWith('application/problem+json')) return void failures.push(`${what}: ${reply.status} as ${reply.type}: ${reply.body.slice(0, 200)}`);
          let doc: Record<string, unknown>;
          try {
            doc = JSON.parse(reply.body) as Record<string, unknown>;
          } catch {
            return void failures.push(`${what}: ${reply.status} problem+json that is no JSON`);
          }
          for (const k of ['type', 'title', 'detail']) {
            if (typeof doc[k] !== 'string' || doc[k] === '') failures.push(`${what}: ${reply.status} problem without ${k}`);
          }
          if (doc.status !== reply.status) failures.push(`${what}: problem status ${String(doc.status)} on a ${reply.status}`);
        }
      });
    }
    return { failures, errors };
  }

  it('a few hundred generated requests: no 5xx, problem+json on every error, still serving', async () => {
    const base = new URL(h.url);
    const probes = generate(20261203, 420);
    const { failures, errors } = await run(probes);
    assert.deepEqual(failures, [], `${failures.length} of ${probes.length} requests failed:\n${failures.slice(0, 40).join('\n')}`);
    assert.ok(errors > 150, `only ${errors} error answers: the generator lost its teeth`);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
    const page = await send(base, { method: 'GET', path: '/api/rest_v1/page/html/Larkford' });
    assert.equal(page.status, 200);
    assert.match(page.body, /Larkford/);
  });

  it('prototype names are plain names: 404 problem+json for assets, domains and buckets', async () => {
    const base = new URL(h.url);
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__']) {
      const cases: [string, number, string][] = [
        [`/_swagger/${name}`, 404, 'CASCADE_NOT_FOUND'],
        [`/${name}/v1/page/html/Larkford`, 404, 'CASCADE_CONTENT_UNKNOWN_DOMAIN'],
        [`/${name}/v1/`, 404, 'CASCADE_CONTENT_UNKNOWN_DOMAIN'],
        [`/example.wiki/sys/key_value/${name}/k`, 404, 'CASCADE_STORAGE_UNKNOWN_BUCKET'],
      ];
      for (const [path, status, code] of cases) {
        const r = await send(base, { method: 'GET', path });
        assert.equal(r.status, status, `${path}: ${r.body.slice(0, 200)}`);
        assert.equal(r.type, 'application/problem+json', path);
        assert.equal((JSON.parse(r.body) as { code: string }).code, code, path);
      }
      // A form field of that name is just a field.
      const form = await send(base, {
        method: 'POST',
        path: '/api/rest_v1/transform/wikitext/to/html/Larkford',
        headers: { 'content-type': 'multipart/form-data; boundary=zz' },
        body: `--zz\r\nContent-Disposition: form-data; name="${name}"\r\n\r\nx\r\n--zz--\r\n`,
      });
      assert.equal(form.status, 400, `form field ${name}: ${form.body.slice(0, 200)}`);
      assert.match(form.body, /`wikitext` is required/);
    }
  });

  it('titles: invisible characters MediaWiki strips answer 301 to the canonical title, refused ones 400', async () => {
    const base = new URL(h.url);
    const cases: [string, number, string?][] = [
      ['%E2%80%8ELarkford', 301, '/api/rest_v1/page/html/Larkford'],
      ['%C2%A0Larkford%E3%80%80', 301, '/api/rest_v1/page/html/Larkford'],
      ['Silver%E2%80%82River', 301, '/api/rest_v1/page/html/Silver_River'],
      ['%EF%BB%BFLarkford', 400],
      ['Lark%EF%BB%BFford', 400],
      ['Larkford%00', 400],
      ['Larkford%EF%BF%BE', 400],
      ['Larkford%C0%80', 400],
    ];
    for (const [title, status, location] of cases) {
      const r = await new Promise<{ status: number; location?: string; type?: string; body: string }>((resolve, reject) => {
        request({ host: base.hostname, port: base.port, path: `/api/rest_v1/page/html/${title}`, headers: { 'x-forwarded-for': '203.0.113.8' } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, type: res.headers['content-type'], body }));
        })
          .on('error', reject)
          .end();
      });
      assert.equal(r.status, status, `${title}: ${r.body.slice(0, 200)}`);
      if (location) assert.equal(r.location, location, title);
      else {
        assert.equal(r.type, 'application/problem+json', title);
        assert.match(r.body, /"title_error":"title-invalid-(characters|utf8)"/, title);
      }
    }
  });

  // Event bodies the intake must refuse with 400 (src/events: nesting depth and $schema limits;
  // an unknown but well-formed $schema is a 400 too unless events.unloadable_schema: error).
  it('hostile event bodies: 4xx problem+json, never 5xx', async () => {
    const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    const ev = (x: string, schema = '/mediawiki/page/delete/1.0.0') =>
      `{"$schema":${JSON.stringify(schema)},"meta":{"stream":"mediawiki.page-delete","domain":"example.wiki","uri":"https://example.wiki/wiki/X","dt":"2026-01-01T00:00:00Z"},"x":${x}}`;
    const bodies = [ev(deep(5000)), ev(deep(100_000)), ev('1', '/mediawiki/page/delete/1.0.0\u0000'), ev('1', `/mediawiki/page/delete/${'x'.repeat(300)}`), `[${ev('[' + '['.repeat(20_000) + ']'.repeat(20_000) + ']')}]`];
    const probes: Probe[] = bodies.map((body) => ({ method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/json' }, body }));
    const { failures } = await run(probes);
    assert.deepEqual(failures, [], failures.join('\n'));
  });
});
