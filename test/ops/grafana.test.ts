// The Grafana dashboard (src/ops/grafana.json) asks only for series Cascade exports: every
// PromQL expression's metric names are checked against a real scrape of /metrics after an
// edit went through, with histogram suffixes (_bucket/_sum/_count) resolved against the
// `# TYPE` lines rather than stripped blindly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { editPage, settle, startOpsApp, until } from './harness.ts';

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string; refId: string }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(new URL('../../src/ops/grafana.json', import.meta.url), 'utf8')) as { title: string; panels: Panel[] };

function exprs(panels: Panel[]): { panel: string; expr: string }[] {
  return panels.flatMap((p) => [...(p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })), ...exprs(p.panels ?? [])]);
}

const NOT_METRICS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Metric names a PromQL expression selects: identifiers that are not functions, keywords, labels or numbers. */
export function metricNames(expr: string): string[] {
  const e = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out: string[] = [];
  for (const m of e.matchAll(/(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = e.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(')) continue;
    if (NOT_METRICS.has(m[0].toLowerCase())) continue;
    out.push(m[0]);
  }
  return out;
}

/** Whether a scrape exports series of this name (a histogram's name alone is no series). */
function exported(name: string, types: Map<string, string>, seen: Set<string>): boolean {
  if (!seen.has(name)) return false;
  const t = types.get(name);
  if (t !== undefined) return t !== 'histogram' && t !== 'summary';
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = types.get(name.slice(0, -suffix.length));
    if (base === 'histogram' || (base === 'summary' && suffix !== '_bucket')) return true;
  }
  return false;
}

test('metricNames reads PromQL the way the check needs', () => {
  assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (rule, le) (rate(a_seconds_bucket{x="y(z)"}[$__rate_interval])))'), ['a_seconds_bucket']);
  assert.deepEqual(metricNames('sum(rate(a_total{r="hit"}[5m])) / sum(rate(a_total[5m])) * 60 + 1e3'), ['a_total', 'a_total']);
  assert.deepEqual(metricNames('b_bytes offset 5m and on (job) c_gauge'), ['b_bytes', 'c_gauge']);
  const types = new Map([['h', 'histogram'], ['c_count', 'counter']]);
  const seen = new Set(['h_bucket', 'h_sum', 'h_count', 'c_count']);
  assert.equal(exported('h_bucket', types, seen), true);
  assert.equal(exported('h', types, seen), false, 'a histogram is read through its suffixes');
  assert.equal(exported('c_count', types, seen), true, 'a counter named *_count is its own family');
  assert.equal(exported('c', types, seen), false, 'no blind suffix stripping');
  assert.equal(exported('nope_total', types, seen), false);
});

test('every Grafana query names only metrics /metrics exports, and the dashboard panels are all there', async () => {
  const list = exprs(dashboard.panels);
  assert.ok(list.length >= 10, `expressions: ${list.length}`);
  const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
  for (const want of ['intake', 'lag', 'in flight', 'retries', 'dead letters', 'hit ratio', 'origin latency', 'errors', 'renders per minute', 'store size']) {
    assert.ok(titles.includes(want), `a panel for ${want} (panels: ${titles})`);
  }

  const env = await startOpsApp();
  try {
    const { app, wikiUrl } = env;
    // Traffic through every path the panels watch: an edit (intake, changeprop, renders,
    // origin), reads (hot cache and store), and a size measurement.
    await until(async () => (await app.store.getLatest('example.wiki', 'html', 'Larkford')) !== undefined, 20_000, 'seed pages rendered');
    await editPage(wikiUrl, 'Larkford', "'''Larkford''' is a village on the [[Silver River]], edited for the Grafana check.");
    await settle(app);
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${app.url}/example.wiki/v1/page/html/Larkford`)).status, 200);
    await app.ops.sizes.refresh();
    const text = await (await fetch(`${app.url}/metrics`)).text();
    const types = new Map<string, string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2]);
    const seen = new Set<string>();
    for (const line of text.split('\n')) if (line && !line.startsWith('#')) seen.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);

    const missing: string[] = [];
    let checked = 0;
    for (const { panel, expr } of list) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `${panel}: no metric in ${expr}`);
      for (const n of names) {
        checked++;
        if (!exported(n, types, seen)) missing.push(`${panel}: ${n} (in ${expr})`);
      }
    }
    assert.deepEqual(missing, [], 'metrics the Grafana dashboard queries but /metrics does not export');
    assert.ok(checked >= list.length);
  } finally {
    await env.close();
  }
});
