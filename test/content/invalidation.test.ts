// Cross-instance hot-cache invalidation: a resource_change from another process (appended to
// the log through the event bus, as another Cascade instance would) evicts this process's hot
// entries of the page; this process's own resource_change events evict nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { invalidationGroup } from '../../src/content/index.ts';
import { encodeTitle, parsePublicUri } from '../../src/content/service.ts';
import { startHarness, type Harness } from './harness.ts';
import { until as waitUntil } from '../helpers/wait.ts';

const until = (what: string, ms: number, probe: () => boolean | Promise<boolean>) => waitUntil(probe, ms, what);

test('parsePublicUri inverts the public URL of resource_change', () => {
  for (const key of ['Larkford', 'AC/DC', 'Talk:Foo,_bar_(baz)', 'Ünïcode_$;@_50%', 'What?#x']) {
    const p = parsePublicUri(`https://example.wiki/api/rest_v1/page/mobile-sections/${encodeTitle(key)}`);
    assert.deepEqual(p, { domain: 'example.wiki', endpoint: 'mobile-sections', key });
  }
  assert.equal(parsePublicUri('https://example.wiki/api/rest_v1/page/html/'), undefined);
  assert.equal(parsePublicUri('https://example.wiki/wiki/Larkford'), undefined);
  assert.equal(parsePublicUri('not a url'), undefined);
});

describe('hot cache invalidation from the resource_change topic', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(`  access_check_max_age_seconds: 300
  instance_id: test-invalidation
  hot_cache: { cross_instance_invalidation: true }`);
  });
  after(() => h.close());

  test("own writes are skipped; another instance's write evicts the page", async () => {
    const svc = h.app.content.service;
    const r = await h.fetch('/example.wiki/v1/page/html/Larkford');
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    const s = await h.fetch('/example.wiki/v1/page/summary/Larkford');
    assert.equal(s.status, 200);
    await s.arrayBuffer();
    const entry = svc.hotHtml('example.wiki', 'Larkford');
    assert.ok(entry, 'the render is in the hot cache');
    // Our own html and summary resource_change come back through the consumer and are skipped:
    // wait until both are in the log and this instance's group has consumed the topic.
    const topic = `${h.app.config.datacenter}.resource_change`;
    const log = h.app.events.log;
    await until('our own resource_change events to be consumed', 10_000, async () => {
      const own = (await log.read(topic, 0, 1000)).map((r) => String((JSON.parse(r.value.toString('utf8')) as { meta: { uri: string } }).meta.uri));
      const both = own.some((u) => u.endsWith('/page/html/Larkford')) && own.some((u) => u.endsWith('/page/summary/Larkford'));
      return both && (await log.lag(invalidationGroup('test-invalidation'), topic)) === 0;
    });
    assert.equal(svc.remoteEvictions, 0, 'own events evict nothing');
    assert.equal(svc.hotHtml('example.wiki', 'Larkford'), entry);

    const t0 = Date.now();
    await h.app.events.producer.produce([
      {
        $schema: '/resource_change/1.0.0',
        meta: { uri: `https://example.wiki/api/rest_v1/page/html/Larkford`, stream: 'resource_change', domain: 'example.wiki', dt: new Date().toISOString(), id: randomUUID() },
        tags: ['cascade', 'html'],
      },
    ]);
    await until('the foreign resource_change to evict the page', 3000, () => svc.hotHtml('example.wiki', 'Larkford') === undefined);
    console.log(`# foreign resource_change → eviction after ${Date.now() - t0} ms (SQLite log)`);
    assert.equal(svc.remoteEvictions, 1);
    // The next read goes to the store (no new origin render) and serves the same render.
    const rendersBefore = svc.renders;
    const again = await h.fetch('/example.wiki/v1/page/html/Larkford');
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('etag'), entry.etag);
    await again.arrayBuffer();
    assert.equal(svc.renders, rendersBefore, 'reloaded from the store, not re-rendered');
    assert.ok(svc.hotHtml('example.wiki', 'Larkford'), 'cached again');
  });
});
