// The home page and the dashboard's access rules and data, over real HTTP on the embedded
// default: what external callers see, the token forms, and that the dashboard's numbers are
// the ones /metrics exports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseExposition, familyOf, quantile } from '../../src/ops/index.ts';
import type { DashboardData } from '../../src/ops/index.ts';
import { ADMIN_TOKEN, editPage, scrape, settle, startOpsApp, total, until, type OpsEnv } from './harness.ts';

let env: OpsEnv;
before(async () => {
  env = await startOpsApp();
});
after(async () => {
  await env?.close();
});

// A loopback caller with X-Forwarded-For is outside the trust boundary (a proxy forwarding).
const EXTERNAL = { 'x-forwarded-for': '203.0.113.9' };

test('home page: version, backends, domains, rules and links; origins only for internal callers', async () => {
  const { app } = env;
  const inside = await fetch(`${app.url}/`);
  assert.equal(inside.status, 200);
  assert.match(inside.headers.get('content-type') ?? '', /text\/html/);
  assert.match(inside.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const html = await inside.text();
  assert.match(html, /v0\.\d+\.\d+/);
  assert.match(html, /<dt>storage<\/dt><dd>sqlite<\/dd>/);
  assert.match(html, /<dt>event log<\/dt><dd>sqlite<\/dd>/);
  assert.ok(html.includes('href="/example.wiki/v1/"'), 'docs portal link');
  assert.ok(html.includes('href="/_dashboard"'), 'dashboard link');
  assert.ok(html.includes('<td>page_edit</td>'), 'rules listed');
  assert.ok(html.includes(app.wiki!.url), 'internal callers see the origin');

  const outside = await (await fetch(`${app.url}/`, { headers: EXTERNAL })).text();
  assert.ok(outside.includes('href="/example.wiki/v1/"'));
  assert.ok(outside.includes('<td>page_edit</td>'));
  assert.ok(!outside.includes(app.wiki!.url), 'no origin address for external callers');
  assert.ok(!outside.includes('127.0.0.1'), 'no internal address at all for external callers');
  assert.ok(!outside.includes(app.config.data_dir), 'no data dir for external callers');
});

test('home page links example pages that are stored, and they answer', async () => {
  const { app } = env;
  await until(async () => (await app.store.getLatest('example.wiki', 'html', 'Silver_River')) !== undefined, 20_000, 'seed pages rendered by change propagation');
  const html = await (await fetch(`${app.url}/`)).text();
  const links = [...html.matchAll(/href="(\/example\.wiki\/v1\/page\/(?:html|summary)\/[^"]+)"/g)].map((m) => m[1]);
  assert.ok(links.length >= 2, `example links: ${links.join(', ')}`);
  for (const l of links.filter((x) => x.includes('Silver_River'))) {
    const r = await fetch(app.url + l);
    assert.equal(r.status, 200, l);
  }
});

test('dashboard: 403 problem+json outside, open to internal callers, the bearer token and ?token=', async () => {
  const { app } = env;
  for (const path of ['/_dashboard', '/_dashboard/data']) {
    const denied = await fetch(app.url + path, { headers: EXTERNAL });
    assert.equal(denied.status, 403, path);
    assert.match(denied.headers.get('content-type') ?? '', /application\/problem\+json/);
    const p = (await denied.json()) as { type: string; title: string; detail: string };
    assert.ok(p.type && p.title && /token/.test(p.detail), JSON.stringify(p));
    const wrong = await fetch(`${app.url}${path}?token=not-the-token-at-all`, { headers: { ...EXTERNAL, authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 403);
    assert.equal((await fetch(app.url + path)).status, 200, 'loopback is internal');
    assert.equal((await fetch(app.url + path, { headers: { ...EXTERNAL, authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 200);
    assert.equal((await fetch(`${app.url}${path}?token=${ADMIN_TOKEN}`, { headers: EXTERNAL })).status, 200);
    assert.equal((await fetch(app.url + path, { headers: { ...EXTERNAL, 'x-cascade-internal': ADMIN_TOKEN } })).status, 200);
  }
  const page = await (await fetch(`${app.url}/_dashboard`)).text();
  assert.ok(page.includes('<script src="/_ops/dashboard.js"></script>'));
  assert.ok(!/<script>/.test(page), 'no inline script');
  const js = await fetch(`${app.url}/_ops/dashboard.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  assert.equal((await fetch(`${app.url}/_ops/nothing.js`)).status, 404);
});

test('dashboard data are the numbers /metrics exports, and move with an edit', async () => {
  const { app, wikiUrl } = env;
  await settle(app);
  const data = async () => (await (await fetch(`${app.url}/_dashboard/data`)).json()) as DashboardData;
  const before = await scrape(app.url);
  const d0 = await data();
  const intake0 = d0.intake.find((s) => s.stream === 'mediawiki.revision-create');
  assert.ok(intake0, 'revision-create stream on the dashboard');
  assert.equal(intake0.accepted, total(before, 'cascade_events_intake_total', { stream: 'mediawiki.revision-create', outcome: 'accepted' }));
  assert.equal(d0.renders.total, total(before, 'cascade_content_renders_total'));
  const pageEdit0 = d0.rules.find((r) => r.rule === 'page_edit')!;
  assert.equal(pageEdit0.succeeded, total(before, 'cascade_changeprop_events_total', { rule: 'page_edit', outcome: 'succeeded' }));
  assert.equal(pageEdit0.dlq_command, 'cascade dlq list --rule page_edit');
  assert.equal(d0.cache.hot.hits, total(before, 'cascade_content_hot_cache_lookups_total', { result: 'hit' }));

  await editPage(wikiUrl, 'Silver River', `'''Silver River''' flows past [[Larkford]]. Edited at ${Date.now()}.`);
  await settle(app);
  const after = await scrape(app.url);
  const d1 = await data();
  const intake1 = d1.intake.find((s) => s.stream === 'mediawiki.revision-create')!;
  assert.equal(intake1.accepted, intake0.accepted + 1);
  assert.equal(intake1.accepted, total(after, 'cascade_events_intake_total', { stream: 'mediawiki.revision-create', outcome: 'accepted' }));
  assert.ok(intake1.rate > 0, 'a rate over the window');
  assert.ok(d1.renders.total > d0.renders.total, 'the edit was rendered');
  const pageEdit1 = d1.rules.find((r) => r.rule === 'page_edit')!;
  assert.equal(pageEdit1.succeeded, pageEdit0.succeeded + 1);
  assert.ok(pageEdit1.lag.count >= 1 && pageEdit1.lag.p50 !== null && pageEdit1.lag.p50 >= 0, JSON.stringify(pageEdit1.lag));
  const origin = d1.origins.find((o) => o.domain === 'example.wiki')!;
  assert.equal(origin.requests, total(after, 'cascade_origin_request_duration_seconds_count', { domain: 'example.wiki' }));
  assert.ok(origin.latency.p99 !== null && origin.latency.p99 > 0);
});

test('dead letters of a rule as JSON (what cascade dlq list shows), behind the dashboard guard', async () => {
  const { app } = env;
  // A dead letter of our own making: an event on page_edit's dead-letter stream, as the engine writes it.
  const topic = `${app.config.datacenter}.${app.config.changeprop.dlq_stream}.page_edit`;
  const raw = JSON.stringify({ meta: { uri: 'https://example.wiki/wiki/Nowhere', stream: 'mediawiki.revision-create' } });
  const dead = { meta: { stream: `${app.config.changeprop.dlq_stream}.page_edit`, id: 'b9c0c8d2-0000-4000-8000-000000000001', dt: new Date().toISOString(), uri: 'https://example.wiki/wiki/Nowhere' }, rule: 'page_edit', raw_event: raw, message: 'HTTP 500: test', status: 500, retries: 2 };
  await app.events.log.append(topic, [{ id: dead.meta.id, value: Buffer.from(JSON.stringify(dead)) }]);
  const r = await fetch(`${app.url}/_dashboard/dead-letters/page_edit`);
  assert.equal(r.status, 200);
  const body = (await r.json()) as { command: string; dead_letters: { status: number; message: string; uri: string; retries: number }[] };
  assert.equal(body.command, 'cascade dlq list --rule page_edit');
  const mine = body.dead_letters.find((d) => d.uri === 'https://example.wiki/wiki/Nowhere');
  assert.deepEqual(mine && [mine.status, mine.message, mine.retries], [500, 'HTTP 500: test', 2]);
  assert.equal((await fetch(`${app.url}/_dashboard/dead-letters/page_edit`, { headers: EXTERNAL })).status, 403);
  assert.equal((await fetch(`${app.url}/_dashboard/dead-letters/no_such_rule`)).status, 404);
  const bad = await fetch(`${app.url}/_dashboard/dead-letters/page_edit?since=yesterday-ish`);
  assert.equal(bad.status, 400);
  assert.match(bad.headers.get('content-type') ?? '', /problem\+json/);
  const later = (await (await fetch(`${app.url}/_dashboard/dead-letters/page_edit?since=${Date.now() + 60_000}`)).json()) as { dead_letters: unknown[] };
  assert.deepEqual(later.dead_letters, []);
});

test('store size per bucket: the dashboard shows what the store measures', async () => {
  const { app } = env;
  await app.ops.sizes.refresh();
  const measured = await app.store.bucketSizes();
  const html = measured.find((b) => b.bucket === 'html')!;
  assert.ok(html.rows > 0 && html.bytes > 0, JSON.stringify(measured));
  const d = (await (await fetch(`${app.url}/_dashboard/data`)).json()) as DashboardData;
  assert.deepEqual(
    d.storage.map((b) => [b.domain, b.bucket, b.rows, b.bytes]),
    measured.map((b) => [b.domain, b.bucket, b.rows, b.bytes]),
  );
  const m = await scrape(app.url);
  assert.equal(total(m, 'cascade_storage_bucket_bytes', { domain: 'example.wiki', bucket: 'html' }), html.bytes);
});

test('exposition parser: labels with escapes, histogram families, quantiles like histogram_quantile', () => {
  const text = [
    '# TYPE a_seconds histogram',
    'a_seconds_bucket{r="x",le="0.1"} 5',
    'a_seconds_bucket{r="x",le="1"} 9',
    'a_seconds_bucket{r="x",le="+Inf"} 10',
    'a_seconds_sum{r="x"} 3.5',
    'a_seconds_count{r="x"} 10',
    '# TYPE b_count counter',
    'b_count{path="a\\"b\\\\c\\nd"} 7',
    'plain 1.5e3',
  ].join('\n');
  const { samples, types } = parseExposition(text);
  assert.equal(samples.length, 7);
  assert.deepEqual(samples[5], { name: 'b_count', labels: { path: 'a"b\\c\nd' }, value: 7 });
  assert.equal(samples[6].value, 1500);
  assert.equal(familyOf('a_seconds_bucket', types), 'a_seconds');
  assert.equal(familyOf('a_seconds_count', types), 'a_seconds');
  assert.equal(familyOf('b_count', types), 'b_count', 'a counter named *_count is its own family');
  const buckets = new Map([[0.1, 5], [1, 9], [Infinity, 10]]);
  assert.equal(quantile(0.5, buckets), 0.1);
  assert.ok(Math.abs(quantile(0.75, buckets)! - (0.1 + 0.9 * (7.5 - 5) / 4)) < 1e-12);
  assert.equal(quantile(0.99, buckets), 1, 'in +Inf: the last finite bound');
  assert.equal(quantile(0.5, new Map([[Infinity, 0]])), null);
});
