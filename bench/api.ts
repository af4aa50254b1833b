// Content API hit path vs a bare node:http server sending the same bytes from memory.
// Three processes: Cascade itself (`bin/cascade.js serve`, the embedded default from
// config/cascade.yaml on a temp data dir: SQLite store and log, the example wiki in-process,
// change propagation on), a bare node:http server with the same bytes and headers, and wrk.
// This driver seeds the data before Cascade starts and sits idle while wrk runs.
// The real Parsoid pages of ../shared/corpora/html are stored as the renders of wiki pages.
// Bare and Cascade runs alternate (bare, cascade, bare, cascade, …) to cancel drift; the
// ratio is the mean of the per-round ratios.
// Usage: npm run bench:api [-- --duration 10 --connections 10,50 --rounds 2 --pages Avere,Dog]
// Diagnosis: --cpu-prof DIR (profile of the Cascade process), --changeprop off, --entry FILE
// and --config FILE (another build or checkout; the config's data settings are replaced).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { configFromYaml } from '../src/config/index.ts';
import { HTML_TYPE, injectTid } from '../src/content/index.ts';
import { openStore } from '../src/storage/index.ts';
import { storeShared } from '../src/config/shared.ts';
import { newTid } from '../src/util/tid.ts';
import { startWiki } from '../src/wiki/index.ts';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i !== -1 && args[i + 1] ? args[i + 1] : def;
};
const duration = Number(opt('duration', '10'));
const conns = opt('connections', '10,50').split(',').map(Number);
const rounds = Number(opt('rounds', '2'));
const cpuProf = opt('cpu-prof', '');
// `--changeprop off` measures without the change-propagation consumers (diagnosis only).
const changeprop = opt('changeprop', 'on') !== 'off';
// `--entry FILE` runs another entry point than bin/cascade.js (e.g. a tsc build; diagnosis only).
const entry = resolve(opt('entry', join(root, 'bin', 'cascade.js')));
const corpus = process.env.CASCADE_CORPUS_DIR ?? resolve(root, '..', 'shared', 'corpora');

if (spawnSync('wrk', ['--version']).error) {
  console.error('bench:api needs wrk (Debian package `wrk`)');
  process.exit(1);
}

// All are stored and read once before the runs (so Cascade's RSS includes them); the runs
// are on --pages (default: the ~50 KB page and Dog, 875 KB).
const SEEDED: { file: string; title: string }[] = [
  { file: 'wiktionary-avere.html', title: 'Avere' },
  { file: 'Dog.html', title: 'Dog' },
  { file: 'United_States.html', title: 'United_States' },
];
const wanted = opt('pages', 'Avere,Dog').split(',');
const PAGES = SEEDED.filter((p) => wanted.includes(p.title));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  const port = (s.address() as AddressInfo).port;
  await new Promise((res) => s.close(res));
  return port;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

function getRaw(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; raw: string[]; body: Buffer }> {
  return new Promise((res, rej) => {
    request(url, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, raw: r.rawHeaders, body: Buffer.concat(chunks) }));
    })
      .on('error', rej)
      .end();
  });
}

// ------------------------------------------------------------------ config and seed data
const dir = mkdtempSync(join(tmpdir(), 'cascade-bench-api-'));
const port = await freePort();
const wikiPort = await freePort();
const baseConfig = resolve(opt('config', join(root, 'config', 'cascade.yaml')));
const base = parse(readFileSync(baseConfig, 'utf8')) as Record<string, Record<string, unknown>>;
base.listen = { host: '127.0.0.1', port };
base.data_dir = dir as unknown as Record<string, unknown>;
base.wiki = { ...(base.wiki ?? {}), port: wikiPort };
(base.domains['example.wiki'] as { origin: { url: string } }).origin.url = `http://127.0.0.1:${wikiPort}`;
if (!changeprop) base.changeprop = { ...(base.changeprop ?? {}), enabled: false };
if (base.changeprop?.rule_files) base.changeprop.rule_files = ((base.changeprop.rule_files as string[]) ?? []).map((f) => resolve(baseConfig, '..', '..', f));
const configFile = join(dir, 'cascade.yaml');
const configText = stringify(base);
writeFileSync(configFile, configText);
const config = configFromYaml(configText, configFile);

