// The real-MediaWiki test harness itself: install, import, Parsoid HTML on the REST routes
// Cascade calls, and the admin actions the end-to-end suite relies on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requireMediaWiki, type ApiJson, type MediaWiki } from '../helpers/mediawiki.ts';

describe('real MediaWiki harness', () => {
  let mw: MediaWiki | undefined;
  before(async (t) => {
    mw = await requireMediaWiki(t as never);
  });
  after(async () => {
    await mw?.close();
  });

  it('serves siteinfo, imported articles and Parsoid HTML on /w/rest.php', async (t) => {
    if (!mw) return t.skip('no MediaWiki');
    const si = await mw.api({ action: 'query', meta: 'siteinfo' });
    assert.match(si.query.general.generator, /^MediaWiki 1\.\d+/);
    const rev = await mw.latestRevision('Bodmin');
    assert.ok(rev && rev > 0, 'Bodmin was imported');
    for (const path of ['/w/rest.php/v1/page/Bodmin/html', `/w/rest.php/v1/revision/${rev}/html`]) {
      const res = await mw.get(path);
      assert.equal(res.status, 200, path);
      const html = await res.text();
      assert.match(html, /<meta property="mw:htmlVersion" content="2\.\d+\.\d+"\/>/, path);
      assert.match(html, /data-mw|typeof="mw:/, `${path} is Parsoid HTML`);
    }
  });

  it('edits, moves, deletes, undeletes and hides revisions as the admin', async (t) => {
    if (!mw) return t.skip('no MediaWiki');
    const e1 = await mw.edit('Harness page', 'First version.');
    const e2 = await mw.edit('Harness page', 'Second version.');
    assert.ok(e2.revid > e1.revid);
    assert.equal(e2.oldrevid, e1.revid);
    const same = await mw.edit('Harness page', 'Second version.');
    assert.equal(same.nochange, true);
    assert.equal(same.revid, e2.revid);

    await mw.move('Harness page', 'Harness page moved');
    const redirect = await mw.api({ action: 'query', titles: 'Harness page', redirects: true });
    assert.equal(redirect.query.redirects?.[0]?.to, 'Harness page moved');

    await mw.suppressRevision(e1.revid);
    // (1.39 answers /revision/{id}/html of a hidden revision with a 500; /revision/{id} with 403.)
    const hidden = await fetch(`${mw.url}/w/rest.php/v1/revision/${e1.revid}`);
    assert.equal(hidden.status, 403, 'a revision with hidden content is refused to readers');
    const anon = (await (await fetch(`${mw.url}/w/api.php?action=query&prop=revisions&rvprop=ids%7Ccontent&revids=${e1.revid}&format=json&formatversion=2`)).json()) as ApiJson;
    assert.equal(anon.query.pages[0].revisions[0].texthidden, true);

    const beforeDelete = await mw.latestRevision('Harness page moved');
    assert.ok(beforeDelete && beforeDelete > e2.revid, 'a move adds a null revision');
    await mw.delete('Harness page moved');
    assert.equal(await mw.latestRevision('Harness page moved'), undefined);
    assert.equal((await mw.get('/w/rest.php/v1/page/Harness_page_moved/html')).status, 404);
    await mw.undelete('Harness page moved');
    assert.equal(await mw.latestRevision('Harness page moved'), beforeDelete);

    const rc = await mw.api({ action: 'query', list: 'recentchanges', rcprop: 'title|ids|loginfo', rctype: 'edit|new|log', rclimit: 50 });
    const logs = rc.query.recentchanges.filter((c: { type: string }) => c.type === 'log').map((c: { logtype: string; logaction: string }) => `${c.logtype}/${c.logaction}`);
    for (const want of ['move/move', 'delete/revision', 'delete/delete', 'delete/restore']) assert.ok(logs.includes(want), `recentchanges has ${want}: ${logs}`);
    await mw.runJobs();
  });
});
