// npm run bench:mediawiki — Cascade in front of a real MediaWiki (Debian's 1.39, SQLite, core
// Parsoid, php -S) with the recentchanges follower (1 s poll unless --poll-ms) and change
// propagation on: edits made in MediaWiki at a fixed rate, and for each edit the time until
// Cascade's stored html, summary and mobile-sections hold the new revision (edit response →
// stored); the origin's own render time (MediaWiki REST /revision/{id}/html, timed by Cascade's
// origin client) is the baseline beside it, and "beyond render" subtracts its mean. Then
// deletes at 1/s: delete response → Cascade answers 404. Origin requests per edit from
// Cascade's origin-request counters (recentchanges polls counted apart).
// Usage: npm run bench:mediawiki -- [--rates 1,10] [--seconds 8] [--pages 20] [--deletes 8]
//          [--poll-ms 1000] [--backend sqlite|jetstream]
import { cpus, loadavg } from 'node:os';
import { metrics } from '../src/router/metrics.ts';
import { startMediaWiki } from '../test/helpers/mediawiki.ts';
import { startCascade } from '../test/mediawiki/cascade.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
};
const rates = opt('rates', '1,10').split(',').map(Number);
const seconds = Number(opt('seconds', '8'));
const pageCount = Number(opt('pages', '20'));
const deletes = Number(opt('deletes', '8'));
const pollMs = Number(opt('poll-ms', '1000'));
const backend = opt('backend', 'sqlite') as 'sqlite' | 'jetstream';

const pct = (a: number[], p: number) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KINDS = ['html', 'summary', 'mobile-sections'] as const;

/** Origin request counters from Cascade's metrics: count and seconds by op. */
function originCounters(): Map<string, { count: number; sum: number }> {
  const out = new Map<string, { count: number; sum: number }>();
  for (const line of metrics.render().split('\n')) {
    const m = /^cascade_origin_request_duration_seconds_(count|sum)\{[^}]*op="([^"]+)"[^}]*\} ([\d.e+-]+)$/.exec(line);
    if (!m) continue;
    const e = out.get(m[2]) ?? { count: 0, sum: 0 };
    e[m[1] as 'count' | 'sum'] += Number(m[3]);
    out.set(m[2], e);
  }
  return out;
}
function diff(a: Map<string, { count: number; sum: number }>, b: Map<string, { count: number; sum: number }>) {
  const out = new Map<string, { count: number; sum: number }>();
  for (const [k, v] of b) {
    const o = a.get(k) ?? { count: 0, sum: 0 };
    out.set(k, { count: v.count - o.count, sum: v.sum - o.sum });
  }
  return out;
}

