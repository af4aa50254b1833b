// Content API hit path vs a bare node:http server sending the same bytes from memory.
// Cascade runs on the embedded default (SQLite store and log, the example wiki in-process);
// the real Parsoid pages of ../shared/corpora/html are stored as the renders of wiki pages.
// wrk on loopback, `Accept-Encoding: gzip` as a CDN sends it.
// Usage: npm run bench:api [-- --duration 10 --connections 10,50]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startApp } from '../src/app.ts';
import { configFromYaml } from '../src/config/index.ts';
import { HTML_TYPE, injectTid } from '../src/content/index.ts';
import { newTid } from '../src/util/tid.ts';
import { startWiki } from '../src/wiki/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i !== -1 && args[i + 1] ? args[i + 1] : def;
};
const duration = Number(opt('duration', '10'));
const conns = opt('connections', '10,50').split(',').map(Number);
const corpus = process.env.CASCADE_CORPUS_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'corpora');

if (spawnSync('wrk', ['--version']).error) {
  console.error('bench:api needs wrk (Debian package `wrk`)');
  process.exit(1);
}

const PAGES: { file: string; title: string }[] = [
  { file: 'wiktionary-avere.html', title: 'Avere' },
  { file: 'Dog.html', title: 'Dog' },
];

const dir = mkdtempSync(join(tmpdir(), 'cascade-bench-api-'));
const wiki = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, domain: 'example.wiki', seed: true });
const config = configFromYaml(
  `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: example.wiki
wiki: { enabled: false }
domains:
  example.wiki:
    origin: { url: ${JSON.stringify(wiki.url)} }
    buckets:
      html: { type: key_rev_value, compression: brotli, retention: { policy: latest, count: 5, grace_seconds: 86400 } }
      summary: { type: key_rev_value, compression: gzip }
      mobile-sections: { type: key_rev_value, compression: gzip }
      page-meta: { type: key_value, compression: none }
`,
  '<bench>',
  {},
);
const app = await startApp(config, { quiet: true });

// The wiki holds a page of each title (its own wikitext); Cascade's store holds the corpus HTML
// as that revision's render, as if Parsoid had rendered it.
for (const p of PAGES) {
  const html = readFileSync(join(corpus, 'html', p.file), 'utf8');
  const r = await fetch(`${wiki.url}/w/rest.php/v1/page/${p.title}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source: `Benchmark page ${p.title}.`, comment: 'bench' }),
  });
  const page = (await r.json()) as { id: number; latest: { id: number; timestamp: string } };
  const tid = newTid();
  await app.store.put({
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

function getRaw(url: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((res, rej) => {
    request(url, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', rej)
      .end();
  });
}

// A bare node:http server in its own process, sending exactly the bytes Cascade sends.
function startBare(bodyFile: string, headers: Record<string, unknown>): Promise<{ url: string; child: ChildProcess }> {
  const hdrs = JSON.stringify({
    'content-type': headers['content-type'],
    'content-encoding': headers['content-encoding'],
    etag: headers.etag,
    'cache-control': headers['cache-control'],
    vary: headers.vary,
  });
  const code = `
const http = require('node:http');
const body = require('node:fs').readFileSync(${JSON.stringify(bodyFile)});
const h = ${hdrs};
h['content-length'] = body.length;
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
}

function ms(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

// Asynchronous: Cascade serves from this very process, so the event loop must stay free.
async function wrk(url: string, c: number): Promise<WrkResult> {
  const child = spawn('wrk', ['-t2', `-c${c}`, `-d${duration}s`, '--latency', '-H', 'Accept-Encoding: gzip', url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  await new Promise((res) => child.once('close', res));
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  if (/Non-2xx/.test(out)) console.error(`warning: non-2xx responses from ${url}`);
  return { rps, p50, p99 };
}

const rows: string[][] = [];
let maxRss = 0;
const rssTimer = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage().rss)), 200);
try {
  for (const p of PAGES) {
    const url = `${app.url}/api/rest_v1/page/html/${p.title}`;
    const first = await getRaw(url);
    if (first.status !== 200) throw new Error(`${url}: HTTP ${first.status}`);
    const bodyFile = join(dir, `${p.title}.body`);
    writeFileSync(bodyFile, first.body);
    const bare = await startBare(bodyFile, first.headers);
    try {
      for (const c of conns) {
        const cas = await wrk(url, c);
        const base = await wrk(bare.url, c);
        rows.push([
          p.title,
          `${(first.body.length / 1024).toFixed(0)} KB ${String(first.headers['content-encoding'])}`,
          String(c),
          cas.rps.toFixed(0),
          cas.p50.toFixed(2),
          cas.p99.toFixed(2),
          base.rps.toFixed(0),
          base.p50.toFixed(2),
          base.p99.toFixed(2),
          (cas.rps / base.rps).toFixed(2),
        ]);
      }
    } finally {
      bare.child.kill();
    }
  }
} finally {
  clearInterval(rssTimer);
  await app.close();
  await wiki.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`wrk -t2 -c{${conns.join(',')}} -d${duration}s --latency -H 'Accept-Encoding: gzip' <url>   (node ${process.version})`);
const head = ['page', 'sent', 'conc', 'cascade req/s', 'p50 ms', 'p99 ms', 'bare req/s', 'p50 ms', 'p99 ms', 'ratio'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => r.map((v, i) => v.padStart(widths[i])).join('  ');
console.log(line(head));
for (const r of rows) console.log(line(r));
console.log(`Cascade process peak RSS (Cascade + in-process example wiki + bench driver): ${(maxRss / 1048576).toFixed(0)} MB`);
