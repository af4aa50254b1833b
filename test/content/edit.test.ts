// The editing round trip against the example wiki: the stash (transform with stash: true), a
// save of HTML with a stale or current base_etag, html-to-wikitext where the origin has no such
// route, and the data-parsoid endpoint.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './harness.ts';

const DOM = '/example.wiki/v1';
const form = (f: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(f).toString(),
});

describe('editing round trip (example wiki)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  async function latest(title: string): Promise<number> {
    const r = await h.fetch(`${DOM}/page/title/${title}`);
    return ((await r.json()) as { items: { rev: number }[] }).items[0]!.rev;
  }

  it('stash: true keeps the render in the stash bucket and answers its ETag', async () => {
    const rev = await latest('Larkford');
    const r = await h.fetch(`${DOM}/transform/wikitext/to/html/Larkford`, form({ wikitext: "'''Larkford''' edited in the editor.", stash: 'true' }));
    const html = await r.text();
    assert.equal(r.status, 200, html);
    const etag = r.headers.get('etag');
    assert.match(etag ?? '', new RegExp(`^"${rev}/[0-9a-f-]{36}"$`));
    const tid = etag!.slice(1, -1).split('/')[1]!;
    const stored = await h.app.store.getRevTid('example.wiki', 'stash', 'Larkford', rev, tid);
    assert.ok(stored, 'in the stash');
    assert.match((await stored.body()).toString('utf8'), /edited in the editor/);
    // Without a title there is nothing to stash it for.
    const untitled = await h.fetch(`${DOM}/transform/wikitext/to/html`, form({ wikitext: 'x', stash: 'true' }));
    assert.equal(untitled.status, 400);
    assert.equal(untitled.headers.get('content-type'), 'application/problem+json');
    await untitled.text();
  });

  it('POST /page/html/{title}: a stale base_etag is 409; without an html-to-wikitext route the save is a clear 501', async () => {
    const rev = await latest('Larkford');
    const stale = await h.fetch(`${DOM}/page/html/Larkford`, form({ html: '<p>Edited</p>', base_etag: `"${rev - 1}/00000000-0000-1000-8000-000000000000"` }));
    const sp = (await stale.json()) as { code: string; detail: string };
    assert.equal(stale.status, 409);
    assert.equal(sp.code, 'CASCADE_CONTENT_EDIT_CONFLICT');
    assert.match(sp.detail, new RegExp(`latest is ${rev}`));

    const current = await h.fetch(`${DOM}/page/html/Larkford`, form({ html: '<p>Edited</p>', base_etag: `"${rev}/00000000-0000-1000-8000-000000000000"` }));
    const cp = (await current.json()) as { code: string };
    assert.equal(current.status, 501);
    assert.equal(cp.code, 'CASCADE_CONTENT_TRANSFORM_UNAVAILABLE');
    assert.equal(await latest('Larkford'), rev, 'nothing saved');

    const wt = await h.fetch(`${DOM}/transform/html/to/wikitext/Larkford`, form({ html: '<p>x</p>' }));
    assert.equal(wt.status, 501);
    await wt.text();
  });

  it('data-parsoid is not stored separately: 404 problem that says where it is', async () => {
    const r = await h.fetch(`${DOM}/page/data-parsoid/Larkford/1/00000000-0000-1000-8000-000000000000`);
    const p = (await r.json()) as { code: string; detail: string };
    assert.equal(r.status, 404);
    assert.equal(p.code, 'CASCADE_CONTENT_DATA_PARSOID_UNAVAILABLE');
    assert.match(p.detail, /inline/);
    const bad = await h.fetch(`${DOM}/page/data-parsoid/Larkford/1/not-a-tid`);
    assert.equal(bad.status, 400);
    await bad.text();
  });
});