console.log(`$ npm run bench:mediawiki -- --rates ${rates.join(',')} --seconds ${seconds} --pages ${pageCount} --deletes ${deletes} --poll-ms ${pollMs} --backend ${backend}`);
console.log(`machine: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

const mw = await startMediaWiki();
const c = await startCascade(mw.url, { backend, changes: `{ follow: recentchanges, poll_interval_ms: ${pollMs} }` });
const domain = c.domain;
const store = () => c.app.store;
const keyOf = (t: string) => t.replace(/ /g, '_');
const storedRev = async (kind: string, title: string) => (await store().getLatest(domain, kind, keyOf(title)))?.rev ?? -1;
const text = (title: string, n: number) => `'''${title}''' revision ${n} of the benchmark.\n\n== Section A ==\nText ${n}.\n\n== Section B ==\nMore text ${n}.\n`;

interface Row { label: string; edits: number; achieved: number; fresh: Record<string, number[]>; lost: number; renderMean: number; perEdit: number; polls: number; }
const rows: Row[] = [];
try {
  // Pages, stored in Cascade in all three representations before timing starts.
  const pages = Array.from({ length: pageCount }, (_, i) => `Bench page ${i + 1}`);
  for (const p of pages) await mw.edit(p, text(p, 0));
  for (const p of pages) for (const k of KINDS) await (await c.fetch(`/${domain}/v1/page/${k}/${encodeURIComponent(keyOf(p))}`)).arrayBuffer();
  const quietUntil = Date.now() + 30_000;
  // Let the creations' own events settle (the follower's first changes).
  for (;;) {
    const revs = await Promise.all(pages.map(async (p) => [await mw.latestRevision(p), await storedRev('mobile-sections', p)] as const));
    if (revs.every(([a, b]) => b >= (a ?? 0)) || Date.now() > quietUntil) break;
    await sleep(200);
  }
  await sleep(pollMs + 500);

  let n = 1;
  for (const rate of rates) {
    const before = originCounters();
    const pending: { title: string; rev: number; t0: number; done: Record<string, number> }[] = [];
    const started = Date.now();
    const total = Math.max(1, Math.round(rate * seconds));
    const inflight = new Set<Promise<void>>();
    // Watches stored revisions while the edits go on, so each edit is timed from its response.
    let issuing = true;
    const watch = (async () => {
      let deadline = Infinity;
      for (;;) {
        const open = pending.flatMap((e) => KINDS.filter((k) => e.done[k] === undefined).map((k) => ({ e, k })));
        if (!issuing && deadline === Infinity) deadline = Date.now() + 30_000;
        if ((!issuing && open.length === 0) || Date.now() > deadline) return;
        await Promise.all(
          open.map(async ({ e, k }) => {
            if ((await storedRev(k, e.title)) >= e.rev) e.done[k] = Date.now() - e.t0;
          }),
        );
        await sleep(10);
      }
    })();
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
      const title = pages[i % pages.length];
      const version = n++;
      // At most 2 edits in flight: the load generator must not take every PHP worker the
      // renders need (the achieved rate shows when the wiki cannot keep up).
      while (inflight.size >= 2) await Promise.race(inflight);
      const p: Promise<void> = mw.edit(title, text(title, version)).then((e) => {
        pending.push({ title, rev: e.revid, t0: Date.now(), done: {} });
        inflight.delete(p);
      });
      inflight.add(p);
    }
    await Promise.all(inflight);
    const achieved = total / ((Date.now() - started) / 1000);
    issuing = false;
    // Until every representation of every edit is stored (or 30 s after the last edit).
    await watch;
    const after = originCounters();
    const d = diff(before, after);
    const render = d.get('revision-html') ?? { count: 0, sum: 0 };
    let requests = 0;
    for (const [op, v] of d) if (op !== 'recentchanges') requests += v.count;
    rows.push({
      label: `${rate} edit/s`,
      edits: pending.length,
      achieved,
      fresh: Object.fromEntries(KINDS.map((k) => [k, pending.filter((e) => e.done[k] !== undefined).map((e) => e.done[k])])),
      lost: pending.filter((e) => KINDS.some((k) => e.done[k] === undefined)).length,
      renderMean: render.count ? (render.sum / render.count) * 1000 : NaN,
      perEdit: requests / pending.length,
      polls: d.get('recentchanges')?.count ?? 0,
    });
    await sleep(pollMs + 500);
  }

  // Deletes at 1/s: delete response → Cascade answers 404 for html.
  const toDelete = pages.slice(0, Math.min(deletes, pages.length));
  const del: number[] = [];
  await Promise.all(
    toDelete.map(async (p, i) => {
      await sleep(i * 1000);
      await mw.delete(p);
      const t0 = Date.now();
      const deadline = t0 + 30_000;
      while (Date.now() < deadline) {
        const r = await c.fetch(`/${domain}/v1/page/html/${encodeURIComponent(keyOf(p))}`);
        await r.arrayBuffer();
        if (r.status === 404) {
          del.push(Date.now() - t0);
          return;
        }
        await sleep(20);
      }
    }),
  );

  const f = (v: number) => (Number.isFinite(v) ? String(Math.round(v)) : '–');
  console.log('\nedit → stored fresh in Cascade (ms from the edit response; "beyond render" subtracts the mean origin render)\n');
  console.log('| rate | edits | achieved/s | html p50 | html p99 | summary p50 | summary p99 | mobile-sections p50 | mobile-sections p99 | origin render mean (baseline) | html p99 beyond render | lost | origin requests/edit | recentchanges polls |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const q = (k: string, p: number) => f(pct(r.fresh[k], p));
    console.log(
      `| ${r.label} | ${r.edits} | ${r.achieved.toFixed(1)} | ${q('html', 50)} | ${q('html', 99)} | ${q('summary', 50)} | ${q('summary', 99)} | ${q('mobile-sections', 50)} | ${q('mobile-sections', 99)} | ${f(r.renderMean)} | ${f(pct(r.fresh.html, 99) - r.renderMean)} | ${r.lost} | ${r.perEdit.toFixed(2)} | ${r.polls} |`,
    );
  }
  console.log(`\ndelete → 404: ${del.length}/${toDelete.length} deletes, p50 ${f(pct(del, 50))} ms, p99 ${f(pct(del, 99))} ms`);
  console.log(`\ntargets (issue 10): delete-to-404 p99 <= 2000 ms with the 1 s poll; edit-to-fresh p99 <= 2000 ms plus the render; no change lost`);
} finally {
  await c.close();
  await mw.close();
}
