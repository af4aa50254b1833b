// Request policy per capability: POST /v1/events counts in the events capability's own class,
// not in content's `write`; /sys/content/ is internal-only by content's declaration; what no
// capability claims counts in the edge classes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestClock } from '../../src/util/clock.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

describe('router scopes', () => {
  let t: TestApp;
  let app: TestApp['app'];
  const clock = new TestClock(Date.now());
  before(async () => {
    t = await startTestApp(
      'scopes',
      `
events:
  rate_limit:
    produce: { rate: 0.001, burst: 3 }
content:
  rate_limit:
    classes:
      read: { rate: 0.001, burst: 2 }
      write: { rate: 0.001, burst: 1 }
resources:
  costly:                  # a declared resource pins its rate class
    kind: proxy
    path: /page/costly/{title}
    request: { uri: '/costly/{title}' }
    access_check: false
    rate_class: write
domains:
  example.wiki: { origin: { url: "http://127.0.0.1:9" } }
`,
      { quiet: true, clock },
    );
    app = t.app;
  });
  after(() => t?.close());

  // A remote client: a loopback peer forwarding for it (see clientKey).
  const remote = (ip: string, init: RequestInit = {}) => ({ ...init, headers: { ...(init.headers as Record<string, string>), 'x-forwarded-for': ip } });
  const postEvents = (ip: string) =>
    fetch(`${app.url}/v1/events`, remote(ip, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' }));

  it('a remote POST /v1/events counts in events.produce (burst 3), not in content write (burst 1)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await postEvents('203.0.113.10');
      await r.arrayBuffer();
      statuses.push(r.status);
    }
    assert.ok(statuses.slice(0, 3).every((s) => s !== 429), `first three within the produce burst: ${statuses}`);
    assert.equal(statuses[3], 429, `the fourth exceeds the produce burst: ${statuses}`);
    const limited = await postEvents('203.0.113.10');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('content-type'), 'application/problem+json');
    assert.match(await limited.text(), /CASCADE_RATE_LIMITED/);
    // Content's write class is untouched by the events: its one token is still there.
    const w = await fetch(`${app.url}/example.wiki/v1/page/html/Foo`, remote('203.0.113.10', { method: 'DELETE' }));
    await w.arrayBuffer();
    assert.notEqual(w.status, 429, 'content write has its own bucket');
    const w2 = await fetch(`${app.url}/example.wiki/v1/page/html/Foo`, remote('203.0.113.10', { method: 'DELETE' }));
    await w2.arrayBuffer();
    assert.equal(w2.status, 429, 'and it is limited by its own burst');
    // A token comes back after 1 / rate seconds of the app's clock (0.001/s: 1000 s), not before.
    await clock.advance(999_000);
    assert.equal((await postEvents('203.0.113.10')).status, 429);
    await clock.advance(2_000);
    assert.notEqual((await postEvents('203.0.113.10')).status, 429, 'refilled by the clock');
  });

  it('a declared resource counts in the rate class its declaration pins (rate_class: write, burst 1)', async () => {
    const ip = '203.0.113.14';
    const get = async (path: string) => {
      const r = await fetch(`${app.url}${path}`, remote(ip));
      await r.arrayBuffer();
      return r.status;
    };
    assert.notEqual(await get('/example.wiki/v1/page/costly/A'), 429, 'the one write token (the backend is down: 5xx, not 429)');
    assert.equal(await get('/api/rest_v1/page/costly/B'), 429, 'a GET of it counts as a write, on both API roots');
    assert.notEqual(await get('/example.wiki/v1/page/title/A'), 429, 'other reads count in read (burst 2)');
  });

  it('the classes are declared per capability and listed by the limiter', () => {
    const classes = Object.keys(app.scopes.limiter.opts.classes).sort();
    for (const c of ['events.produce', 'content.read', 'content.render', 'content.write', 'edge.read']) assert.ok(classes.includes(c), `${c} in ${classes}`);
  });

  it('content declares /sys/content/ internal-only: an external caller gets its 403 before any handler', async () => {
    const r = await fetch(`${app.url}/example.wiki/sys/content/page/Foo/deleted`, remote('203.0.113.11', { method: 'POST' }));
    assert.equal(r.status, 403);
    assert.match(await r.text(), /CASCADE_CONTENT_SYS_EXTERNAL/);
  });

  it('a path no capability claims counts in the edge classes, separately from content', async () => {
    const ip = '203.0.113.12';
    const page = await fetch(`${app.url}/example.wiki/v1/page/html/Foo`, remote(ip));
    await page.arrayBuffer();
    assert.notEqual(page.status, 429);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${app.url}/_dashboard`, remote(ip));
      await r.arrayBuffer();
      statuses.push(r.status);
    }
    assert.deepEqual(
      statuses.map((s) => s === 429),
      [false, false, true],
      `edge read burst 2 is its own bucket: ${statuses}`,
    );
  });
});
