// End to end: the content API on the embedded default (SQLite store and log), in front of the
// example wiki started on a free port with its test hooks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Validator } from '@seriousme/openapi-schema-validator';
import { corpusPath } from '../helpers/corpus.ts';
import { renders, startHarness, type Harness } from './harness.ts';

let h: Harness;
const API = '/api/rest_v1';
const DOM = '/example.wiki/v1';
// Requests that come "through a CDN": not internal, so no-cache is ignored.
const EXTERNAL = { 'x-forwarded-for': '203.0.113.7' };

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await h.fetch(path, { headers, redirect: 'manual' });
  return { r, text: await r.text() };
}

async function wikiPost(path: string, form?: Record<string, string>) {
  const r = await fetch(h.wiki.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form ? new URLSearchParams(form).toString() : '',
  });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json() as Promise<Record<string, unknown>>;
}

async function resourceChanges(): Promise<string[]> {
  const recs = await h.app.events.log.read(`${h.app.config.datacenter}.resource_change`, 0, 10000);
  return recs.map((r) => (JSON.parse(r.value.toString('utf8')) as { meta: { uri: string } }).meta.uri);
}

async function edit(title: string, text: string) {
  const r = await h.fetch(`${API}/page/wikitext/${encodeURIComponent(title)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ wikitext: text, comment: 'test edit' }).toString(),
  });
  const body = (await r.json()) as Record<string, unknown>;
  assert.ok(r.status === 200 || r.status === 201, JSON.stringify(body));
  return body;
}

/** Same names and JSON types as the golden document, for every field both have. */
function assertSameShape(ours: unknown, golden: unknown, path: string, required: string[] = []): void {
  const kind = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
  assert.equal(kind(ours), kind(golden), `${path}: type`);
  if (kind(golden) !== 'object') return;
  const o = ours as Record<string, unknown>;
  const g = golden as Record<string, unknown>;
  for (const k of required) assert.ok(k in o, `${path}.${k} missing`);
  for (const k of Object.keys(g)) if (k in o) assertSameShape(o[k], g[k], `${path}.${k}`);
}

describe('content API: reads', () => {
  it('GET /page/ lists the entry points', async () => {
    const { r, text } = await get(`${API}/page/`);
    assert.equal(r.status, 200);
    const items = (JSON.parse(text) as { items: string[] }).items;
    for (const k of ['title', 'html', 'summary', 'mobile-sections']) assert.ok(items.includes(k));
  });

  it('miss renders through the origin once, then hits from the store with ETag, profile, Cache-Control, Surrogate-Key, Vary', async () => {
    const before = renders(h);
    const a = await get(`${API}/page/html/Larkford`);
    assert.equal(a.r.status, 200);
    assert.equal(renders(h), before + 1);
    const etag = a.r.headers.get('etag')!;
    assert.match(etag, /^"\d+\/[0-9a-f-]{36}"$/);
    const tid = etag.slice(1, -1).split('/')[1];
    assert.ok(a.text.includes(`<meta property="mw:TimeUuid" content="${tid}"/>`), 'tid meta in head');
    assert.ok(a.text.includes('Larkford'));
    assert.equal(a.r.headers.get('content-type'), 'text/html; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/HTML/2.1.0"');
    assert.match(a.r.headers.get('cache-control')!, /s-maxage=\d+/);
    assert.ok(a.r.headers.get('surrogate-key'));
    assert.match(a.r.headers.get('vary')!, /Accept-Encoding/);
    const b = await get(`${DOM}/page/html/Larkford`);
    assert.equal(b.r.status, 200);
    assert.equal(b.r.headers.get('etag'), etag);
    assert.equal(b.text, a.text);
    assert.equal(renders(h), before + 1, 'second read is a hit');
    assert.ok((await resourceChanges()).includes('https://example.wiki/api/rest_v1/page/html/Larkford'));
  });

  it('sends the stored compressed bytes when the client accepts them, decodes otherwise', async () => {
    await get(`${API}/page/html/Cascade`);
    const store = h.app.store;
    const rec = (await store.getLatest('example.wiki', 'html', 'Cascade'))!;
    const raw = await new Promise<{ enc: string | undefined; body: Buffer }>((resolve, reject) => {
      import('node:http').then(({ get: httpGet }) => {
        httpGet(`${h.url}${API}/page/html/Cascade`, { headers: { 'accept-encoding': 'br' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ enc: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
        }).on('error', reject);
      }, reject);
    });
    assert.equal(rec.encoding, 'br');
    assert.equal(raw.enc, 'br');
    assert.ok(raw.body.equals(rec.stored), 'the stored brotli bytes, as they are');
    const gz = await new Promise<Buffer>((resolve, reject) => {
      import('node:http').then(({ get: httpGet }) => {
        httpGet(`${h.url}${API}/page/html/Cascade`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          assert.equal(res.headers['content-encoding'], 'gzip');
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        }).on('error', reject);
      }, reject);
    });
    assert.ok(gunzipSync(gz).equals(rec.body()));
    const plain = await new Promise<{ enc: string | undefined; body: Buffer }>((resolve, reject) => {
      import('node:http').then(({ get: httpGet }) => {
        httpGet(`${h.url}${API}/page/html/Cascade`, { headers: { 'accept-encoding': 'identity' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ enc: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
        }).on('error', reject);
      }, reject);
    });
    assert.equal(plain.enc, undefined);
    assert.ok(plain.body.equals(rec.body()));
  });

  it('If-None-Match answers 304', async () => {
    const a = await get(`${API}/page/html/Larkford`);
    const etag = a.r.headers.get('etag')!;
    const b = await get(`${API}/page/html/Larkford`, { 'if-none-match': etag });
    assert.equal(b.r.status, 304);
    assert.equal(b.text, '');
    assert.equal(b.r.headers.get('etag'), etag);
    const c = await get(`${API}/page/html/Larkford`, { 'if-none-match': '"1/00000000-0000-1000-8000-000000000000"' });
    assert.equal(c.r.status, 200);
  });

  it('non-canonical titles answer 301 to the canonical URL', async () => {
    const a = await get(`${API}/page/html/Silver%20River?redirect=false`);
    assert.equal(a.r.status, 301);
    assert.equal(a.r.headers.get('location'), `${API}/page/html/Silver_River?redirect=false`);
    const b = await get(`${DOM}/page/summary/silver_River`);
    assert.equal(b.r.status, 301);
    assert.equal(b.r.headers.get('location'), `${DOM}/page/summary/Silver_River`);
  });

  it('redirect pages answer 302 to their target unless redirect=false', async () => {
    const a = await get(`${API}/page/html/Silver_river`);
    assert.equal(a.r.status, 302);
    assert.equal(a.r.headers.get('location'), `${API}/page/html/Silver_River`);
    const b = await get(`${API}/page/html/Silver_river?redirect=false`);
    assert.equal(b.r.status, 200);
    assert.match(b.text, /mw:PageProp\/redirect/);
    const c = await get(`${API}/page/summary/Silver_river`);
    assert.equal(c.r.status, 302);
    assert.equal(c.r.headers.get('location'), `${API}/page/summary/Silver_River`);
  });

  it('a page that does not exist is a 404 problem+json', async () => {
    const a = await get(`${API}/page/html/No_such_page_here`);
    assert.equal(a.r.status, 404);
    assert.equal(a.r.headers.get('content-type'), 'application/problem+json');
    assert.equal((JSON.parse(a.text) as { status: number }).status, 404);
    const bad = await get(`${API}/page/html/%5Bbad%5D`);
    assert.equal(bad.r.status, 400);
    const badRev = await get(`${API}/page/html/Larkford/abc`);
    assert.equal(badRev.r.status, 400);
  });

  it('title, revision and listing endpoints', async () => {
    const t = await get(`${API}/page/title/Larkford`);
    assert.equal(t.r.status, 200);
    const item = (JSON.parse(t.text) as { items: Record<string, unknown>[] }).items[0];
    assert.equal(item.title, 'Larkford');
    assert.equal(typeof item.rev, 'number');
    assert.equal(typeof item.page_id, 'number');
    const revs = await get(`${API}/page/title/Larkford/`);
    assert.equal(revs.r.status, 200);
    const ritems = (JSON.parse(revs.text) as { items: { rev: number }[] }).items;
    assert.ok(ritems.length >= 1);
    assert.equal(ritems[0].rev, item.rev);
    const rv = await get(`${API}/page/revision/${item.rev}`);
    assert.equal(rv.r.status, 200);
    assert.equal((JSON.parse(rv.text) as { items: { title: string }[] }).items[0].title, 'Larkford');
    const all = await get(`${API}/page/title/`);
    assert.equal(all.r.status, 200);
    assert.ok((JSON.parse(all.text) as { items: string[] }).items.includes('Larkford'));
    const stored = await get(`${API}/page/html/Larkford/`);
    assert.equal(stored.r.status, 200);
    const sitems = (JSON.parse(stored.text) as { items: { revision: number; tid: string }[] }).items;
    assert.equal(sitems[0].revision, item.rev);
    const byRev = await get(`${API}/page/html/Larkford/${item.rev}`);
    assert.equal(byRev.r.status, 200);
    assert.equal(byRev.r.headers.get('etag'), `"${item.rev}/${sitems[0].tid}"`);
    const byTid = await get(`${API}/page/html/Larkford/${item.rev}/${sitems[0].tid}`);
    assert.equal(byTid.r.status, 200);
    assert.equal(byTid.text, byRev.text);
    const noTid = await get(`${API}/page/html/Larkford/${item.rev}/00000000-0000-1000-8000-000000000000`);
    assert.equal(noTid.r.status, 404);
  });

  it('summary and mobile-sections are derived from the stored HTML, in the golden shapes', async () => {
    const html = await get(`${API}/page/html/Silver_River`);
    const etag = html.r.headers.get('etag')!;
    const s = await get(`${API}/page/summary/Silver_River`);
    assert.equal(s.r.status, 200);
    assert.match(s.r.headers.get('content-type')!, /^application\/json; charset=utf-8; profile="https:\/\/www.mediawiki.org\/wiki\/Specs\/Summary\//);
    assert.equal(s.r.headers.get('etag'), etag, 'summary carries the rev/tid of the HTML it came from');
    const summary = JSON.parse(s.text) as Record<string, unknown>;
    const golden = JSON.parse(readFileSync(corpusPath('golden', 'summary-Tokyo.json'), 'utf8')) as unknown;
    assertSameShape(summary, golden, 'summary', ['type', 'title', 'displaytitle', 'namespace', 'titles', 'pageid', 'lang', 'dir', 'revision', 'tid', 'timestamp', 'content_urls', 'extract', 'extract_html']);
    assert.equal(summary.tid, etag.slice(1, -1).split('/')[1]);
    assert.match(String(summary.extract), /Silver River/);

    const m = await get(`${API}/page/mobile-sections/Silver_River`);
    assert.equal(m.r.status, 200);
    const ms = JSON.parse(m.text) as { lead: Record<string, unknown>; remaining: { sections: unknown[] } };
    const gm = JSON.parse(readFileSync(corpusPath('golden', 'mobile-sections-Frankenstein.json'), 'utf8')) as Record<string, unknown>;
    assertSameShape(ms, gm, 'mobile-sections', ['lead', 'remaining']);
    assertSameShape(ms.lead, gm.lead, 'lead', ['ns', 'id', 'revision', 'displaytitle', 'normalizedtitle', 'protection', 'editable', 'sections']);
    const lead = await get(`${API}/page/mobile-sections-lead/Silver_River`);
    assert.equal(lead.r.status, 200);
    assert.deepEqual(JSON.parse(lead.text), ms.lead);
    const rem = await get(`${API}/page/mobile-sections-remaining/Silver_River`);
    assert.equal(rem.r.status, 200);
    assert.deepEqual(JSON.parse(rem.text), ms.remaining);
    assert.ok((await resourceChanges()).includes('https://example.wiki/api/rest_v1/page/summary/Silver_River'));
  });

  it('CORS, security headers, x-request-id on every response and passed to the origin', async () => {
    const a = await get(`${API}/page/html/Larkford`, { 'x-request-id': 'req-abc-123' });
    assert.equal(a.r.headers.get('x-request-id'), 'req-abc-123');
    assert.equal(a.r.headers.get('access-control-allow-origin'), '*');
    assert.match(a.r.headers.get('access-control-expose-headers')!, /etag/i);
    assert.ok(a.r.headers.get('content-security-policy'));
    assert.equal(a.r.headers.get('x-content-type-options'), 'nosniff');
    const o = await h.fetch(`${API}/page/html/Larkford`, { method: 'OPTIONS' });
    assert.equal(o.status, 204);
    assert.match(o.headers.get('access-control-allow-methods')!, /GET/);
    const e = await get(`${API}/page/html/Nope_nope`);
    assert.ok(e.r.headers.get('x-request-id'));
  });
});

describe('content API: writes, re-renders and coalescing', () => {
  it('edit → no-cache re-render → new ETag; unchanged re-render keeps the ETag and emits nothing', async () => {
    const first = await get(`${API}/page/html/Cascade`);
    const etag1 = first.r.headers.get('etag')!;
    // An unchanged re-render: same bytes from the origin, same tid, no event.
    const eventsBefore = (await resourceChanges()).length;
    const rendersBefore = renders(h);
    const same = await get(`${API}/page/html/Cascade`, { 'cache-control': 'no-cache' });
    assert.equal(same.r.status, 200);
    assert.equal(renders(h), rendersBefore + 1, 'no-cache from an internal caller renders');
    assert.equal(same.r.headers.get('etag'), etag1);
    assert.equal((await resourceChanges()).length, eventsBefore);
    // External no-cache is served from the store.
    const ext = await get(`${API}/page/html/Cascade`, { 'cache-control': 'no-cache', ...EXTERNAL });
    assert.equal(ext.r.headers.get('etag'), etag1);
    assert.equal(renders(h), rendersBefore + 1);

    const saved = await edit('Cascade', "'''Cascade''' serves stored renders. Edited by the test.");
    assert.equal(saved.result, 'Success');
    const rerender = await get(`${API}/page/html/Cascade`, { 'cache-control': 'no-cache' });
    const etag2 = rerender.r.headers.get('etag')!;
    assert.notEqual(etag2, etag1);
    assert.equal(etag2.slice(1).split('/')[0], String(saved.newrevid));
    assert.match(rerender.text, /Edited by the test/);
    const after = await get(`${API}/page/html/Cascade`);
    assert.equal(after.r.headers.get('etag'), etag2);
    assert.ok((await resourceChanges()).length > eventsBefore);
  });

  it('an edit with a stale base_etag is a conflict', async () => {
    const cur = await get(`${API}/page/html/Larkford`);
    const etag = cur.r.headers.get('etag')!;
    await edit('Larkford', 'Larkford is a town. First edit.');
    const r = await h.fetch(`${API}/page/wikitext/Larkford`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ wikitext: 'Conflicting text', base_etag: etag }).toString(),
    });
    assert.equal(r.status, 409);
    // Reads after the edit serve the new revision (metadata says a newer one exists).
    const after = await get(`${API}/page/html/Larkford`);
    assert.match(after.text, /First edit/);
  });

  it('no-cache with If-Unmodified-Since older than the stored render → 412, no render', async () => {
    await get(`${API}/page/html/Larkford`);
    const before = renders(h);
    const r = await get(`${API}/page/html/Larkford`, { 'cache-control': 'no-cache', 'if-unmodified-since': new Date(Date.now() - 3600_000).toUTCString() });
    assert.equal(r.r.status, 412);
    assert.equal(renders(h), before);
    const ok = await get(`${API}/page/html/Larkford`, { 'cache-control': 'no-cache', 'if-unmodified-since': new Date(Date.now() + 3600_000).toUTCString() });
    assert.equal(ok.r.status, 200);
    assert.equal(renders(h), before + 1);
  });

  it('50 concurrent no-cache requests cause exactly one origin render', async () => {
    await get(`${API}/page/html/Main_Page`);
    await wikiPost('/w/rest.php/v1/_test/delay?ms=1500&count=1'); // long enough for all 50 to arrive on a loaded machine
    const before = h.wiki.stats().byTitle.Main_Page ?? 0;
    const results = await Promise.all(
      Array.from({ length: 50 }, () => get(`${API}/page/html/Main_Page`, { 'cache-control': 'no-cache' })),
    );
    for (const { r } of results) assert.equal(r.status, 200);
    assert.equal((h.wiki.stats().byTitle.Main_Page ?? 0) - before, 1);
    assert.equal(new Set(results.map(({ r }) => r.headers.get('etag'))).size, 1);
  });

  it('concurrent misses of a new page cause one render', async () => {
    await edit('Coalesced page', 'A page made for the coalescing test.');
    await wikiPost('/w/rest.php/v1/_test/delay?ms=100&count=1');
    const before = h.wiki.stats().byTitle.Coalesced_page ?? 0;
    const results = await Promise.all(Array.from({ length: 20 }, () => get(`${API}/page/html/Coalesced_page`)));
    for (const { r } of results) assert.equal(r.status, 200);
    assert.equal((h.wiki.stats().byTitle.Coalesced_page ?? 0) - before, 1);
  });

  it('stale-if-error for readers; an internal no-cache re-render fails instead, so change propagation retries it', async () => {
    const ok = await get(`${API}/page/html/Cascade`);
    const rev = Number(/^"(\d+)\//.exec(ok.r.headers.get('etag') ?? '')?.[1]);
    await wikiPost('/w/rest.php/v1/_test/fail?count=1&status=503');
    const rerender = await get(`${API}/page/html/Cascade`, { 'cache-control': 'no-cache' });
    assert.equal(rerender.r.status, 502, rerender.text);
    assert.equal(rerender.r.headers.get('content-type'), 'application/problem+json');
    assert.match(rerender.text, /injected render failure/, 'the origin reason is in the detail');
    await wikiPost('/w/rest.php/v1/_test/reset');
    // A reader whose stored copy is superseded while the origin fails gets the stored copy.
    const nr = await h.fetch('/example.wiki/sys/content/page/Cascade/revision', { method: 'POST', body: JSON.stringify({ revision: rev + 1000 }) });
    assert.equal(nr.status, 200);
    await wikiPost('/w/rest.php/v1/_test/fail?count=1&status=503');
    const r = await get(`${API}/page/html/Cascade`);
    assert.equal(r.r.status, 200);
    assert.equal(r.r.headers.get('x-cascade-stale'), 'origin-error');
    assert.equal(r.r.headers.get('etag'), ok.r.headers.get('etag'));
    await wikiPost('/w/rest.php/v1/_test/reset');
    assert.equal((await get(`${API}/page/html/Cascade`)).r.status, 200);
    // Nothing stored: the failure shows.
    await edit('Never rendered', 'Text');
    await wikiPost('/w/rest.php/v1/_test/fail?count=3&status=503');
    const miss = await get(`${API}/page/html/Never_rendered`);
    assert.equal(miss.r.status, 502);
    await wikiPost('/w/rest.php/v1/_test/reset');
  });

  it('transform wikitext to HTML through the origin renderer', async () => {
    const r = await h.fetch(`${API}/transform/wikitext/to/html/Sandbox`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ wikitext: "'''Bold''' and [[Larkford]]" }).toString(),
    });
    assert.equal(r.status, 200, await r.clone().text());
    const html = await r.text();
    assert.match(html, /<b>Bold<\/b>/);
    assert.match(html, /mw:WikiLink/);
    const t = await get(`${API}/page/title/Larkford`);
    const rev = (JSON.parse(t.text) as { items: { rev: number }[] }).items[0].rev;
    const r2 = await h.fetch(`${DOM}/transform/wikitext/to/html/Larkford/${rev}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ wikitext: 'Plain' }),
    });
    assert.equal(r2.status, 200);
    assert.match(await r2.text(), /Plain/);
  });
});

