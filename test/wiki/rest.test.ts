// The example wiki's REST API over real HTTP: MediaWiki's page and revision shapes, edits and
// conflicts, transform, siteinfo, the query API, and the test hooks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testWiki, type TestWiki, type Json } from './helpers.ts';
import { SEED_PAGES } from '../../src/wiki/index.ts';

let w: TestWiki;
before(async () => {
  w = await testWiki();
});
after(async () => {
  await w.close();
});

const HTML_PROFILE = 'text/html; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/HTML/2.1.0"';

test('a fresh wiki is seeded with the project pages', async () => {
  for (const p of SEED_PAGES) {
    const key = p.title.replace(/ /g, '_');
    const { status, body } = await w.json(`/w/rest.php/v1/page/${encodeURIComponent(key)}`);
    assert.equal(status, 200, key);
    assert.equal(body.source, p.text);
  }
});

test('GET page, /bare, /html in MediaWiki shapes', async () => {
  const { status, body } = await w.json<Json>('/w/rest.php/v1/page/Silver_River');
  assert.equal(status, 200);
  assert.deepEqual(Object.keys(body).sort(), ['content_model', 'id', 'key', 'latest', 'license', 'source', 'title']);
  assert.equal(body.key, 'Silver_River');
  assert.equal(body.title, 'Silver River');
  assert.equal(body.content_model, 'wikitext');
  assert.equal(typeof body.id, 'number');
  assert.equal(typeof body.latest.id, 'number');
  assert.match(body.latest.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(Object.keys(body.license).sort(), ['title', 'url']);

  const bare = await w.json<Json>('/w/rest.php/v1/page/Silver_River/bare');
  assert.equal(bare.body.source, undefined);
  assert.equal(bare.body.html_url, `${w.url}/w/rest.php/v1/page/Silver_River/html`);

  const res = await w.get('/w/rest.php/v1/page/Silver_River/html');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), HTML_PROFILE);
  const html = await res.text();
  assert.match(html, new RegExp(`<meta property="mw:pageId" content="${body.id}"/>`));
  assert.match(html, new RegExp(`<meta property="mw:revisionSNo" content="${body.latest.id}"/>`));
  assert.match(html, /<h2 id="Course">Course<\/h2>/);
  assert.match(html, /typeof="mw:Transclusion" about="#mwt1"[^>]*>.*212 km/);
  assert.match(html, /<a rel="mw:WikiLink" href=".\/Larkford" title="Larkford">Larkford<\/a>/);
});

test('titles: non-canonical spellings answer 301; missing pages 404 in the MediaWiki error shape', async () => {
  const r = await w.get('/w/rest.php/v1/page/silver%20river/html?x=1');
  assert.equal(r.status, 301);
  assert.equal(r.headers.get('location'), '/w/rest.php/v1/page/Silver_river/html?x=1');
  const { status, body } = await w.json('/w/rest.php/v1/page/No_such_page/html');
  assert.equal(status, 404);
  assert.deepEqual(body, {
    errorKey: 'rest-nonexistent-title',
    messageTranslations: { en: 'The specified title (No such page) does not exist' },
    httpCode: 404,
    httpReason: 'Not Found',
  });
  assert.equal((await w.get('/w/rest.php/v1/page/A%7CB')).status, 400);
});

test('redirect pages are served as themselves with a redirect link', async () => {
  const html = await (await w.get('/w/rest.php/v1/page/Silver_river/html')).text();
  assert.match(html, /<link rel="mw:PageProp\/redirect" href=".\/Silver_River"\/>/);
});

test('PUT edits: create 201, update 200, null edit, conflict 409, bad body 400', async () => {
  const created = await w.put('Edit_test', { source: 'first', comment: 'create' });
  assert.equal(created.status, 201);
  const first = (created.body.latest as { id: number }).id;
  assert.equal(created.body.source, 'first');

  const updated = await w.put('Edit_test', { source: "second ''edit''", comment: 'update', latest: { id: first } });
  assert.equal(updated.status, 200);
  const second = (updated.body.latest as { id: number }).id;
  assert.ok(second > first);

  const nullEdit = await w.put('Edit_test', { source: "second ''edit''", comment: 'same', latest: { id: second } });
  assert.equal(nullEdit.status, 200);
  assert.equal((nullEdit.body.latest as { id: number }).id, second);

  const conflict = await w.put('Edit_test', { source: 'stale', comment: 'x', latest: { id: first } });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.errorKey, 'rest-edit-conflict');
  assert.equal(conflict.body.httpCode, 409);

  const bad = await fetch(`${w.url}/w/rest.php/v1/page/Edit_test`, { method: 'PUT', body: '{nope' });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { errorKey: string }).errorKey, 'rest-bad-json-body');

  const html = await (await w.get('/w/rest.php/v1/page/Edit_test/html')).text();
  assert.match(html, /<p>second <i>edit<\/i><\/p>/);
});

