// Memory of the compiled build (dist/, `npm run build`) beside the TypeScript loader (tsx on
// the sources): the same config, the same requests, each in its own process, runtimes
// alternating per round. VmRSS and VmHWM from /proc/<pid>/status after start-up and after the
// requests (html, summary and mobile-sections of the seed pages, 20 rounds each).
// Usage: npm run bench:footprint [-- --rounds 2]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] || 2) || 2;
const PAGES = ['Main_Page', 'Silver_River', 'Larkford', 'Cascade'];

function status(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

async function measure(runtime: 'tsx' | 'dist'): Promise<{ startMs: number; idle: number; after: number; hwm: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-footprint-'));
  const cfg = parse(readFileSync(join(root, 'config', 'cascade.yaml'), 'utf8')) as { listen: { port: number }; data_dir: string; wiki?: Record<string, unknown> };
  cfg.listen.port = 0;
  cfg.data_dir = join(dir, 'data');
  cfg.wiki = { ...cfg.wiki, port: 0 };
  writeFileSync(join(dir, 'cascade.yaml'), stringify(cfg));
  const t0 = Date.now();
  const child = spawn(process.execPath, [join(root, 'bin', 'cascade.js'), 'serve', '-c', join(dir, 'cascade.yaml')], {
    env: { ...process.env, CASCADE_RUNTIME: runtime },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let url = '';
  await new Promise<void>((res, rej) => {
    let buf = '';
    child.once('exit', (c) => rej(new Error(`cascade (${runtime}) exited ${c}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        if (line.includes('"cascade listening"')) url = (JSON.parse(line) as { url: string }).url;
        if (line.includes('"changeprop started"')) res();
      }
    });
  });
  const startMs = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 1000));
  const idle = status(child.pid!).rss;
  for (let i = 0; i < 20; i++) {
    for (const p of PAGES) {
      for (const kind of ['html', 'summary', 'mobile-sections']) {
        const r = await fetch(`${url}/example.wiki/v1/page/${kind}/${p}`);
        await r.arrayBuffer();
      }
    }
  }
  await new Promise((r) => setTimeout(r, 1000));
  const s = status(child.pid!);
  child.removeAllListeners('exit');
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  rmSync(dir, { recursive: true, force: true });
  return { startMs, idle, after: s.rss, hwm: s.hwm };
}

console.log(`node ${process.version}; npm run build, then per round: CASCADE_RUNTIME=tsx|dist node bin/cascade.js serve -c <tmp>/cascade.yaml (config/cascade.yaml, temp data dir); ${PAGES.length} pages × html/summary/mobile-sections × 20`);
const b = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
if (b.status !== 0) process.exit(1);
const results: Record<string, { startMs: number; idle: number; after: number; hwm: number }[]> = { tsx: [], dist: [] };
for (let i = 0; i < rounds; i++) for (const rt of ['tsx', 'dist'] as const) results[rt].push(await measure(rt));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log('\n| runtime | start-up ms | VmRSS idle MB | VmRSS after requests MB | VmHWM MB |');
console.log('|---|---|---|---|---|');
for (const rt of ['tsx', 'dist'] as const) {
  const r = results[rt];
  console.log(`| ${rt === 'tsx' ? 'tsx loader (sources)' : 'compiled (dist/)'} | ${mean(r.map((x) => x.startMs)).toFixed(0)} | ${mean(r.map((x) => x.idle)).toFixed(1)} | ${mean(r.map((x) => x.after)).toFixed(1)} | ${mean(r.map((x) => x.hwm)).toFixed(1)} |`);
}
const d = (k: 'idle' | 'after' | 'hwm') => mean(results.tsx.map((x) => x[k])) - mean(results.dist.map((x) => x[k]));
console.log(`\ncompiled saves ${d('idle').toFixed(1)} MB idle, ${d('after').toFixed(1)} MB after requests, ${d('hwm').toFixed(1)} MB peak (mean of ${rounds} round${rounds === 1 ? '' : 's'})`);
