// The derive pool: large pages are derived in worker threads (same output as the main thread,
// timers keep firing meanwhile), small ones inline, and the queue is bounded (503 when full).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { corpusPath } from '../helpers/corpus.ts';
import { deriveMobileHtml, deriveMobileSections, deriveSummary, type DeriveMeta } from '../../src/content/derive/index.ts';
import { DerivePool, runJob } from '../../src/content/derive/pool.ts';
import { isCascadeError } from '../../src/errors/index.ts';

const html = readFileSync(corpusPath('html', 'United_States.html'), 'utf8');
const meta: DeriveMeta = { domain: 'en.wikipedia.org', title: 'United_States', pageid: 3434750, revision: 1 };
const inline = (job: Parameters<typeof runJob>[0]) => runJob(job, deriveSummary, deriveMobileSections, deriveMobileHtml);
const pool = new DerivePool({ workers: 1, maxQueue: 2, inlineBelow: 65536 }, inline);
after(() => pool.close());

/** Runs `p` while counting how often a 1 ms timer fires: 0 means the event loop was blocked throughout. */
async function ticksDuring<T>(p: () => Promise<T>): Promise<{ value: T; ticks: number }> {
  let ticks = 0;
  let on = true;
  const loop = () => {
    if (!on) return;
    ticks++;
    setTimeout(loop, 1);
  };
  setTimeout(loop, 1);
  const value = await p();
  on = false;
  return { value, ticks };
}

test('a large page is derived in a worker, with the same result as inline, while timers keep firing', async () => {
  assert.ok(html.length > 1_000_000, `the corpus page is large (${html.length})`);
  await pool.run('summary', html, meta); // start-up of the worker is not what is measured
  const before = pool.stats.worker;
  const { value, ticks } = await ticksDuring(() => pool.run('mobile-sections', html, meta));
  assert.equal(pool.stats.worker, before + 1);
  assert.ok(ticks > 0, 'the event loop ran while the worker derived');
  assert.deepEqual(JSON.parse(value[0]), JSON.parse(inline({ kind: 'mobile-sections', input: html, meta })[0]));
  const [lead, remaining] = await pool.run('split', value[0]);
  const full = JSON.parse(value[0]) as { lead: unknown; remaining: unknown };
  assert.deepEqual(JSON.parse(lead), full.lead);
  assert.deepEqual(JSON.parse(remaining), full.remaining);
});

test('small inputs are derived inline', async () => {
  const before = pool.stats.inline;
  const [s] = await pool.run('summary', '<html><body><section data-mw-section-id="0"><p>Short page.</p></section></body></html>', { domain: 'example.wiki', title: 'Short' });
  assert.equal(pool.stats.inline, before + 1);
  assert.equal((JSON.parse(s) as { extract: string }).extract, 'Short page.');
});

test('the queue is bounded: beyond it a derivation fails with 503 CASCADE_CONTENT_DERIVE_BUSY', async () => {
  const jobs = Array.from({ length: 6 }, () => pool.run('summary', html, meta));
  const settled = await Promise.allSettled(jobs);
  const rejected = settled.filter((r) => r.status === 'rejected');
  assert.ok(rejected.length >= 1, 'some were refused');
  for (const r of rejected) {
    const e = (r as PromiseRejectedResult).reason as unknown;
    assert.ok(isCascadeError(e) && e.status === 503 && e.code === 'CASCADE_CONTENT_DERIVE_BUSY', String(e));
  }
  assert.ok(settled.some((r) => r.status === 'fulfilled'));
});

test('a failing derivation rejects its job and the pool goes on', async () => {
  await assert.rejects(pool.run('split', 'x'.repeat(70000)), /derive split/);
  const [s] = await pool.run('summary', html, meta);
  assert.equal((JSON.parse(s) as { title: string }).title, 'United_States');
});

test('when workers cannot start (e.g. a build without the worker entry), derivation falls back to the main thread', async () => {
  const why: string[] = [];
  const broken = new DerivePool({ workers: 1, maxQueue: 4, inlineBelow: 0, entry: new URL('./no-such-worker-entry.mjs', import.meta.url) }, inline, (w) => why.push(w));
  try {
    const [s] = await broken.run('summary', html, meta);
    assert.equal((JSON.parse(s) as { title: string }).title, 'United_States');
    assert.equal(why.length, 1, 'the fallback is reported once');
    const [again] = await broken.run('summary', html, meta);
    assert.equal(again, s);
    assert.equal(broken.stats.inline, 2);
  } finally {
    await broken.close();
  }
});
