// Refresh policies, per-revision reads and pinned rate classes of declared resources against a
// real MediaWiki (1.39), mirroring test/resources/example-wiki.test.ts: the example wiki is
// never the only thing these behaviours are tested against. Edits reach Cascade through the
// recentchanges follower; each test edits its own imported article, so no change of one test
// is in flight during another.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { mediaWikiSuite } from '../helpers/mediawiki-suite.ts';
import { startCascade } from './cascade.ts';
import { until as waitUntil, valueWithin } from '../helpers/wait.ts';

// All three derived built-ins refresh other than eagerly, so an edit of a page nobody reads
// derives nothing at all (the derive pool's counters show it).
const RESOURCES = `
resources:
  html: { kind: builtin, depends_on: [revision, templates] }
  summary: { kind: builtin, depends_on: [html], refresh: hot }
  mobile-html: { kind: builtin, depends_on: [html], refresh: lazy }
  mobile-sections: { kind: builtin, depends_on: [html], refresh: lazy }
  media-list:
    kind: stored
    path: /page/media-list/{title}
    request: { uri: '/w/rest.php/v1/page/{title}/links/media' }
    content_type: application/json; charset=utf-8
    storage: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
    depends_on: [revision]
    refresh: eager
  media-costly:
    kind: stored
    path: /page/media-costly/{title}
    request: { uri: '/w/rest.php/v1/page/{title}/links/media' }
    content_type: application/json; charset=utf-8
    depends_on: [revision]
    refresh: lazy
    rate_class: render
resource_heat: { window_seconds: 3600, max_pages: 1000, min_reads: 2 }
`;

// A small render class: only external callers (x-forwarded-for from loopback) count.
const CONTENT = `  rate_limit: { classes: { render: { rate: 0.001, burst: 2 } } }`;

const until = (what: string, cond: () => Promise<boolean> | boolean, ms = 60_000) => waitUntil(cond, ms, what, 50);

type Problem = { code?: string; retry_after?: number };