test('revision endpoints and history paging', async () => {
  let latest = (await w.put('History_test', { source: 'v0', comment: 'c0' })).body.latest as { id: number };
  const ids = [latest.id];
  for (let i = 1; i < 25; i++) {
    latest = (await w.put('History_test', { source: 'v'.repeat(i + 1), comment: `c${i}`, latest })).body.latest as { id: number };
    ids.push(latest.id);
  }
  const h1 = await w.json<Json>('/w/rest.php/v1/page/History_test/history');
  assert.equal(h1.body.revisions.length, 20);
  assert.equal(h1.body.revisions[0].id, ids[24]);
  assert.deepEqual(Object.keys(h1.body.revisions[0]).sort(), ['comment', 'delta', 'id', 'minor', 'size', 'timestamp', 'user']);
  assert.equal(h1.body.revisions[0].delta, 1);
  assert.equal(h1.body.revisions[0].user.name, '127.0.0.1');
  assert.equal(h1.body.newer, undefined);
  const older = new URL(h1.body.older as string);
  const h2 = await w.json<Json>(older.pathname + older.search);
  assert.deepEqual(h2.body.revisions.map((r: { id: number }) => r.id), ids.slice(0, 5).reverse());
  assert.equal(h2.body.older, undefined);
  assert.ok(h2.body.newer);

  const rev = await w.json<Json>(`/w/rest.php/v1/revision/${ids[3]}/bare`);
  assert.equal(rev.status, 200);
  assert.equal(rev.body.id, ids[3]);
  assert.equal(rev.body.size, 4);
  assert.equal(rev.body.delta, 1);
  assert.equal(rev.body.comment, 'c3');
  assert.deepEqual(rev.body.page, { id: rev.body.page.id, key: 'History_test', title: 'History test' });
  assert.equal(rev.body.html_url, `${w.url}/w/rest.php/v1/revision/${ids[3]}/html`);
  assert.equal((await w.json<Json>(`/w/rest.php/v1/revision/${ids[3]}`)).body.source, 'vvvv');
  const html = await (await w.get(`/w/rest.php/v1/revision/${ids[3]}/html`)).text();
  assert.match(html, new RegExp(`<meta property="mw:revisionSNo" content="${ids[3]}"/>`));
  assert.match(html, /<p>vvvv<\/p>/);
  assert.equal((await w.get('/w/rest.php/v1/revision/999999/html')).status, 404);
});

test('transform wikitext to HTML for a title and a revision', async () => {
  const page = (await w.json<Json>('/w/rest.php/v1/page/Larkford/bare')).body;
  const r = await fetch(`${w.url}/w/rest.php/v1/transform/wikitext/to/html/Larkford`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ wikitext: "== Preview ==\n'''new''' {{Stub|x}}" }),
  });
  assert.equal(r.status, 200);
  const html = await r.text();
  assert.match(html, /<h2 id="Preview">Preview<\/h2>/);
  assert.match(html, /<b>new<\/b>/);
  assert.match(html, /This article about x is a stub/);
  assert.match(html, new RegExp(`<meta property="mw:pageId" content="${page.id}"/>`));
  const r2 = await fetch(`${w.url}/w/rest.php/v1/transform/wikitext/to/html/Larkford/${page.latest.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'wikitext=hello',
  });
  assert.match(await r2.text(), /<p>hello<\/p>/);
});

test('siteinfo: general, namespaces 0..15 with Template 10, aliases', async () => {
  const r = await w.api<Json>({ action: 'query', meta: 'siteinfo', siprop: 'general|namespaces|namespacealiases' });
  const q = r.query;
  assert.equal(q.general.case, 'first-letter');
  assert.equal(q.general.mainpage, 'Main Page');
  assert.equal(q.general.servername, 'example.wiki');
  assert.equal(q.general.legaltitlechars, ' %!"$&\'()*,\\-.\\/0-9:;=?@A-Z\\\\^_`a-z~\\x80-\\xFF+');
  for (let id = 0; id <= 15; id++) assert.equal(q.namespaces[String(id)].id, id);
  assert.deepEqual(q.namespaces['10'], { id: 10, case: 'first-letter', name: 'Template', subpages: true, canonical: 'Template', content: false, nonincludable: false });
  assert.equal(q.namespaces['0'].content, true);
  assert.equal(q.namespaces['4'].canonical, 'Project');
  assert.ok(q.namespacealiases.some((a: { id: number; alias: string }) => a.id === 6 && a.alias === 'Image'));
  assert.ok(q.namespacealiases.some((a: { id: number; alias: string }) => a.id === 4 && a.alias === 'WP'));
  // formatversion 1 uses `*` for names.
  const v1 = await w.api<Json>({ action: 'query', meta: 'siteinfo', siprop: 'namespaces', formatversion: '1' });
  assert.equal(v1.query.namespaces['10']['*'], 'Template');
  // Aliases resolve in titles.
  const alias = await w.json<Json>('/w/rest.php/v1/page/Template:Stub/bare');
  const viaAlias = await w.get('/w/rest.php/v1/page/TM:Stub/bare');
  assert.equal(viaAlias.status, 301);
  assert.equal(viaAlias.headers.get('location'), '/w/rest.php/v1/page/Template:Stub/bare');
  assert.equal(alias.status, 200);
});

