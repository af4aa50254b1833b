// npm run bench:storage — content store throughput and latency, in process (no HTTP).
// Puts and gets of 1 KB and 50 KB bodies (slices of ../shared/corpora/html pages), on SQLite
// (synchronous=full: durable against power loss; synchronous=normal: durable against a process
// crash) and PostgreSQL. Puts run with many in flight, so SQLite's group commit batches them.
// Gets read the latest render's stored bytes (what the HTTP layer sends as they are).
// Usage: npm run bench:storage -- [--seconds 3] [--concurrency 64] [--no-pg]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { PostgresStore, SqliteStore, bucketSpec, type ContentStore } from '../src/storage/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
};
const SECONDS = opt('seconds', 3);
const CONCURRENCY = opt('concurrency', 64);
const WITH_PG = !args.includes('--no-pg');
const PG_URL = process.env.CASCADE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const corpus = process.env.CASCADE_CORPUS_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'corpora');

console.log(`$ node --import tsx bench/storage.ts ${args.join(' ')}`.trimEnd());
console.log(`# ${SECONDS}s per row, ${CONCURRENCY} operations in flight, node ${process.version}`);

// Real HTML: slices of the corpus pages at many offsets, so bodies differ like real renders.
const pages = ['Dog.html', 'United_States.html', 'User_talk-Koavf.html', 'ar-Mathematics.html'].map((f) => readFileSync(join(corpus, 'html', f)));
function bodies(size: number, n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const p = pages[i % pages.length];
    const off = (i * 104_729) % (p.length - size);
    return p.subarray(off, off + size);
  });
}
const SIZES = [
  { label: '1 KB', bytes: 1024, bodies: bodies(1024, 256) },
  { label: '50 KB', bytes: 50 * 1024, bodies: bodies(50 * 1024, 256) },
];

interface Result {
  opsPerSec: number;
  /** Operations per second of this process's CPU time: less sensitive to other load on the machine. */
  opsPerCpuSec: number;
  p50: number;
  p99: number;
}

async function run(op: (i: number) => Promise<unknown>): Promise<Result> {
  const lat: number[] = [];
  let next = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        lat.push(performance.now() - t0);
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  return { opsPerSec: lat.length / secs, opsPerCpuSec: lat.length / ((cpu.user + cpu.system) / 1e6), p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)] };
}

interface Row {
  backend: string;
  op: string;
  size: string;
  compression: string;
  r: Result;
}
const rows: Row[] = [];

async function benchStore(name: string, store: ContentStore): Promise<void> {
  const D = 'bench.example';
  for (const c of ['none', 'brotli'] as const) await store.declareBucket(bucketSpec(D, `html_${c}`, { type: 'key_rev_value', compression: c }));
  for (const size of SIZES) {
    for (const c of ['none', 'brotli'] as const) {
      if (c === 'brotli' && size.bytes < 4096) continue;
      const bucket = `html_${c}`;
      const prefix = `${size.bytes}_`;
      // Writes: a new revision each time, spread over 1,000 keys.
      const put = await run((i) =>
        store.put({ domain: D, bucket, key: `${prefix}Page_${i % 1000}`, rev: i, body: size.bodies[i % size.bodies.length], contentType: 'text/html' }),
      );
      rows.push({ backend: name, op: 'put', size: size.label, compression: c, r: put });
      // Reads: the latest render of one of those keys, stored bytes.
      let sink = 0;
      const get = await run(async (i) => {
        const rec = await store.getLatest(D, bucket, `${prefix}Page_${(i * 7) % 1000}`);
        sink += rec ? rec.stored.length : 0;
      });
      if (sink === 0) throw new Error('gets found nothing');
      rows.push({ backend: name, op: 'get latest', size: size.label, compression: c, r: get });
      print([rows[rows.length - 2], rows[rows.length - 1]], false);
    }
  }
}

function print(list: Row[], header: boolean): void {
  const fmt = (r: Row) =>
    `| ${r.backend.padEnd(16)} | ${r.op.padEnd(10)} | ${r.size.padStart(5)} | ${r.compression.padEnd(6)} | ${Math.round(r.r.opsPerSec).toLocaleString('en-US').padStart(9)} | ${Math.round(r.r.opsPerCpuSec).toLocaleString('en-US').padStart(9)} | ${r.r.p50.toFixed(2).padStart(7)} | ${r.r.p99.toFixed(2).padStart(7)} |`;
  if (header) {
    console.log('| backend          | op         |  size | codec  |     ops/s | ops/CPU-s | p50 ms  | p99 ms  |');
    console.log('|------------------|------------|-------|--------|-----------|-----------|---------|---------|');
  }
  for (const r of list) console.log(fmt(r));
}

const dir = mkdtempSync(join(tmpdir(), 'cascade-bench-storage-'));
try {
  console.log('\nprogress:');
  for (const sync of ['full', 'normal'] as const) {
    const store = SqliteStore.open({ path: join(dir, `bench-${sync}.sqlite`), synchronous: sync });
    try {
      await benchStore(`sqlite (${sync})`, store);
    } finally {
      await store.close();
    }
  }
  if (WITH_PG) {
    const schema = `cascade_bench_${process.pid}`;
    let store: PostgresStore | undefined;
    try {
      store = await PostgresStore.open({ url: PG_URL, schema, poolSize: 16 });
      await benchStore('postgres', store);
    } catch (e) {
      console.log(`postgres skipped: ${(e as Error).message}`);
    } finally {
      await store?.close();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect().then(
        () => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end()),
        () => {},
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log('\nops/CPU-s: operations per second of this process\'s CPU time (user+sys; for PostgreSQL the server\'s CPU is not counted).');
console.log('results (targets for SQLite: put 1 KB >= 20,000/s, 50 KB >= 2,000/s durable; get latest >= 50,000/s 1 KB, >= 20,000/s 50 KB):');
print(rows, true);