// The wiki holds a page of each title (its own wikitext). Its events wait in the outbox and
// reach Cascade when it starts; change propagation then asks for re-renders with
// If-Unmodified-Since of the edit, which the newer stored renders below answer with 412.
const wiki = await startWiki({ dbPath: join(dir, config.wiki.path), port: 0, domain: 'example.wiki', seed: true });
const revs = new Map<string, { id: number; latest: { id: number; timestamp: string } }>();
for (const p of SEEDED) {
  const r = await fetch(`${wiki.url}/w/rest.php/v1/page/${p.title}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source: `Benchmark page ${p.title}.`, comment: 'bench' }),
  });
  if (r.status >= 300) throw new Error(`wiki edit of ${p.title}: HTTP ${r.status}`);
  revs.set(p.title, (await r.json()) as { id: number; latest: { id: number; timestamp: string } });
}
await wiki.close();
await sleep(1100); // renders strictly newer than the edits, at second resolution

// Cascade's store holds the corpus HTML as that revision's render, as if Parsoid had rendered it.
const tids = new Map<string, string>();
{
  const store = await openStore(config.storage, storeShared(config));
  for (const p of SEEDED) {
    const html = readFileSync(join(corpus, 'html', p.file), 'utf8');
    const page = revs.get(p.title)!;
    const tid = newTid();
    tids.set(p.title, tid);
    await store.put({
      domain: 'example.wiki',
      bucket: 'html',
      key: p.title,
      rev: page.latest.id,
      tid,
      contentType: HTML_TYPE,
      headers: { 'x-cascade-origin-sha1': 'corpus', 'x-cascade-page-id': String(page.id), 'x-cascade-rev-timestamp': page.latest.timestamp },
      body: injectTid(html, tid),
    });
  }
  await store.close();
}

// ------------------------------------------------------------------ processes
const nodeFlags = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', resolve(cpuProf)] : [];
if (cpuProf) mkdirSync(resolve(cpuProf), { recursive: true });
const cascadeLog = openSync(join(dir, 'cascade.log'), 'w');
const cascade = spawn(process.execPath, [...nodeFlags, entry, 'serve', '-c', configFile], {
  cwd: root,
  stdio: ['ignore', cascadeLog, cascadeLog],
});
const cascadeExit = new Promise<number | null>((res) => cascade.once('exit', (code) => res(code)));
const cascadeUrl = `http://127.0.0.1:${port}`;

/** Cascade's event-loop delay (p99, max; ms) since the previous call (each scrape resets it). */
async function loopDelay(): Promise<{ p99: number; max: number }> {
  const m = (await getRaw(`${cascadeUrl}/metrics`)).body.toString('utf8');
  const q = (k: string) => Number(new RegExp(`^cascade_event_loop_delay_seconds\\{quantile="${k}"\\} (\\S+)`, 'm').exec(m)?.[1]) * 1000;
  return { p99: q('0.99'), max: q('1') };
}

function procMem(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

// A bare node:http server in its own process: the same body bytes and the same header set
// (a fixed x-request-id in place of Cascade's per-request one), written with writeHead.
function startBare(bodyFile: string, headers: string[]): Promise<{ url: string; child: ChildProcess }> {
  const code = `
const http = require('node:http');
const body = require('node:fs').readFileSync(${JSON.stringify(bodyFile)});
const h = ${JSON.stringify(headers)};
const s = http.createServer({ keepAliveTimeout: 65000 }, (req, res) => { res.writeHead(200, h); res.end(body); });
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res) => child.stdout!.once('data', (d: Buffer) => res({ url: `http://127.0.0.1:${String(d).trim()}`, child })));
}

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  /** CPU time of the server process per request (µs): less sensitive to other load than req/s. */
  cpuUs: number;
}

/** utime + stime of a process, in seconds (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function ms(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

const WRK = (c: number, url: string) => ['-t2', `-c${c}`, `-d${duration}s`, '--latency', '-H', 'Accept-Encoding: gzip', url];

async function wrk(url: string, c: number, serverPid: number): Promise<WrkResult> {
  const cpu0 = cpuSeconds(serverPid);
  const child = spawn('wrk', WRK(c, url), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  await new Promise((res) => child.once('close', res));
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const cpu = cpuSeconds(serverPid) - cpu0;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  if (/Non-2xx|Socket errors/.test(out)) console.error(`warning from wrk on ${url}:\n${out}`);
  return { rps, p50, p99, cpuUs: (cpu / requests) * 1e6 };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rows: string[][] = [];
let mem: { rss: number; hwm: number } | undefined;
let memStart: { rss: number; hwm: number } | undefined;
const idle = { cpu: NaN, loop: { p99: NaN, max: NaN } };
const heap = { text: '' };
let memBare = { rss: NaN, hwm: NaN };
let exitCode: number | null;
try {
  // Cascade is up when it answers; the first read of each page loads the access metadata
  // from the wiki, the next ones are hits.
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await getRaw(`${cascadeUrl}/api/rest_v1/page/html/${PAGES[0].title}`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (cascade.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`Cascade did not start:\n${readFileSync(join(dir, 'cascade.log'), 'utf8').slice(-3000)}`);
    await sleep(200);
  }
  await sleep(3000); // change propagation has worked off the wiki's outbox (412s)
  for (const p of SEEDED) {
    const r = await getRaw(`${cascadeUrl}/api/rest_v1/page/html/${p.title}`);
    if (r.status !== 200) throw new Error(`${p.title}: HTTP ${r.status}`);
  }
  memStart = procMem(cascade.pid!);
  // CPU Cascade spends with no requests (background work: change-propagation consumers, purges).
  const idle0 = cpuSeconds(cascade.pid!);
  await loopDelay();
  await sleep(5000);
  idle.cpu = (cpuSeconds(cascade.pid!) - idle0) / 5;
  idle.loop = await loopDelay();
  for (const p of PAGES) {
    const url = `${cascadeUrl}/api/rest_v1/page/html/${p.title}`;
    const first = await getRaw(url);
    if (first.status !== 200) throw new Error(`${url}: HTTP ${first.status}`);
    const etag = String(first.headers.etag);
    if (!etag.includes(tids.get(p.title)!)) throw new Error(`${url}: ETag ${etag} is not the stored corpus render`);
    const bodyFile = join(dir, `${p.title}.body`);
    writeFileSync(bodyFile, first.body);
    const hdrs: string[] = [];
    for (let i = 0; i < first.raw.length; i += 2) {
      const k = first.raw[i].toLowerCase();
      if (k === 'date' || k === 'connection' || k === 'keep-alive') continue;
      hdrs.push(k, k === 'x-request-id' ? '00000000-0000-4000-8000-000000000000' : first.raw[i + 1]);
    }
    const bare = await startBare(bodyFile, hdrs);
    try {
      for (const c of conns) {
        const cas: WrkResult[] = [];
        const loops: { p99: number; max: number }[] = [];
        const bar: WrkResult[] = [];
        for (let r = 0; r < rounds; r++) {
          bar.push(await wrk(bare.url, c, bare.child.pid!));
          await loopDelay();
          cas.push(await wrk(url, c, cascade.pid!));
          loops.push(await loopDelay());
        }
        const ratios = cas.map((x, i) => x.rps / bar[i].rps);
        rows.push([
          p.title,
          `${(first.body.length / 1024).toFixed(0)} KB ${String(first.headers['content-encoding'] ?? 'identity')}`,
          String(c),
          mean(cas.map((x) => x.rps)).toFixed(0),
          mean(cas.map((x) => x.p50)).toFixed(2),
          mean(cas.map((x) => x.p99)).toFixed(2),
          mean(bar.map((x) => x.rps)).toFixed(0),
          mean(bar.map((x) => x.p50)).toFixed(2),
          mean(bar.map((x) => x.p99)).toFixed(2),
          `${mean(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(' ')})`,
          `${mean(cas.map((x) => x.cpuUs)).toFixed(0)} / ${mean(bar.map((x) => x.cpuUs)).toFixed(0)}`,
          `${mean(loops.map((x) => x.p99)).toFixed(1)} / ${Math.max(...loops.map((x) => x.max)).toFixed(1)}`,
        ]);
      }
      memBare = procMem(bare.child.pid!);
    } finally {
      bare.child.kill();
    }
  }
  mem = procMem(cascade.pid!);
  const m = (await getRaw(`${cascadeUrl}/metrics`)).body.toString('utf8');
  const gauge = (name: string) => Number(new RegExp(`^cascade_process_${name}_bytes (\\d+)`, 'm').exec(m)?.[1]) / 1048576;
  heap.text = `V8 heap used ${gauge('heap_used').toFixed(0)} MB of ${gauge('heap_total').toFixed(0)} MB, external (Buffers) ${gauge('external').toFixed(0)} MB`;
} finally {
  cascade.kill('SIGTERM');
  exitCode = await Promise.race([cascadeExit, sleep(15_000).then(() => 'timeout' as const)]).then((c) => (c === 'timeout' ? (cascade.kill('SIGKILL'), null) : c));
  if (!cpuProf) rmSync(dir, { recursive: true, force: true });
}

console.log(`node ${process.version}; Cascade: node ${nodeFlags.join(' ')}${nodeFlags.length ? ' ' : ''}${entry.startsWith(root) ? entry.slice(root.length + 1) : entry} serve -c <tmp>/cascade.yaml (config/cascade.yaml on a temp data dir${changeprop ? '' : ', changeprop disabled'})`);
console.log(`wrk ${WRK(0, '<url>').join(' ').replace('-c0', `-c{${conns.join(',')}}`)}   ${rounds} round(s) of bare then cascade per row`);
const head = ['page', 'sent', 'conc', 'cascade req/s', 'p50 ms', 'p99 ms', 'bare req/s', 'p50 ms', 'p99 ms', 'ratio (per round)', 'CPU µs/req cascade / bare', 'loop delay p99 / max ms'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => r.map((v, i) => v.padStart(widths[i])).join('  ');
console.log(line(head));
for (const r of rows) console.log(line(r));
console.log(`Cascade process (embedded default, example wiki in-process; ${SEEDED.map((p) => p.title).join(', ')} read once): VmRSS ${memStart!.rss.toFixed(0)} MB before the runs; after them VmRSS ${mem!.rss.toFixed(0)} MB, VmHWM (peak) ${mem!.hwm.toFixed(0)} MB`);
console.log(`  of which (from /metrics after the runs): ${heap.text}`);
console.log(
  `Cascade while idle (5 s before the runs): CPU ${(idle.cpu * 100).toFixed(1)} % of a core, event-loop delay p99 ${idle.loop.p99.toFixed(1)} ms, max ${idle.loop.max.toFixed(1)} ms`,
);
console.log(`bare server after its runs (last page): VmRSS ${memBare.rss.toFixed(0)} MB, VmHWM ${memBare.hwm.toFixed(0)} MB; Cascade exit code ${String(exitCode)}`);
if (cpuProf) console.log(`CPU profile of the Cascade process in ${resolve(cpuProf)}; data left in ${dir}`);
