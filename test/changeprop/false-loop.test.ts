// Regression: a burst of edits must not look like a change-propagation loop.
// A summary/mobile-sections request made by change propagation (carrying `x-triggered-by`
// `…,resource_change:…/page/html/P`) may find the stored HTML older than the page's latest
// revision (edited again meanwhile) and render it. That render is a change of its own: its
// html resource_change must not carry the summary request's chain, or the next summary step
// sees `resource_change:…/page/html/P` twice and dead-letters it as a loop (508).
// - deterministic: one summary request with a chain over outdated stored HTML, then the
//   emitted html resource_change is read from the log;
// - end to end: new pages edited several times in quick succession on the derived rules,
//   then no rule counted a loop and no dead letter is a 508.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { App } from '../../src/app.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { MEDIAWIKI_STREAMS_YAML, bucketsYaml, dependenciesYaml } from '../helpers/config-yaml.ts';
import { listDeadLetters, type DeadLetter } from '../../src/changeprop/dlq.ts';
import { dlqStreams } from '../../src/changeprop/service.ts';
import { readAll, until } from './helpers.ts';

const PUBLIC = 'https://example.wiki/api/rest_v1/page';

async function start(changeprop: boolean): Promise<TestApp> {
  return startTestApp(
    'cp-loop',
    `
wiki: { enabled: true, port: 0, seed: true }
events:
  log: { backend: sqlite, path: events.sqlite }
  streams:
${MEDIAWIKI_STREAMS_YAML}
changeprop:
  enabled: ${changeprop}
  dependencies:
${dependenciesYaml('html', 'summary', 'mobile-sections')}
domains:
  example.wiki:
    origin: { url: "http://127.0.0.1:1" }
    buckets:
${bucketsYaml('html', 'summary', 'mobile-sections', 'page-meta')}
`,
  );
}

/** Saves `source` as the page's new revision in the example wiki; returns the revision id. */
async function edit(app: App, title: string, source: string): Promise<number> {
  const r = await fetch(`${app.wiki!.url}/w/rest.php/v1/page/${encodeURIComponent(title)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source, comment: 'false-loop test' }),
  });
  const text = await r.text();
  assert.ok(r.status === 200 || r.status === 201, `edit of ${title}: ${r.status} ${text}`);
  return (JSON.parse(text) as { latest: { id: number } }).latest.id;
}

const stored = async (app: App, bucket: string, key: string) => (await app.store.getLatest('example.wiki', bucket, key))?.body().toString() ?? '';
const uriOf = (e: Record<string, unknown>) => String((e.meta as { uri?: unknown }).uri);

test('a summary request with x-triggered-by that renders outdated stored HTML emits the html resource_change without that chain', async () => {
  // No rule engine: nothing but the requests below renders or emits.
  const { app, close } = await start(false);
  try {
    const title = 'Loopfix_direct';
    await edit(app, title, `'''Loopfix direct''' is FIRST-REV text.`);
    const first = await fetch(`${app.url}/example.wiki/v1/page/html/${title}`);
    assert.equal(first.status, 200, await first.text());
    assert.match(await stored(app, 'html', title), /FIRST-REV/);

    // The page is edited again; Cascade learns of the revision (as from revision-create) but
    // has not rendered it: the stored HTML is outdated.
    const rev = await edit(app, title, `'''Loopfix direct''' is SECOND-REV text.`);
    const mark = await fetch(`${app.url}/example.wiki/sys/content/page/${title}/revision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ revision: rev }),
    });
    assert.equal(mark.status, 200, await mark.text());
    assert.match(await stored(app, 'html', title), /FIRST-REV/);

    const dc = app.config.datacenter;
    const before = (await readAll(app.events.log, `${dc}.resource_change`)).length;
    const chain = `mediawiki.revision-create:https://example.wiki/wiki/${title},resource_change:${PUBLIC}/html/${title}`;
    const sum = await fetch(`${app.url}/example.wiki/v1/page/summary/${title}`, { headers: { 'x-triggered-by': chain } });
    assert.equal(sum.status, 200, await sum.text());
    assert.match(await stored(app, 'html', title), /SECOND-REV/, 'the summary request rendered the new revision');

    // resource_change is produced after the store write: wait for both events.
    let html: Record<string, unknown> | undefined;
    let summary: Record<string, unknown> | undefined;
    await until(async () => {
      const fresh = (await readAll(app.events.log, `${dc}.resource_change`)).slice(before);
      html = fresh.find((e) => uriOf(e) === `${PUBLIC}/html/${title}`);
      summary = fresh.find((e) => uriOf(e) === `${PUBLIC}/summary/${title}`);
      return html !== undefined && summary !== undefined;
    }, 10_000, 'resource_change of the new html and of the summary');
    assert.equal(html!.triggered_by, undefined, `the html render is not a step of the summary's chain (got ${String(html!.triggered_by)})`);
    // The summary itself is a step of the chain it was asked with.
    assert.equal(summary!.triggered_by, chain);
  } finally {
    await close();
  }
});