test('prop=info|revisions: existing, missing, normalized, unknown revids', async () => {
  const r = await w.api<Json>({ action: 'query', prop: 'info|revisions', titles: 'larkford|Nope|A|B' });
  assert.deepEqual(r.query.normalized[0], { fromencoded: false, from: 'larkford', to: 'Larkford' });
  const [lark, nope] = r.query.pages;
  assert.equal(lark.title, 'Larkford');
  assert.equal(lark.contentmodel, 'wikitext');
  assert.equal(lark.revisions[0].revid, lark.lastrevid);
  assert.equal(typeof lark.revisions[0].user, 'string');
  assert.deepEqual(nope, { ns: 0, title: 'Nope', missing: true });
  const redirect = await w.api<Json>({ action: 'query', prop: 'info', titles: 'Silver river' });
  assert.equal(redirect.query.pages[0].redirect, true);
  const bad = await w.api<Json>({ action: 'query', prop: 'revisions', revids: `${lark.lastrevid}|999999`, rvprop: 'ids|content' });
  assert.deepEqual(bad.query.badrevids, { 999999: { revid: 999999, missing: true } });
  assert.equal(bad.query.pages[0].revisions[0].slots.main.contentmodel, 'wikitext');
  assert.match(bad.query.pages[0].revisions[0].slots.main.content, /Larkford/);
});

test('test hooks: render counters, injected failures and delays', async () => {
  await fetch(`${w.url}/w/rest.php/v1/_test/reset`, { method: 'POST' });
  await (await w.get('/w/rest.php/v1/page/Larkford/html')).text();
  await (await w.get('/w/rest.php/v1/page/Larkford/html')).text();
  let stats = (await w.json<Json>('/w/rest.php/v1/_test/stats')).body;
  assert.equal(stats.renders, 2);
  assert.equal(stats.byTitle.Larkford, 2);
  assert.equal(w.stats().renders, 2);

  await fetch(`${w.url}/w/rest.php/v1/_test/fail?count=2&status=503`, { method: 'POST' });
  const f1 = await w.get('/w/rest.php/v1/page/Larkford/html');
  assert.equal(f1.status, 503);
  assert.equal(((await f1.json()) as { httpCode: number }).httpCode, 503);
  assert.equal((await w.get('/w/rest.php/v1/revision/1/html')).status, 503);
  const ok = await w.get('/w/rest.php/v1/page/Larkford/html');
  assert.equal(ok.status, 200);
  await ok.text();
  stats = w.stats();
  assert.equal(stats.failures, 2);
  assert.equal(stats.renders, 3);

  await fetch(`${w.url}/w/rest.php/v1/_test/delay?ms=150&count=1`, { method: 'POST' });
  const t0 = performance.now();
  await (await w.get('/w/rest.php/v1/page/Larkford/html')).text();
  assert.ok(performance.now() - t0 >= 140);
});

test('test hooks are absent unless enabled', async () => {
  const plain = await testWiki({ testHooks: false, seed: false });
  try {
    assert.equal((await plain.get('/w/rest.php/v1/_test/fail?count=5', { method: 'POST' })).status, 404);
    assert.equal((await plain.get('/w/rest.php/v1/page/Main_Page')).status, 404); // not seeded
  } finally {
    await plain.close();
  }
});
