// Hit latency while large pages are derived: Cascade (embedded default, the example wiki
// in-process) serves a stored page to wrk while this process — Cascade's own process — derives
// summary and mobile sections of a ~0.9 MB real Parsoid page (Dog) back to back, either on the
// main thread (workers 0: what every derivation cost before) or in the worker pool. The idle
// row is the baseline. Rows run in one process, side by side.
// Usage: npm run bench:derive [-- --duration 5 --connections 10 --page Dog.html]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { startApp } from '../src/app.ts';
import { configFromYaml } from '../src/config/index.ts';
import { deriveMobileHtml, deriveMobileSections, deriveSummary } from '../src/content/derive/index.ts';
import { defaultWorkers, DerivePool, runJob } from '../src/content/derive/pool.ts';
import { startWiki } from '../src/wiki/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i !== -1 && args[i + 1] ? args[i + 1] : def;
};
const duration = Number(opt('duration', '5'));
const connections = Number(opt('connections', '10'));
const pageFile = opt('page', 'Dog.html');
const root = resolve(import.meta.dirname, '..');
const corpus = process.env.CASCADE_CORPUS_DIR ?? resolve(root, '..', 'shared', 'corpora');

if (spawnSync('wrk', ['--version']).error) {
  console.error('bench:derive needs wrk (Debian package `wrk`)');
  process.exit(1);
}
console.log(`$ npm run bench:derive -- --duration ${duration} --connections ${connections} --page ${pageFile}`);

const html = readFileSync(join(corpus, 'html', pageFile), 'utf8');
const meta = { domain: 'en.wikipedia.org', title: pageFile.replace(/\.html$/, '') };
const dir = mkdtempSync(join(tmpdir(), 'cascade-bench-derive-'));
const wiki = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, domain: 'example.wiki', seed: true });
const config = configFromYaml(
  `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: example.wiki
wiki: { enabled: false }
content: { rate_limit: { enabled: false } }
domains:
  example.wiki:
    origin: { url: ${JSON.stringify(wiki.url)} }
    buckets:
      html: { type: key_rev_value, compression: brotli }
      summary: { type: key_rev_value, compression: gzip }
      mobile-sections: { type: key_rev_value, compression: gzip }
      page-meta: { type: key_value, compression: none }
`,
  '<bench>',
  {},
);
const app = await startApp(config, { quiet: true });
const url = `${app.url}/api/rest_v1/page/html/Larkford`;
if ((await fetch(url)).status !== 200) throw new Error('warm-up read failed');

/** wrk's latency percentile line (`99%   1.23ms`) in ms. */
function pct(out: string, p: string): number {
  const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

async function row(name: string, workers: number | undefined) {
  const pool = workers === undefined ? undefined : new DerivePool({ workers, maxQueue: 64, inlineBelow: 0 }, (j) => runJob(j, deriveSummary, deriveMobileSections, deriveMobileHtml));
  let derived = 0;
  let running = true;
  const loop = (async () => {
    if (!pool) return;
    await pool.run('summary', html, meta); // worker start-up outside the measurement
    while (running) {
      await pool.run('mobile-sections', html, meta);
      await pool.run('summary', html, meta);
      derived += 2;
      await tick(); // as between requests: let I/O in
    }
  })();
  await tick();
  const started = derived;
  // wrk runs in its own process; this one keeps deriving meanwhile (spawn, not spawnSync).
  const out = await new Promise<string>((res, rej) => {
    const p = spawn('wrk', ['-t1', `-c${connections}`, `-d${duration}s`, '--latency', url]);
    let s = '';
    p.stdout.on('data', (b: Buffer) => (s += b.toString()));
    p.on('error', rej);
    p.on('close', () => res(s));
  });
  running = false;
  await loop;
  await pool?.close();
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  return { name, p50: pct(out, '50'), p99: pct(out, '99'), rps, derivations: ((derived - started) / duration).toFixed(1) };
}

const rows = [await row('idle (no derivation)', undefined), await row('deriving on the main thread (workers: 0)', 0), await row(`deriving in the pool (workers: ${defaultWorkers()})`, defaultWorkers())];
console.log(`\nhit GET /page/html/Larkford (wrk -t1 -c${connections} -d${duration}s) while deriving ${pageFile} (${(html.length / 1e6).toFixed(2)} MB) summary + mobile-sections back to back\n`);
console.log('| row | hit p50 ms | hit p99 ms | hits/s | derivations/s |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.rps.toFixed(0)} | ${r.derivations} |`);
await app.close();
await wiki.close();
rmSync(dir, { recursive: true, force: true });