test('new pages edited several times in quick succession: no rule records a loop, no 508 dead letter', async () => {
  const { app, close } = await start(true);
  const engine = app.changeprop!.engine;
  const rounds = 4;
  const edits = 4;
  try {
    const titles: string[] = [];
    for (let r = 1; r <= rounds; r++) {
      const title = `Loopfix_burst_${r}_${Date.now()}`;
      titles.push(title);
      // Created, then edited again right away: each save is a revision-create of its own.
      for (let e = 1; e <= edits; e++) await edit(app, title, `'''Loopfix burst ${r}''' is BURST-${r}-EDIT-${e} text.\n\n== Section ==\nBody ${e}.`);
    }

    const last = (r: number) => new RegExp(`BURST-${r}-EDIT-${edits}\\b`);
    await until(async () => {
      for (const [i, title] of titles.entries()) {
        for (const b of ['html', 'summary', 'mobile-sections']) if (!last(i + 1).test(await stored(app, b, title))) return false;
      }
      return true;
    }, 30_000, 'html, summary and mobile-sections of every page at its last edit');

    // Idle: nothing in flight and no rule received anything new for a while.
    const snap = () => JSON.stringify(Object.values(engine.stats()).map((s) => [s.received, s.succeeded + s.ignored + s.dead + s.retried]));
    let seen = snap();
    let since = Date.now();
    await until(() => {
      const now = snap();
      if (now !== seen) {
        seen = now;
        since = Date.now();
      }
      const busy = Object.keys(engine.stats()).some((name) => (engine.runner(name)?.inFlightCount ?? 0) > 0);
      if (busy) since = Date.now();
      return Date.now() - since >= 500;
    }, 30_000, 'change propagation to be idle');

    const stats = engine.stats();
    const dead: DeadLetter[] = [];
    for (const rule of Object.keys(stats)) dead.push(...(await listDeadLetters(app.events.log, dlqStreams(app.config.changeprop, { datacenter: app.config.datacenter, dataDir: app.config.data_dir }), rule)));
    const loops = Object.fromEntries(Object.entries(stats).map(([k, s]) => [k, s.loops]));
    assert.deepEqual(
      loops,
      Object.fromEntries(Object.keys(stats).map((k) => [k, 0])),
      `no rule saw a loop; ${dead.length} dead letters, first: ${JSON.stringify(dead.slice(0, 2).map((d) => ({ rule: d.rule, status: d.status, message: d.message })))}`,
    );
    assert.deepEqual(
      dead.filter((d) => d.status === 508).map((d) => `${d.rule}: ${d.message}`),
      [],
      'no dead letter is a loop (508)',
    );
    assert.ok(stats.summary_rerender !== undefined && stats.summary_rerender.succeeded > 0, `the summary rule ran (rules: ${Object.keys(stats).join(', ')})`);
  } finally {
    await close();
  }
});
