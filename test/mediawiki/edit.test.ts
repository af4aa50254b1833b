// The editing round trip against a real MediaWiki with its core development routes (the
// html-to-wikitext transform): stash → edit the HTML → save with base_etag → the wiki has the
// edit; a stale base is 409; html/to/wikitext answers wikitext.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mediaWikiSuite } from '../helpers/mediawiki-suite.ts';
import { startCascade } from '../content/harness.ts';

const D = 'mw.test';
const V1 = `/${D}/v1`;
const form = (f: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(f).toString(),
});

describe('editing round trip (MediaWiki 1.39, core development routes)', () => {
  const suite = mediaWikiSuite({ coreDevRoutes: true }, (mw) => startCascade(mw.url, D));

  it('stash, edit, save with base_etag; a stale base is 409', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const rev = (await mw.edit('Round trip', "'''Round trip''' first text.")).revid;
    const stash = await c.fetch(`${V1}/transform/wikitext/to/html/Round_trip`, form({ wikitext: "'''Round trip''' first text.", stash: 'true' }));
    const html = await stash.text();
    assert.equal(stash.status, 200, html);
    const etag = stash.headers.get('etag')!;
    assert.match(etag, new RegExp(`^"${rev}/[0-9a-f-]{36}"$`));

    const edited = html.replace('first text', 'second text');
    const saved = await c.fetch(`${V1}/page/html/Round_trip`, form({ html: edited, base_etag: etag, comment: 'round trip' }));
    const body = (await saved.json()) as { newrevid: number };
    assert.equal(saved.status, 200, JSON.stringify(body));
    assert.ok(body.newrevid > rev);
    const wt = await mw.api({ action: 'query', prop: 'revisions', rvprop: 'content', rvslots: 'main', titles: 'Round trip' });
    assert.match(wt.query.pages[0].revisions[0].slots.main.content as string, /second text/);

    const stale = await c.fetch(`${V1}/page/html/Round_trip`, form({ html: edited, base_etag: etag }));
    assert.equal(stale.status, 409);
    assert.equal(((await stale.json()) as { code: string }).code, 'CASCADE_CONTENT_EDIT_CONFLICT');
  });

  it('html/to/wikitext goes through the origin', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const r = await c.fetch(`${V1}/transform/html/to/wikitext/Round_trip`, form({ html: '<p>Some <b>bold</b> text</p>' }));
    const text = await r.text();
    assert.equal(r.status, 200, text);
    assert.match(r.headers.get('content-type')!, /^text\/plain/);
    assert.match(text, /Some '''bold''' text/);
  });
});
