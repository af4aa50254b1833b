// The dashboard in a real headless Chromium: it loads without console errors, shows the
// numbers /metrics exports, and updates after edits made through the example wiki. The test
// writes a screenshot (test-output/dashboard.png, or CASCADE_SCREENSHOT) and prints its path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium, requireChromium } from './chromium.ts';
import { ADMIN_TOKEN, editPage, scrape, settle, startOpsApp, total, until } from './harness.ts';

/** The raw number behind a dashboard cell (its data-v), or undefined while it is not shown. */
async function shown(page: Page, key: string): Promise<number | undefined> {
  const v = await page.locator(`[data-k="${key}"]`).first().getAttribute('data-v', { timeout: 1000 }).catch(() => null);
  return v === null || v === '' ? undefined : Number(v);
}

test('dashboard in headless Chromium: no console errors, the numbers of /metrics, live after edits', async (t) => {
  if (!requireChromium(t)) return;
  const env = await startOpsApp();
  const browser = await launchChromium();
  const problems: string[] = [];
  try {
    const { app, wikiUrl } = env;
    // The seed pages go through change propagation at start; let that finish first.
    await until(async () => (await app.store.getLatest('example.wiki', 'summary', 'Silver_River')) !== undefined, 20_000, 'seed pages propagated');
    await settle(app);

    const page = await browser.context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    const res = await page.goto(`${app.url}/_dashboard`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'Cascade dashboard');

    // The page shows what /metrics says (once its next poll has run).
    const m0 = await scrape(app.url);
    const key = 'intake.accepted.mediawiki.revision-create';
    const accepted0 = total(m0, 'cascade_events_intake_total', { stream: 'mediawiki.revision-create', outcome: 'accepted' });
    const renders0 = total(m0, 'cascade_content_renders_total');
    assert.ok(accepted0 > 0 && renders0 > 0, 'the seed edits went through');
    await until(async () => (await shown(page, key)) === accepted0, 10_000, `the page to show ${accepted0} accepted revision-create events`);
    await until(async () => (await shown(page, 'renders.total')) === renders0, 10_000, `the page to show ${renders0} renders`);
    assert.equal(await shown(page, 'dead.page_edit'), total(m0, 'cascade_changeprop_events_total', { rule: 'page_edit', outcome: 'dead' }));
    assert.ok((await page.locator('#p-dead code').allTextContents()).includes('cascade dlq list --rule page_edit'), 'the dlq command per rule');
    const dlqLink = await page.locator('#p-dead a', { hasText: 'cascade dlq list --rule page_edit' }).getAttribute('href');
    assert.equal(dlqLink, '/_dashboard/dead-letters/page_edit');
    assert.equal((await page.request.get(app.url + dlqLink)).status(), 200);

    // Bursts of edits through the example wiki: after each, the page follows without a reload.
    const rounds = 5;
    const perRound = 3;
    const edits = rounds * perRound;
    const titles = ['Silver River', 'Larkford', 'Cascade'];
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < perRound; i++) {
        const title = titles[i % titles.length];
        await editPage(wikiUrl, title, `'''${title}''' edit ${round}.${i} of the dashboard bursts, at ${Date.now()}. See [[Larkford]].`);
      }
      const want = accepted0 + (round + 1) * perRound;
      await until(async () => (await shown(page, key)) === want, 10_000, `the page to show ${want} accepted events after round ${round + 1}`);
    }
    await settle(app);
    const m1 = await scrape(app.url);
    const accepted1 = total(m1, 'cascade_events_intake_total', { stream: 'mediawiki.revision-create', outcome: 'accepted' });
    assert.equal(accepted1, accepted0 + edits);
    await until(async () => (await shown(page, key)) === accepted1, 10_000, `the page to show ${accepted1} accepted events after the edits`);
    const renders1 = total(m1, 'cascade_content_renders_total');
    assert.ok(renders1 >= renders0 + edits, `renders ${renders0} → ${renders1}`);
    await until(async () => (await shown(page, 'renders.total')) === renders1, 10_000, `the page to show ${renders1} renders`);
    assert.equal(await shown(page, 'lag.count.page_edit') !== undefined, true);
    const p99 = await shown(page, 'lag.p99.page_edit');
    assert.ok(p99 !== undefined && p99 > 0, `page_edit lag p99 shown: ${p99}`);
    assert.ok(((await shown(page, 'intake.rate.mediawiki.revision-create')) ?? 0) > 0, 'an intake rate');
    assert.ok(((await shown(page, 'renders.per_minute')) ?? 0) > 0, 'renders per minute');
    assert.ok(((await shown(page, 'origin.requests.example.wiki')) ?? 0) > 0, 'origin requests');
    assert.ok((await page.locator('#p-intake svg.chart path').count()) > 0, 'the intake chart has a line');
    assert.equal(await page.locator('#status').textContent(), 'live');
    // Store sizes are measured once a minute: measure now and wait for the page to show it.
    await app.ops.sizes.refresh();
    const htmlBytes = (await app.store.bucketSizes()).find((b) => b.bucket === 'html')!.bytes;
    await until(async () => (await shown(page, 'store.bytes.example.wiki/html')) === htmlBytes, 10_000, 'the store size of html');

    const out = resolve(process.env.CASCADE_SCREENSHOT ?? 'test-output/dashboard.png');
    mkdirSync(resolve(out, '..'), { recursive: true });
    await page.screenshot({ path: out, fullPage: true });
    console.log(`dashboard screenshot: ${out}`);
    assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
  } finally {
    await browser.close();
    await env.close();
  }
});

test('dashboard in headless Chromium for an external caller: ?token= opens it and the page sends the token with its polls', async (t) => {
  if (!requireChromium(t)) return;
  const env = await startOpsApp();
  const browser = await launchChromium();
  const problems: string[] = [];
  try {
    const { app } = env;
    const page = await browser.context.newPage();
    // Through a proxy on loopback: X-Forwarded-For makes every request of the page external.
    await page.setExtraHTTPHeaders({ 'x-forwarded-for': '203.0.113.9' });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    assert.equal((await page.goto(`${app.url}/_dashboard`))?.status(), 403, 'no token: refused');
    problems.length = 0; // the refused navigation's own console line
    const res = await page.goto(`${app.url}/_dashboard?token=${ADMIN_TOKEN}`);
    assert.equal(res?.status(), 200);
    await until(async () => (await page.locator('#status').textContent()) === 'live', 10_000, 'the page to poll its data with the token');
    await until(async () => (await shown(page, 'renders.total')) !== undefined, 10_000, 'numbers on the page');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await env.close();
  }
});
