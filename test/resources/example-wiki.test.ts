// Declared resources against the example wiki: a stored media list refreshed by each policy,
// the page history proxied, the OpenAPI spec, and the stale mark honoured on the hit path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until, valueWithin } from '../helpers/wait.ts';
import { CascadeError } from '../../src/errors/index.ts';
import { ContentErrors } from '../../src/content/errors.ts';
import { SEED_PAGES } from '../../src/wiki/index.ts';
import { compareTids } from '../../src/util/tid.ts';
import { RESOURCES_YAML, startResourceHarness } from './harness.ts';

type Files = { files: { title: string }[] };

test('declared resources on the example wiki', async (t) => {
  const h = await startResourceHarness();
  t.after(() => h.close());
  const rt = h.app.content.resources;
  const domain = 'example.wiki';
  const res = (name: string) => rt.resource(domain, name)!;
  const lazyRenders = () => rt.rendersByResource.get('media-lazy') ?? 0;
  // The seed's own revision events are processed first: media-list renders every seeded page,
  // then its resource_change marks (and renders) media-count.
  await until(async () => {
    for (const p of SEED_PAGES) if ((await rt.markedAt(res('media-count'), domain, p.title.replace(/ /g, '_'))) === undefined) return false;
    return true;
  }, 30_000, 'seed events propagated');

  await t.test('stored: rendered once, then served from storage with an ETag of rev/tid', async () => {
    const a = await h.fetch('/example.wiki/v1/page/media-list/Silver_River');
    assert.equal(a.status, 200);
    assert.match(a.headers.get('content-type')!, /^application\/json/);
    assert.deepEqual(((await a.json()) as Files).files, []);
    const etag = a.headers.get('etag')!;
    assert.match(etag, /^"\d+\/[0-9a-f-]{36}"$/);
    const before = rt.rendersByResource.get('media-list');
    const b = await h.fetch('/example.wiki/v1/page/media-list/Silver_River', { headers: { 'if-none-match': etag } });
    assert.equal(b.status, 304);
    assert.equal(rt.rendersByResource.get('media-list'), before, 'a hit renders nothing');
  });

  await t.test('filters: a non-canonical title answers 301, a missing page 404 problem+json', async () => {
    const a = await h.fetch('/example.wiki/v1/page/media-list/Silver%20River', { redirect: 'manual' });
    assert.equal(a.status, 301);
    assert.match(a.headers.get('location')!, /\/page\/media-list\/Silver_River$/);
    const b = await h.fetch('/example.wiki/v1/page/media-list/No_such_page_here');
    assert.equal(b.status, 404);
    assert.match(b.headers.get('content-type')!, /application\/problem\+json/);
    assert.equal(b.headers.get('x-content-type-options'), 'nosniff');
  });

  await t.test('eager: an edit re-renders the stored resource through the derived rule', async () => {
    const changes = rt.stats.changeRenders;
    const rev = h.edit('Silver River', 'A river with [[File:Fish.jpg|thumb]] and [[Image:Boat.png]].');
    await until(async () => {
      const r = await h.fetch('/example.wiki/v1/page/media-list/Silver_River');
      return (r.headers.get('etag') ?? '').startsWith(`"${rev}/`);
    }, 20_000, 'media-list of the new revision');
    assert.ok(rt.stats.changeRenders > changes, 'rendered by the change, not by the read');
    const body = (await (await h.fetch('/example.wiki/v1/page/media-list/Silver_River')).json()) as Files;
    assert.deepEqual(body.files.map((f) => f.title), ['File:Fish.jpg', 'File:Boat.png']);
  });

  await t.test('derived: a resource derived from another stored one follows it (rule and read)', async () => {
    const a = (await (await h.fetch('/example.wiki/v1/page/media-count/Silver_River')).json()) as Files & { title: string };
    assert.equal(a.title, 'Silver_River');
    assert.deepEqual(a.files.map((f) => f.title), ['File:Fish.jpg', 'File:Boat.png']);
    h.edit('Silver River', 'Now [[File:Otter.jpg]] only.');
    await until(async () => {
      const b = (await (await h.fetch('/example.wiki/v1/page/media-count/Silver_River')).json()) as Files;
      return b.files.length === 1 && b.files[0]!.title === 'File:Otter.jpg';
    }, 20_000, 'the derivation of the new media list');
    // The derivation is never older than its source: a source marked stale makes it stale too.
    const src = res('media-list');
    const before = (await rt.read(res('media-count'), domain, 'Silver_River')).entry.tid;
    await rt.change(src, domain, 'Silver_River');
    assert.notEqual((await rt.read(res('media-count'), domain, 'Silver_River')).entry.tid, before);
  });

  await t.test('lazy: a change marks the render stale; the next read renders, never serving the old one', async () => {
    const r = res('media-lazy');
    // The edits above reach media-lazy through its own rule: wait for the last, so no mark lands mid-test.
    await until(async () => (await rt.mark(r, domain, 'Silver_River'))?.rev === h.lastRev.get('Silver_River'), 20_000, 'the last edit marked media-lazy');
    const first = await rt.read(r, domain, 'Silver_River');
    assert.equal((await rt.read(r, domain, 'Silver_River')).outcome, 'hit');
    const renders = lazyRenders();
    assert.equal(await rt.change(r, domain, 'Silver_River'), 'marked');
    assert.equal(lazyRenders(), renders, 'lazy renders nothing on the change');
    // The mark is announced (resource_change, tagged stale): CDN purge and dependents follow it.
    const log = h.app.events;
    await until(async () => {
      const recs = await log.log.read(log.streams.topicOf('resource_change'), 0, 100_000);
      return recs.some((x) => {
        const e = JSON.parse(x.value.toString('utf8')) as { meta: { uri: string }; tags: string[] };
        return e.meta.uri === 'https://example.wiki/api/rest_v1/page/media-lazy/Silver_River' && e.tags.includes('stale');
      });
    }, 5_000, 'a resource_change for the stale mark');
    // The hit path checks the mark: the stored render predates the change, so it is not served.
    const after = await rt.read(r, domain, 'Silver_River');
    assert.equal(after.outcome, 'stale');
    assert.notEqual(after.entry.tid, first.entry.tid);
    assert.equal(lazyRenders(), renders + 1);
    assert.equal((await rt.read(r, domain, 'Silver_River')).outcome, 'hit');
  });

  await t.test('a render begun before a change is not served after it, nor joined by later readers', async () => {
    const r = res('media-lazy');
    const real = rt.request.bind(rt);
    let release!: () => void;
    const gate = new Promise<void>((ok) => (release = ok));
    rt.request = async (...a) => {
      await gate;
      return real(...a);
    };
    try {
      const renders = lazyRenders();
      const reading = rt.read(r, domain, 'Larkford');
      await until(() => lazyRenders() > renders, 5_000, 'the render started');
      assert.equal(await rt.change(r, domain, 'Larkford'), 'marked');
      // A reader arriving after the mark does not join the render begun before it.
      const mark = (await rt.markedAt(r, domain, 'Larkford'))!;
      const second = rt.read(r, domain, 'Larkford');
      await until(() => lazyRenders() > renders + 1, 5_000, 'a second render started');
      release();
      await reading;
      const s = await second;
      assert.notEqual(s.outcome, 'coalesced');
      assert.ok(compareTids(s.entry.tid, mark) > 0, 'served a render newer than the mark');
    } finally {
      rt.request = real;
    }
    assert.equal((await rt.read(r, domain, 'Larkford')).outcome, 'hit');
  });

  await t.test('stale-if-error: a failing backend serves the stored render to readers, marked', async () => {
    const r = res('media-lazy');
    await rt.read(r, domain, 'Silver_River');
    await rt.change(r, domain, 'Silver_River');
    const real = rt.request.bind(rt);
    rt.request = async () => {
      throw new CascadeError(ContentErrors.originFailed, 'backend down (test)');
    };
    try {
      const s = await rt.read(r, domain, 'Silver_River');
      assert.equal(s.stale, 'origin-error');
      const m = res('media-list');
      await assert.rejects(rt.change(m, domain, 'Silver_River'), /backend down/, 'a change fails, so its rule retries');
    } finally {
      rt.request = real;
    }
  });

  await t.test('lazy through the rules: an edit is visible on the next read', async () => {
    await h.fetch('/example.wiki/v1/page/media-lazy/Main_Page');
    const marks = rt.stats.marks;
    h.edit('Main Page', 'Welcome. [[File:Logo.svg]]');
    await until(() => rt.stats.marks > marks, 20_000, 'stale mark from the revision rule');
    await until(async () => {
      const b = (await (await h.fetch('/example.wiki/v1/page/media-lazy/Main_Page')).json()) as Files;
      return b.files.some((f) => f.title === 'File:Logo.svg');
    }, 5_000, 'the next read shows the edit');
  });

  await t.test('hot: pages read min_reads times within the window re-render at once, others are marked', async () => {
    const r = res('media-hot');
    await rt.read(r, domain, 'Silver_River');
    await rt.read(r, domain, 'Silver_River');
    assert.equal(await rt.change(r, domain, 'Silver_River'), 'rendered');
    assert.equal(await rt.change(r, domain, 'Main_Page'), 'marked', 'never read: cold');
    assert.equal((await rt.read(r, domain, 'Main_Page')).outcome, 'miss');
    assert.equal(await rt.change(r, domain, 'Main_Page'), 'marked', 'read once (min_reads: 2): still cold');
    assert.equal((await rt.read(r, domain, 'Main_Page')).outcome, 'stale', 'the marked render is not served');
    await rt.read(r, domain, 'Main_Page');
    assert.equal(await rt.change(r, domain, 'Main_Page'), 'rendered', 'read twice now: hot');
    // Cascade's own reads (a derivation reading its source) make nothing hot.
    h.edit('Quiet Pond', 'A pond.');
    await rt.read(r, domain, 'Quiet_Pond', { internal: true });
    await rt.read(r, domain, 'Quiet_Pond', { internal: true });
    assert.equal(await rt.change(r, domain, 'Quiet_Pond'), 'marked', 'internal reads only: cold');
  });

  await t.test('proxy: the page history passes through, nothing stored', async () => {
    const rev = h.edit('Silver River', 'Another edit. [[File:Fish.jpg]]');
    const a = await h.fetch('/example.wiki/v1/page/history/Silver_River');
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('cache-control'), 'no-cache');
    const body = (await a.json()) as { revisions: { id: number }[] };
    assert.equal(body.revisions[0]!.id, rev);
    const older = await h.fetch(`/example.wiki/v1/page/history/Silver_River?older_than=${rev}`);
    assert.ok(((await older.json()) as { revisions: { id: number }[] }).revisions.every((x) => x.id < rev), 'pass_query reaches the backend');
    assert.equal(h.app.store.bucket(domain, 'history'), undefined);
    assert.equal((await h.fetch('/example.wiki/v1/page/history/No_such_page_here')).status, 404);
  });

  await t.test('a named backend (resource_backends) is reachable, at its configured base path', async () => {
    const r = await h.fetch('/example.wiki/v1/page/bare/Silver_River');
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(((await r.json()) as { key: string }).key, 'Silver_River');
  });

  await t.test('hostile path values stay data: one encoded segment on the configured host, 4xx never 5xx', async () => {
    const good = await h.fetch('/example.wiki/v1/page/revision-info/Silver_River/1');
    assert.ok(good.status === 200 || good.status === 404, String(good.status));
    for (const rev of ['%2E%2E', '%2F%2Fevil.example%2Fx', '1%3Fx%3Dy', 'http%3A%2F%2Fevil.example%2F']) {
      const r = await h.fetch(`/example.wiki/v1/page/revision-info/Silver_River/${rev}`);
      assert.ok(r.status >= 400 && r.status < 500, `${rev}: ${r.status}`);
      assert.match(r.headers.get('content-type')!, /problem\+json/);
    }
  });

  await t.test('the internal change endpoint is not public', async () => {
    const r = await h.fetch('/example.wiki/sys/resources/media-list/Silver_River/changed', { method: 'POST', headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(r.status, 403);
    assert.match(r.headers.get('content-type')!, /problem\+json/);
  });

  await t.test('the OpenAPI spec lists declared resources with x-stability', async () => {
    const spec = (await (await h.fetch('/example.wiki/v1/?spec')).json()) as { paths: Record<string, { get: { 'x-stability': string; summary: string } }> };
    assert.equal(spec.paths['/page/media-list/{title}']!.get['x-stability'], 'unstable');
    assert.match(spec.paths['/page/media-list/{title}']!.get.summary, /refresh: eager/);
    assert.equal(spec.paths['/page/history/{title}']!.get['x-stability'], 'experimental');
    // A built-in's entry says what its declaration says.
    assert.equal(spec.paths['/page/summary/{title}']!.get['x-stability'], 'experimental');
    assert.match(spec.paths['/page/summary/{title}']!.get.summary, /^Short summary of a page \(stored; re-rendered when html changes\)$/);
    assert.match(spec.paths['/page/html/{title}']!.get.summary, /^Get the latest HTML of a page/);
  });

  await t.test('a stored resource answers per revision: the latest, an older stored one, 404 otherwise', async () => {
    const r1 = h.edit('Rev Brook', 'First. [[File:One.jpg]]');
    const first = await valueWithin(async () => {
      const res = await h.fetch(`/example.wiki/v1/page/media-list/Rev_Brook/${r1}`);
      return res.status === 200 ? res : undefined;
    }, 10_000, 'revision one served');
    assert.match(first.headers.get('etag')!, new RegExp(`^"${r1}/`));
    const r2 = h.edit('Rev Brook', 'Second. [[File:Two.jpg]]');
    const second = await valueWithin(async () => {
      const res = await h.fetch(`/api/rest_v1/page/media-list/Rev_Brook/${r2}`, { headers: { host: 'example.wiki' } });
      return res.status === 200 ? ((await res.json()) as Files) : undefined;
    }, 20_000, 'revision two served');
    assert.ok(second.files.some((f) => f.title === 'File:Two.jpg'));
    const oldRes = await h.fetch(`/example.wiki/v1/page/media-list/Rev_Brook/${r1}`);
    const oldText = await oldRes.text();
    assert.equal(oldRes.status, 200, oldText);
    const old = JSON.parse(oldText) as Files;
    assert.ok(old.files.some((f) => f.title === 'File:One.jpg'), 'the older render, as stored');
    const none = await h.fetch(`/example.wiki/v1/page/media-list/Rev_Brook/${r2 + 1000}`);
    assert.equal(none.status, 404);
    assert.match(none.headers.get('content-type')!, /problem\+json/);
    assert.equal(((await none.json()) as { code?: string }).code, 'CASCADE_RESOURCE_REVISION_NOT_STORED');
    assert.equal((await h.fetch('/example.wiki/v1/page/media-list/Rev_Brook/abc')).status, 400);
    const moved = await h.fetch('/example.wiki/v1/page/media-list/rev_Brook/1', { redirect: 'manual' });
    assert.equal(moved.status, 301, await moved.text());
    assert.equal(moved.headers.get('location'), '/example.wiki/v1/page/media-list/Rev_Brook/1');
  });

  await t.test('built-ins derived from the html refresh lazy and hot, by their declarations', async () => {
    const store = h.app.store;
    const stored = async (bucket: string, key: string) => (await store.getLatest(domain, bucket, key))?.rev;
    for (const title of ['Lazy_Lake', 'Hot_Hill']) h.edit(title.replace(/_/g, ' '), 'Version one.');
    // Client reads: mobile-html of the lake; the hill's summary twice (hot after min_reads).
    await until(async () => (await h.fetch('/example.wiki/v1/page/mobile-html/Lazy_Lake')).status === 200, 10_000, 'lake readable');
    for (let i = 0; i < 2; i++) assert.equal((await h.fetch('/example.wiki/v1/page/summary/Hot_Hill')).status, 200);
    await h.fetch('/example.wiki/v1/page/summary/Lazy_Lake'); // read once: cold
    const before = { ...rt.stats };
    const lake = h.edit('Lazy Lake', 'Version two.');
    const hill = h.edit('Hot Hill', 'Version two.');
    // lazy: the html is re-rendered, the mobile-html is not, until a read.
    await until(() => rt.stats.deferred >= before.deferred + 2, 20_000, 'the lake mobile-html (lazy) and summary (cold) deferred');
    await until(async () => (await stored('html', 'Lazy_Lake')) === lake, 20_000, 'the lake html re-rendered (eager)');
    assert.ok(((await stored('mobile-html', 'Lazy_Lake')) ?? 0) < lake, 'lazy: not derived on the change');
    const m = await h.fetch('/example.wiki/v1/page/mobile-html/Lazy_Lake');
    assert.match(await m.text(), /Version two/, 'the next read derives from the new html');
    assert.equal(await stored('mobile-html', 'Lazy_Lake'), lake);
    // hot: read recently, so derived at once.
    await until(async () => (await stored('summary', 'Hot_Hill')) === hill, 20_000, 'the hill summary derived on the change (hot)');
    assert.ok(rt.stats.changeRenders > before.changeRenders);
  });

  // Last: it restarts Cascade (the runtime `rt` above belongs to the first start).
  await t.test('a changed declaration takes effect on the next read, over renders stored under the old one', async () => {
    const before = (await (await h.fetch('/example.wiki/v1/page/media-list/Silver_River')).json()) as Record<string, unknown>;
    assert.ok(Array.isArray(before.files), 'stored as the backend answered');
    await h.restart(RESOURCES_YAML.replace("request: { uri: '/w/rest.php/v1/page/{title}/links/media' }", "request: { uri: '/w/rest.php/v1/page/{title}/links/media' }\n    shape: pcs-media-list"));
    const r = await h.fetch('/example.wiki/v1/page/media-list/Silver_River');
    const after = (await r.json()) as { items?: { title: string }[]; revision?: string };
    assert.ok(Array.isArray(after.items), 'rendered again under the new declaration (the media-list shape)');
    assert.equal(after.revision, (r.headers.get('etag') ?? '').replace(/^"(\d+)\/.*$/, '$1'));
    assert.equal(h.app.content.resources.stats.readRenders, 1, 'one render, by that read');
  });
});
