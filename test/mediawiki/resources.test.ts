// Declared resources against a real MediaWiki (1.39): the page's media list stored from the
// wiki's REST `/v1/page/{title}/links/media` and refreshed on every revision (the edit reaches
// Cascade through the recentchanges follower and the derived rule), and the page history
// proxied from `/v1/page/{title}/history`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mediaWikiSuite } from '../helpers/mediawiki-suite.ts';
import { startCascade } from './cascade.ts';
import { until as waitUntil } from '../helpers/wait.ts';

const RESOURCES = `
resources:
  media-list:
    kind: stored
    path: /page/media-list/{title}
    request: { uri: '/w/rest.php/v1/page/{title}/links/media' }
    content_type: application/json; charset=utf-8
    storage: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
    depends_on: [revision]
    refresh: eager
  history:
    kind: proxy
    path: /page/history/{title}
    request: { uri: '/w/rest.php/v1/page/{title}/history', pass_query: [older_than, newer_than] }
    cache_control: no-cache
`;

const until = (what: string, cond: () => Promise<boolean>, ms = 60_000) => waitUntil(cond, ms, what, 50);

describe('declared resources on a real MediaWiki', () => {
  const suite = mediaWikiSuite({}, (mw) => startCascade(mw.url, { backend: 'sqlite', resources: RESOURCES }));
  const V1 = () => `/${suite.c.domain}/v1`;

  it('stores the media list of a page and serves it again without the wiki', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const a = await c.fetch(`${V1()}/page/media-list/Bodmin`);
    assert.equal(a.status, 200, await a.clone().text());
    const body = (await a.json()) as { files: unknown[] };
    assert.ok(Array.isArray(body.files), 'the shape of MediaWiki links/media');
    const rev = await mw.latestRevision('Bodmin');
    assert.ok(a.headers.get('etag')!.startsWith(`"${rev}/`), `${a.headers.get('etag')} is of revision ${rev}`);
    const renders = c.app.content.resources.stats.renders;
    assert.equal((await c.fetch(`${V1()}/page/media-list/Bodmin`)).status, 200);
    assert.equal(c.app.content.resources.stats.renders, renders, 'served from storage');
  });

  it('refreshes the stored media list on every revision', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const before = c.app.content.resources.stats.changeRenders;
    const edit = await mw.edit('Bodmin', `Bodmin is a town. [[File:Bodmin-${Date.now()}.jpg]]`, 'media list test');
    await until('the media list of the new revision', async () => {
      const r = await c.fetch(`${V1()}/page/media-list/Bodmin`);
      return r.status === 200 && (r.headers.get('etag') ?? '').startsWith(`"${edit.revid}/`);
    });
    assert.ok(c.app.content.resources.stats.changeRenders > before, 'rendered by the revision rule, not by the read');
  });

  it('proxies the page history: the newest revision first, queries passed on, nothing stored', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const rev = await mw.latestRevision('Bodmin');
    const r = await c.fetch(`${V1()}/page/history/Bodmin`);
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    const h = (await r.json()) as { revisions: { id: number }[] };
    assert.equal(h.revisions[0]!.id, rev);
    const older = (await (await c.fetch(`${V1()}/page/history/Bodmin?older_than=${rev}`)).json()) as { revisions: { id: number }[] };
    assert.ok(older.revisions.every((x) => x.id < rev!));
    assert.equal(c.app.store.bucket(c.domain, 'history'), undefined);
    const missing = await c.fetch(`${V1()}/page/history/No_such_page_${Date.now()}`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type')!, /problem\+json/);
  });
});
