// Refresh policies side by side: one stored resource per policy (eager, hot, lazy), each with a
// resource derived from it (derive: from), over the articles of ../shared/corpora/wikitext
// plus generated pages, read with a Zipf distribution while a stream of edits (uniform over the
// pages) arrives. An edit is propagated as the derived rules do (the resource's change, then
// its dependent's), in process, so the counts are exact. Per policy: origin renders per edit
// (the resource's backend requests), derived renders per edit (the derivation's), read p50/p99
// (the runtime's read: access state, store, render when needed), reads that had to render.
// Time is simulated (reads and edits arrive at fixed rates on a logical clock, which read heat
// follows), so the hot window means the same on any machine; latencies are measured for real.
// The default hot window (60 s, 2 reads) is a fifth of a page's mean time between edits here
// (3,000 pages at 10 edits/s: 300 s); `--window` and `--min-reads` sweep it.
// Usage: npm run bench:refresh [-- --pages 3000 --reads 20000 --read-rate 50 --edit-rate 10 --zipf 1.2 --window 60 --min-reads 2]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startApp } from '../src/app.ts';
import { configFromYaml } from '../src/config/index.ts';
import type { ResourceRuntime } from '../src/resources/index.ts';
import { startWiki } from '../src/wiki/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i !== -1 && args[i + 1] ? args[i + 1] : def;
};
const pages = Number(opt('pages', '3000'));
const reads = Number(opt('reads', '20000'));
const readRate = Number(opt('read-rate', '50'));
const editRate = Number(opt('edit-rate', '10'));
const zipfS = Number(opt('zipf', '1.2'));
const windowSeconds = Number(opt('window', '60'));
const minReads = Number(opt('min-reads', '2'));
const root = resolve(import.meta.dirname, '..');
const corpus = process.env.CASCADE_CORPUS_DIR ?? resolve(root, '..', 'shared', 'corpora');
console.log(`$ npm run bench:refresh -- --pages ${pages} --reads ${reads} --read-rate ${readRate} --edit-rate ${editRate} --zipf ${zipfS} --window ${windowSeconds} --min-reads ${minReads}`);

// Deterministic randomness (mulberry32), so the three policies see one workload.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dir = mkdtempSync(join(tmpdir(), 'cascade-bench-refresh-'));
const wiki = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, domain: 'example.wiki', seed: false });
const imported = wiki.importWikitextDir(join(corpus, 'wikitext'));
const titles = imported.titles.map((t) => t.replace(/ /g, '_'));
const performer = { user_text: 'Bench', user_groups: ['*'], user_is_bot: false };
for (let i = titles.length; i < pages; i++) {
  const t = `Generated_page_${i}`;
  wiki.wiki.edit({ title: t, text: `Page ${i}. [[File:Generated-${i}.jpg]] [[File:Common-${i % 50}.png]]`, performer });
  titles.push(t);
}

const policies = ['eager', 'hot', 'lazy'] as const;
const decl = (p: string) => `
  media-${p}:
    path: /page/media-${p}/{title}
    request: { uri: '/w/rest.php/v1/page/{title}/links/media' }
    depends_on: [revision]
    refresh: ${p}
  files-${p}:
    path: /page/files-${p}/{title}
    derive: { from: media-${p}, body: { title: '{{title}}', files: '{{source.files}}' } }
    refresh: ${p}`;
const config = configFromYaml(
  `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: example.wiki
wiki: { enabled: false }
changeprop: { enabled: false }
content: { rate_limit: { enabled: false }, access_check_max_age_seconds: 3600 }
resource_heat: { window_seconds: ${windowSeconds}, max_pages: 100000, min_reads: ${minReads} }
resources:${policies.map(decl).join('')}
domains:
  example.wiki:
    origin: { url: ${JSON.stringify(wiki.url)} }
    buckets:
      page-meta: { type: key_value, compression: none }
`,
  '<bench>',
  {},
);
const app = await startApp(config, { quiet: true });
const rt: ResourceRuntime = app.content.resources;
const D = 'example.wiki';

// Zipf ranks over a fixed shuffle of the pages.
const shuffle = rng(7);
const order = titles.map((t) => ({ t, k: shuffle() })).sort((a, b) => a.k - b.k).map((x) => x.t);
const weights = order.map((_, i) => 1 / Math.pow(i + 1, zipfS));
const cdf: number[] = [];
weights.reduce((s, w, i) => (cdf[i] = s + w), 0);
const total = cdf[cdf.length - 1]!;
const zipf = (u: number) => {
  const x = u * total;
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return order[lo]!;
};