describe('refresh policies and revisions of declared resources on a real MediaWiki', () => {
  const suite = mediaWikiSuite({}, (mw) => startCascade(mw.url, { backend: 'sqlite', resources: RESOURCES, content: CONTENT }));
  const V1 = () => `/${suite.c.domain}/v1`;
  const rt = () => suite.c.app.content.resources;
  const derivations = () => {
    const s = suite.c.app.content.service.derivePool.stats;
    return s.worker + s.inline;
  };
  const storedRev = async (bucket: string, key: string) => (await suite.c.app.store.getLatest(suite.c.domain, bucket, key))?.rev;
  // resource_change events tagged stale for one resource of one page: a deferred change.
  const staleEvents = async (endpoint: string, key: string) => {
    const uri = `https://${suite.c.domain}/api/rest_v1/page/${endpoint}/${key}`;
    const all = await suite.c.events('resource_change');
    return all.filter((e) => (e.meta as { uri: string }).uri === uri && (e.tags as string[]).includes('stale')).length;
  };

  // The follower's first start begins at the wiki's newest change: an edit made before that is not followed.
  before(async () => {
    if (!suite.mw) return;
    const feed = suite.c.app.changeFeeds.feeds.get(suite.c.domain)!;
    await until('the follower to start', () => feed.stats().watermark !== undefined);
  });

  it('lazy (mobile-html): an edit derives nothing; the next read derives from the new html', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const key = 'Goryeo_ware';
    const first = await c.fetch(`${V1()}/page/mobile-html/${key}`);
    assert.equal(first.status, 200, await first.clone().text());
    await first.arrayBuffer();
    const old = (await storedRev('mobile-html', key))!;
    assert.ok(old > 0, 'derived and stored by the read');
    const stale = await Promise.all(['summary', 'mobile-html', 'mobile-sections'].map((n) => staleEvents(n, key)));
    const stats = { ...rt().stats };
    const derived = derivations();
    const marker = `Lazy ${Date.now()}`;
    const edit = await mw.edit('Goryeo ware', `'''Goryeo ware''' is pottery. ${marker}.`, 'lazy refresh test');
    // The html is eager; each derived built-in's rule then defers (a stale resource_change each).
    await until('the html of the new revision stored', async () => (await storedRev('html', key)) === edit.revid);
    await until('the three derived built-ins deferred', async () => {
      const now = await Promise.all(['summary', 'mobile-html', 'mobile-sections'].map((n) => staleEvents(n, key)));
      return now.every((n, i) => n > stale[i]!);
    });
    // The one change render of this edit is the eager media-list's (wait for it, then count; the
    // counter moves just after the store write).
    await until('the eager media-list rendered', async () => rt().stats.changeRenders > stats.changeRenders && (await storedRev('media-list', key)) === edit.revid);
    assert.ok(rt().stats.deferred >= stats.deferred + 3, `deferred ${stats.deferred} → ${rt().stats.deferred}`);
    assert.equal(rt().stats.changeRenders, stats.changeRenders + 1, 'no derived built-in rendered by the change');
    assert.equal(derivations(), derived, 'the derive pool ran nothing for the edit');
    assert.equal(await storedRev('mobile-html', key), old, 'lazy: the stored mobile-html is still of the old revision');
    const next = await c.fetch(`${V1()}/page/mobile-html/${key}`);
    const body = await next.text();
    assert.equal(next.status, 200, body);
    assert.ok(next.headers.get('etag')!.startsWith(`"${edit.revid}/`), `${next.headers.get('etag')} is of revision ${edit.revid}`);
    assert.match(body, new RegExp(marker), 'derived from the new html');
    assert.ok(derivations() > derived, 'derived by the read');
    assert.equal(await storedRev('mobile-html', key), edit.revid);
  });

  it('hot (summary): a page read min_reads times is derived on the edit; one read once or never is not', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const hot = 'RNDIS';
    const once = 'Charlie_Milstead';
    const never = 'HMS_Irresistible';
    const read = async (key: string) => {
      const r = await c.fetch(`${V1()}/page/summary/${key}`);
      assert.equal(r.status, 200, await r.clone().text());
      await r.arrayBuffer();
    };
    await read(hot);
    await read(hot);
    await read(once);
    const stale = { once: await staleEvents('summary', once), never: await staleEvents('summary', never) };
    const changeRenders = rt().stats.changeRenders;
    const stamp = Date.now();
    const edits = {
      hot: await mw.edit('RNDIS', `'''RNDIS''' is a protocol. Hot ${stamp}.`, 'hot refresh test'),
      once: await mw.edit('Charlie Milstead', `'''Charlie Milstead''' was a pitcher. Once ${stamp}.`, 'hot refresh test'),
      never: await mw.edit('HMS Irresistible', `'''HMS Irresistible''' was a ship. Never ${stamp}.`, 'hot refresh test'),
    };
    // No read of the hot page from here until its summary is stored: only the change derives it.
    // changeRenders counts the change endpoint's derivations (hot); it moves just after the store write.
    await until('the hot summary derived on the edit', async () => rt().stats.changeRenders > changeRenders && (await storedRev('summary', hot)) === edits.hot.revid);
    await until('the cold summaries deferred', async () => (await staleEvents('summary', once)) > stale.once && (await staleEvents('summary', never)) > stale.never);
    assert.ok(((await storedRev('summary', once)) ?? 0) < edits.once.revid, 'read once (min_reads 2): not derived on the edit');
    assert.equal(await storedRev('summary', never), undefined, 'never read: not derived');
    // The next read of a cold page derives it from the new html.
    const r = await c.fetch(`${V1()}/page/summary/${never}`);
    assert.equal(r.status, 200);
    assert.ok(r.headers.get('etag')!.startsWith(`"${edits.never.revid}/`), String(r.headers.get('etag')));
    assert.match(((await r.json()) as { extract: string }).extract, new RegExp(`Never ${stamp}`));
  });

  it('{path}/{revision}: the latest and an older stored one answer 200, one never stored 404, a malformed one 400', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const key = 'BBDO';
    const at = (rev: number | string) => c.fetch(`${V1()}/page/media-list/${key}/${rev}`);
    // The imported revision predates this Cascade (the follower starts after it) and nothing read it.
    const r0 = (await mw.latestRevision('BBDO'))!;
    assert.equal(await c.app.store.getRev(c.domain, 'media-list', key, r0), undefined, 'revision r0 never rendered');
    // (MediaWiki lists only files that exist: both revisions' media lists are empty; the ETags tell them apart.)
    const r1 = (await mw.edit('BBDO', `'''BBDO''' is an agency. [[File:BBDO-one-${Date.now()}.jpg]]`, 'revision test')).revid;
    const served = async (rev: number) =>
      valueWithin(async () => {
        const r = await at(rev);
        return r.status === 200 ? r : (await r.arrayBuffer(), undefined);
      }, 60_000, `media-list of revision ${rev}`, 50);
    const latest = await served(r1);
    assert.ok(latest.headers.get('etag')!.startsWith(`"${r1}/`), String(latest.headers.get('etag')));
    assert.ok(Array.isArray(((await latest.json()) as { files: unknown[] }).files), 'the shape of MediaWiki links/media');
    const r2 = (await mw.edit('BBDO', `'''BBDO''' is an agency. [[File:BBDO-two-${Date.now()}.jpg]]`, 'revision test')).revid;
    const newest = await served(r2);
    await newest.arrayBuffer();
    // r1 is kept by the bucket's retention (grace), r0 was never rendered.
    const older = await at(r1);
    assert.equal(older.status, 200, await older.clone().text());
    assert.ok(older.headers.get('etag')!.startsWith(`"${r1}/`), String(older.headers.get('etag')));
    assert.notEqual(older.headers.get('etag'), newest.headers.get('etag'), 'the render stored for r1, not the latest');
    await older.arrayBuffer();
    for (const rev of [r0, r2 + 1000]) {
      const none = await at(rev);
      assert.equal(none.status, 404, `revision ${rev}`);
      assert.match(none.headers.get('content-type')!, /application\/problem\+json/);
      assert.equal(((await none.json()) as Problem).code, 'CASCADE_RESOURCE_REVISION_NOT_STORED');
    }
    const bad = await at('abc');
    assert.equal(bad.status, 400);
    assert.match(bad.headers.get('content-type')!, /application\/problem\+json/);
    await bad.arrayBuffer();
  });

  it('rate_class: a resource pinned to render (burst 2) gives an external caller 429 after the burst', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const remote = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });
    const ip = '203.0.113.21';
    const statuses: number[] = [];
    for (const path of [`${V1()}/page/media-costly/Bodmin`, `${V1()}/page/media-costly/Bodmin`, '/api/rest_v1/page/media-costly/Bodmin']) {
      const r = await c.fetch(path, remote(ip));
      statuses.push(r.status);
      if (r.status === 200) assert.ok(Array.isArray(((await r.json()) as { files: unknown[] }).files), 'served from the wiki');
      else await r.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 429], 'two within the render burst, the third limited on either API root');
    const limited = await c.fetch(`${V1()}/page/media-costly/Bodmin`, remote(ip));
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('content-type')!, /application\/problem\+json/);
    const p = (await limited.json()) as Problem;
    assert.equal(p.code, 'CASCADE_RATE_LIMITED');
    assert.ok((p.retry_after ?? 0) > 0, 'says when to retry');
    // Other resources of the same client count in read; another client and local callers are not limited.
    const other = await c.fetch(`${V1()}/page/media-list/Bodmin`, remote(ip));
    assert.equal(other.status, 200, await other.text());
    const elsewhere = await c.fetch(`${V1()}/page/media-costly/Bodmin`, remote('203.0.113.22'));
    assert.equal(elsewhere.status, 200, await elsewhere.text());
    const local = await c.fetch(`${V1()}/page/media-costly/Bodmin`);
    assert.equal(local.status, 200, await local.text());
  });
});
