// Cascade's MediaWiki origin adapter against a real MediaWiki (Debian's 1.39, SQLite, the
// Parsoid in core): what the start-up probe finds, the HTML profile taken from the render,
// origin reasons in problem details, missing vs deleted, a forged delete undone by the
// re-verification, CSRF tokens fetched for saves, and a template edit reaching a transcluding
// page although the wiki serves REST HTML from its parser cache and its job queue never runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mediaWikiSuite } from '../helpers/mediawiki-suite.ts';
import { startCascade } from '../content/harness.ts';
import { until as waitUntil } from '../helpers/wait.ts';

const D = 'mw.test';
const V1 = `/${D}/v1`;

const until = (what: string, cond: () => Promise<boolean>, ms = 15_000) => waitUntil(cond, ms, what, 50);

describe('MediaWiki origin adapter (stock wiki, job queue off)', () => {
  // Jobs never run on their own: only a purge can refresh the parser cache.
  const suite = mediaWikiSuite({ jobRunRate: 0 }, (mw) => startCascade(mw.url, D, '  access_check_max_age_seconds: 300\n  access_reverify_delay_ms: 100'));

  const svc = () => suite.c.app.content.service;
  const status = async (path: string) => (await suite.c.fetch(V1 + path)).status;
  const sys = async (path: string, body?: unknown) => {
    const r = await suite.c.fetch(`/${D}/sys/content/${path}`, { method: 'POST', ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    assert.equal(r.status, 200, await r.clone().text());
  };

  it('probes what the wiki offers: REST, no transform route on a stock 1.39, action=purge', async (t) => {
    const { mw } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const caps = await svc().wiki.capabilities(D);
    assert.match(caps.generator ?? '', /^MediaWiki 1\.\d+/);
    assert.equal(caps.rest, true);
    assert.equal(caps.transform, 'none');
    assert.equal(caps.purge, true);
  });

  it('labels HTML with the profile of the render itself (2.6.x), not a fixed 2.1.0', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const r = await c.fetch(`${V1}/page/html/Bodmin`);
    assert.equal(r.status, 200);
    const html = await r.text();
    const version = /<meta property="mw:htmlVersion" content="(\d+\.\d+\.\d+)"/.exec(html)?.[1];
    assert.ok(version && version.startsWith('2.6.'), `render version ${version}`);
    assert.equal(r.headers.get('content-type'), `text/html; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/HTML/${version}"`);
    assert.equal(svc().wiki.capabilitiesKnown(D)?.htmlVersion, version);
  });

  it('a transform without an origin route is a 501 that blames no page', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const r = await c.fetch(`${V1}/transform/wikitext/to/html/Bodmin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ wikitext: "''x''" }) });
    assert.equal(r.status, 501);
    const p = (await r.json()) as { code: string; detail: string };
    assert.equal(p.code, 'CASCADE_CONTENT_TRANSFORM_UNAVAILABLE');
    assert.match(p.detail, /coreDevelopmentRoutes|Parsoid/);
    assert.doesNotMatch(p.detail, /page not found|deleted/i);
  });

  it("carries the origin's message into problem details; never-existed is 'not found', deleted is 'deleted'", async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const rev = await c.fetch(`${V1}/page/revision/987654`);
    assert.equal(rev.status, 404);
    const rp = (await rev.json()) as { code: string; detail: string };
    assert.equal(rp.code, 'CASCADE_CONTENT_REVISION_NOT_FOUND');
    assert.match(rp.detail, /The specified revision \(987654\) does not exist/);

    const missing = await c.fetch(`${V1}/page/html/Never_existed_here`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'CASCADE_CONTENT_PAGE_NOT_FOUND');

    await mw!.edit('Short lived', 'Soon gone.');
    assert.equal(await status('/page/html/Short_lived'), 200);
    await mw!.delete('Short lived', 'test');
    await sys('page/Short_lived/deleted'); // what the change feed delivers
    await until('the delete to be re-verified', async () => svc().access.pendingCount === 0);
    const gone = await c.fetch(`${V1}/page/html/Short_lived`);
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { code: string }).code, 'CASCADE_CONTENT_PAGE_DELETED');
  });

  it('a forged delete applies at once and is undone by the re-verification with the wiki', async (t) => {
    const { mw } = suite;
    if (!mw) return t.skip('no MediaWiki');
    assert.equal(await status('/page/html/BBDO'), 200);
    const undone = svc().access.undone;
    await sys('page/BBDO/deleted');
    assert.equal(await status('/page/html/BBDO'), 404);
    await until('BBDO to be served again', async () => (await status('/page/html/BBDO')) === 200);
    assert.equal(svc().access.undone, undone + 1);
  });

  it('revision visibility: a forged hide is undone, a forged "shown again" refused, a real one applied', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const old = (await mw!.edit('Visible page', 'First text.')).revid;
    await mw!.edit('Visible page', 'Second text.');
    assert.equal(await status(`/page/html/Visible_page/${old}`), 200);
    await sys(`revision/${old}/visibility`, { title: 'Visible_page', hidden: true });
    assert.equal(await status(`/page/html/Visible_page/${old}`), 403, 'refused at once');
    await until('the forged hide to be undone', async () => (await status(`/page/html/Visible_page/${old}`)) === 200);
    await mw!.suppressRevision(old);
    await sys(`revision/${old}/visibility`, { title: 'Visible_page', hidden: true });
    await until('the real hide to be re-verified', async () => svc().access.pendingCount === 0);
    assert.equal(await status(`/page/html/Visible_page/${old}`), 403, 'the wiki confirms it: it stays');
    await sys(`revision/${old}/visibility`, { title: 'Visible_page', hidden: false });
    assert.equal(await status(`/page/html/Visible_page/${old}`), 403, 'a forged "shown again" exposes nothing');
    await mw!.suppressRevision(old, { show: true });
    await sys(`revision/${old}/visibility`, { title: 'Visible_page', hidden: false });
    assert.equal(await status(`/page/html/Visible_page/${old}`), 200);
    // Hidden without any event, never read before: the wiki's 500 for it becomes a 403.
    const other = (await mw!.edit('Hidden quietly', 'Old text.')).revid;
    await mw!.edit('Hidden quietly', 'New text.');
    await mw!.suppressRevision(other);
    const r = await c.fetch(`${V1}/page/html/Hidden_quietly/${other}`);
    assert.equal(r.status, 403, await r.text());
  });

  it('saves fetch a CSRF token for the caller when the wiki wants one', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const r = await c.fetch(`${V1}/page/wikitext/Saved_through_Cascade`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ wikitext: 'Saved by an anonymous caller.', comment: 'via Cascade' }).toString(),
    });
    const body = (await r.json()) as { newrevid?: number; detail?: string };
    assert.equal(r.status, 201, JSON.stringify(body));
    assert.equal(body.newrevid, await mw!.latestRevision('Saved through Cascade'));
    const conflict = await c.fetch(`${V1}/page/wikitext/Saved_through_Cascade`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ wikitext: 'Other text.', base_etag: '"1/x"' }).toString(),
    });
    assert.equal(conflict.status, 409);
    assert.match(((await conflict.json()) as { detail: string }).detail, /Edit conflict/);
  });

  it('a template edit reaches a transcluding page: purge at the origin, then a render newer than the edit', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    await mw!.edit('Template:Cascade box', 'Box version ONE');
    await mw!.edit('Boxed page', 'Before {{Cascade box}} after.');
    const first = await c.fetch(`${V1}/page/html/Boxed_page`);
    assert.match(await first.text(), /Box version ONE/);
    const edit = await mw!.edit('Template:Cascade box', 'Box version TWO');
    const ts = (await mw!.api({ action: 'query', prop: 'revisions', revids: edit.revid, rvprop: 'timestamp' })).query.pages[0].revisions[0].timestamp as string;
    // The wiki itself still hands out the old render (parser cache, no jobs run).
    const stale = await mw!.get('/w/rest.php/v1/page/Boxed_page/html');
    assert.match(await stale.text(), /Box version ONE/);
    // What change propagation sends for each transcluding page.
    const rerender = () => c.fetch(`${V1}/page/html/Boxed_page`, { headers: { 'cache-control': 'no-cache', 'if-unmodified-since': new Date(ts).toUTCString() } });
    // Were purging impossible, the parser-cache render would be older than the edit: that is
    // not a success (503, retried by change propagation), not a 200 of the old content.
    const caps = await svc().wiki.capabilities(D);
    caps.purge = false;
    const refused = await rerender().finally(() => (caps.purge = true));
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    const rp = (await refused.json()) as { code: string; detail: string };
    assert.equal(rp.code, 'CASCADE_CONTENT_ORIGIN_STALE');
    assert.match(rp.detail, /not after the change/);
    const rr = await rerender();
    const text = await rr.text();
    assert.equal(rr.status, 200, text);
    assert.match(text, /Box version TWO/);
    const pub = await c.fetch(`${V1}/page/html/Boxed_page`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.match(await pub.text(), /Box version TWO/);
  });
});

describe('MediaWiki origin adapter (core development routes on)', () => {
  const suite = mediaWikiSuite({ coreDevRoutes: true }, (mw) => startCascade(mw.url, D));

  it('finds the coredev transform route and renders wikitext through it', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const caps = await c.app.content.service.wiki.capabilities(D);
    assert.equal(caps.transform, 'coredev');
    const r = await c.fetch(`${V1}/transform/wikitext/to/html/Bodmin`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ wikitext: "'''Bold''' and [[Bodmin]]" }).toString(),
    });
    const html = await r.text();
    assert.equal(r.status, 200, html);
    assert.match(html, /<b[^>]*>Bold<\/b>/);
    assert.match(r.headers.get('content-type') ?? '', /Specs\/HTML\/2\.\d+\.\d+/);
  });
});
