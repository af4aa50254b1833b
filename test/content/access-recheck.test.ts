// Events can be lost: access metadata older than the configured bound is re-checked with the
// origin before content is served. Also rate limiting on loopback when configured.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness(`  access_check_max_age_seconds: 0
  rate_limit:
    include_loopback: true
    classes:
      write: { rate: 0.01, burst: 2 }`);
});
after(async () => {
  await h.close();
});

it('a deletion whose event was lost is noticed before serving (404)', async () => {
  assert.equal((await h.fetch('/api/rest_v1/page/html/Larkford')).status, 200);
  await h.wikiApi({ action: 'delete', title: 'Larkford', reason: 'lost event' });
  const r = await h.fetch('/api/rest_v1/page/html/Larkford');
  assert.equal(r.status, 404);
  await h.wikiApi({ action: 'undelete', title: 'Larkford', reason: 'back' });
  assert.equal((await h.fetch('/api/rest_v1/page/html/Larkford')).status, 200);
});

it('a suppressed revision whose event was lost is noticed before serving (403)', async () => {
  const t = (await (await h.fetch('/api/rest_v1/page/title/Cascade')).json()) as { items: { rev: number }[] };
  const rev = t.items[0].rev;
  assert.equal((await h.fetch(`/api/rest_v1/page/html/Cascade/${rev}`)).status, 200);
  // MediaWiki cannot hide the current revision: make it an older one first.
  await h.wikiApi({ action: 'edit', title: 'Cascade', text: 'A newer revision.', summary: 'newer' });
  const j = await h.wikiApi({ action: 'revisiondelete', type: 'revision', target: 'Cascade', ids: String(rev), hide: 'content', reason: 'x' });
  assert.equal((j.revisiondelete as { status: string }).status, 'Success');
  assert.equal((await h.fetch(`/api/rest_v1/page/html/Cascade/${rev}`)).status, 403);
  const latest = await h.fetch('/api/rest_v1/page/html/Cascade');
  assert.equal(latest.status, 200);
  assert.match(await latest.text(), /A newer revision/);
});

it('rate limits per client and route class with 429 and Retry-After', async () => {
  const post = () =>
    h.fetch('/api/rest_v1/transform/wikitext/to/html/Sandbox', { method: 'POST', body: 'wikitext=x', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '198.51.100.9' } });
  const wr = () =>
    h.fetch('/api/rest_v1/page/wikitext/Sandbox', { method: 'POST', body: 'wikitext=x', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '198.51.100.9' } });
  assert.equal((await post()).status, 200);
  const w1 = await wr();
  const w2 = await wr();
  assert.ok([200, 201].includes(w1.status));
  assert.ok([200, 201].includes(w2.status));
  const w3 = await wr();
  assert.equal(w3.status, 429);
  assert.equal(w3.headers.get('content-type'), 'application/problem+json');
  assert.ok(Number(w3.headers.get('retry-after')) >= 1);
  // Reads are a different class and still pass for the same client.
  assert.equal((await h.fetch('/api/rest_v1/page/', { headers: { 'x-forwarded-for': '198.51.100.9' } })).status, 200);
});