describe('content API: access', () => {
  it('a deleted page is 404 at once after the event; undelete brings it back', async () => {
    const a = await get(`${API}/page/html/Larkford`);
    assert.equal(a.r.status, 200);
    await wikiPost('/w/api.php?action=delete&format=json', { title: 'Larkford', reason: 'test' });
    const ev = await h.fetch(`/example.wiki/sys/content/page/Larkford/deleted`, { method: 'POST' });
    assert.equal(ev.status, 200);
    const b = await get(`${API}/page/html/Larkford`);
    assert.equal(b.r.status, 404);
    assert.equal((await get(`${API}/page/summary/Larkford`)).r.status, 404);
    await wikiPost('/w/api.php?action=undelete&format=json', { title: 'Larkford', reason: 'test' });
    assert.equal((await h.fetch(`/example.wiki/sys/content/page/Larkford/undeleted`, { method: 'POST' })).status, 200);
    assert.equal((await get(`${API}/page/html/Larkford`)).r.status, 200);
  });

  it('a suppressed revision is 403 at once after the event', async () => {
    const t = await get(`${API}/page/title/Silver_River`);
    const rev = (JSON.parse(t.text) as { items: { rev: number }[] }).items[0].rev;
    assert.equal((await get(`${API}/page/html/Silver_River/${rev}`)).r.status, 200);
    const ev = await h.fetch(`/example.wiki/sys/content/revision/${rev}/visibility`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Silver_River', hidden: true }),
    });
    assert.equal(ev.status, 200);
    assert.equal((await get(`${API}/page/html/Silver_River/${rev}`)).r.status, 403);
    assert.equal((await get(`${API}/page/html/Silver_River`)).r.status, 403);
    await h.fetch(`/example.wiki/sys/content/revision/${rev}/visibility`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Silver_River', hidden: false }),
    });
    assert.equal((await get(`${API}/page/html/Silver_River/${rev}`)).r.status, 200);
  });

  it('/sys/ is refused to external callers', async () => {
    const r = await h.fetch(`/example.wiki/sys/content/page/Cascade/deleted`, { method: 'POST', headers: EXTERNAL });
    assert.equal(r.status, 403);
    assert.equal((await get(`${API}/page/html/Cascade`)).r.status, 200);
  });
});