// Warm-up: every page read once by every policy (a full store), not measured.
for (const t of titles) for (const p of policies) await rt.read(rt.resource(D, `media-${p}`)!, D, t);
for (const t of titles) for (const p of policies) await rt.read(rt.resource(D, `files-${p}`)!, D, t);

interface Row { origin: number; derived: number; lat: number[]; rendered: number; reads: number }
const rows = new Map<string, Row>(policies.map((p) => [p, { origin: 0, derived: 0, lat: [], rendered: 0, reads: 0 }]));
const rendersAtStart = new Map(rt.rendersByResource);
const renders = { get: (name: string) => (rt.rendersByResource.get(name) ?? 0) - (rendersAtStart.get(name) ?? 0) };

const readRng = rng(42);
const editRng = rng(99);
let edits = 0;
// The simulated clock: read i arrives at i / readRate s, edit j at j / editRate s.
let simMs = Date.now() + 24 * 3600_000; // after the warm-up's reads: every page starts cold
rt.now = () => simMs;
const t0Ms = simMs;
const started = performance.now();
for (let i = 0; i < reads; i++) {
  simMs = t0Ms + (i * 1000) / readRate;
  while ((edits * 1000) / editRate <= simMs - t0Ms) {
    const n = edits++;
    const t = titles[Math.floor(editRng() * titles.length)]!;
    const res = wiki.wiki.edit({ title: t, text: `Edit ${n}. [[File:Edit-${n}.jpg]] [[File:Common-${n % 50}.png]]`, performer });
    // As the derived rules: the resource on the revision, then its derivation on its resource_change.
    for (const p of policies) {
      await rt.change(rt.resource(D, `media-${p}`)!, D, t, { rev: res.rev.rev_id });
      await rt.change(rt.resource(D, `files-${p}`)!, D, t);
    }
  }
  const t = zipf(readRng());
  for (const p of policies) {
    const row = rows.get(p)!;
    const before = rt.stats.readRenders;
    const t0 = performance.now();
    await rt.read(rt.resource(D, `media-${p}`)!, D, t);
    await rt.read(rt.resource(D, `files-${p}`)!, D, t);
    row.lat.push(performance.now() - t0);
    row.reads++;
    if (rt.stats.readRenders > before) row.rendered++;
  }
}
const seconds = (performance.now() - started) / 1000;
for (const p of policies) {
  const row = rows.get(p)!;
  row.origin = renders.get(`media-${p}`) ?? 0;
  row.derived = renders.get(`files-${p}`) ?? 0;
}

const simSeconds = (simMs - t0Ms) / 1000;
const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const eager = rows.get('eager')!;
console.log(
  `\n${titles.length} pages (${imported.titles.length} from the corpus); ${reads} Zipf(s=${zipfS}) reads (the resource and its derivation) at ${readRate}/s and ${edits} edits (uniform over pages) at ${editRate}/s over ${simSeconds.toFixed(0)} simulated s; hot: ${minReads} reads within ${windowSeconds} s; ran ${seconds.toFixed(1)} s\n`,
);
console.log('| policy | origin renders / edit | derived renders / edit | renders vs eager | read p50 ms | read p99 ms | reads that rendered | hit ratio |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const p of policies) {
  const r = rows.get(p)!;
  const all = r.origin + r.derived;
  const vsEager = all / (eager.origin + eager.derived);
  console.log(
    `| ${p} | ${(r.origin / edits).toFixed(3)} | ${(r.derived / edits).toFixed(3)} | ${(vsEager * 100).toFixed(1)} % | ${pct(r.lat, 0.5).toFixed(2)} | ${pct(r.lat, 0.99).toFixed(2)} | ${((r.rendered / r.reads) * 100).toFixed(2)} % | ${((1 - r.rendered / r.reads) * 100).toFixed(2)} % |`,
  );
}
const hot = rows.get('hot')!;
const ratio = (hot.origin + hot.derived) / (eager.origin + eager.derived);
const hitGap = Math.abs(hot.rendered / hot.reads - eager.rendered / eager.reads) * 100;
console.log(`\ntarget: hot renders ≤ 30 % of eager (${(ratio * 100).toFixed(1)} %) at a hit ratio within 5 points (${hitGap.toFixed(2)}): ${ratio <= 0.3 && hitGap <= 5 ? 'met' : 'not met'}`);

await app.close();
await wiki.close();
rmSync(dir, { recursive: true, force: true });