describe('content API: docs and monitoring', () => {
  it('serves a valid OpenAPI 3 spec with x-stability on every operation', async () => {
    const { r, text } = await get(`${DOM}/?spec`);
    assert.equal(r.status, 200);
    const spec = JSON.parse(text) as { paths: Record<string, Record<string, { 'x-stability'?: string }>> };
    const v = new Validator();
    const res = await v.validate(spec);
    assert.equal(res.valid, true, JSON.stringify(res.errors));
    const ops = Object.values(spec.paths).flatMap((p) => Object.values(p));
    assert.ok(ops.length >= 15);
    for (const op of ops) assert.ok(['stable', 'unstable', 'experimental'].includes(op['x-stability']!));
    for (const p of ['/page/html/{title}', '/page/summary/{title}', '/page/wikitext/{title}', '/transform/wikitext/to/html/{title}']) assert.ok(spec.paths[p], p);
  });

  it('serves Swagger UI from local assets', async () => {
    const { r, text } = await get(`${DOM}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /text\/html/);
    assert.match(text, /\/_swagger\/swagger-ui-bundle\.js/);
    assert.doesNotMatch(text, /https?:\/\/(cdn|unpkg)/);
    assert.match(r.headers.get('content-security-policy')!, /script-src 'self'/);
    const js = await h.fetch('/_swagger/swagger-ui-bundle.js');
    assert.equal(js.status, 200);
    assert.ok((await js.arrayBuffer()).byteLength > 100_000);
    assert.equal((await h.fetch('/_swagger/init.js')).status, 200);
    assert.equal((await h.fetch('/_swagger/..%2Fpackage.json')).status, 404);
  });

  it('exposes Prometheus metrics: request durations, cache outcomes, origin durations', async () => {
    await get(`${API}/page/html/Cascade`);
    const { r, text } = await get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    assert.match(text, /cascade_http_request_duration_seconds_bucket\{route="\/api\/rest_v1\/page\/html\/\{title\}",method="GET",status="200",le="0.005"\} \d+/);
    assert.match(text, /cascade_content_cache_total\{endpoint="html",outcome="hit"\} [1-9]/);
    assert.match(text, /cascade_content_cache_total\{endpoint="html",outcome="miss"\} [1-9]/);
    assert.match(text, /cascade_content_cache_total\{endpoint="html",outcome="coalesced"\} [1-9]/);
    assert.match(text, /cascade_content_cache_total\{endpoint="html",outcome="unchanged"\} [1-9]/);
    assert.match(text, /cascade_content_cache_total\{endpoint="html",outcome="stale"\} [1-9]/);
    assert.match(text, /cascade_origin_request_duration_seconds_count\{domain="example.wiki",op="revision-html",status="200"\} [1-9]/);
  });
});
