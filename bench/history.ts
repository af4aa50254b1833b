// npm run bench:history — `compression: history` (issue 6) through the real content store
// (SqliteStore and PostgresStore, the ContentStore API) against per-revision brotli buckets, in
// the same run. Series 1: all 1,313 versions of ../shared/corpora/revisions/parsertests-history
// .tar.zst as revisions of one key. Series 2: generated edits of ../shared/corpora/html pages.
// Per variant: stored bytes (SQLite file / pg_total_relation_size of krv + krv_latest, and the
// sum of stored values) as % of raw; write p50/p99 (one put at a time, awaited: durable);
// latest read p50/p99 (stored bytes, and decoded); N random old revisions by rev+tid p50/p99 with
// the store's body cache (32 MB) and from a freshly opened store with the cache off (cold).
// Every read is checked byte-identical (outside the timings).
// Options: --versions N (default all), --edits N (default 300), --reads N (default 1000),
//          --max-chain M (default: the bucket default), --no-pg.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresStore, SqliteStore, bucketSpec, type ContentStore } from '../src/storage/index.ts';
import { DEFAULT_MAX_CHAIN } from '../src/storage/history-sql.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const VERSIONS = opt('versions', 1313);
const EDITS = opt('edits', 300);
const READS = opt('reads', 1000);
const MAX_CHAIN = opt('max-chain', DEFAULT_MAX_CHAIN);
const WITH_PG = !args.includes('--no-pg');
const PG_URL = process.env.CASCADE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const corpus = process.env.CASCADE_CORPUS_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'corpora');
const D = 'bench.example';

console.log(`$ npm run bench:history -- --versions ${VERSIONS} --edits ${EDITS} --reads ${READS} --max-chain ${MAX_CHAIN}${WITH_PG ? '' : ' --no-pg'}`);
console.log(`node ${process.version}, ${new Date().toISOString()}; timings are indicative (shared 2-core machine)\n`);

const work = mkdtempSync(join(tmpdir(), 'cascade-bench-history-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function extract(): Promise<void> {
  return new Promise((done, fail) => {
    const z = spawn('zstd', ['-dc', '--long=31', join(corpus, 'revisions', 'parsertests-history.tar.zst')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const t = spawn('tar', ['-x', '-C', work], { stdio: ['pipe', 'inherit', 'inherit'] });
    z.stdout.pipe(t.stdin);
    z.on('error', fail);
    t.on('error', fail);
    t.on('close', (code) => (code === 0 ? done() : fail(new Error(`tar exited ${code}`))));
  });
}

// Deterministic PRNG (mulberry32) so the generated series is the same on every run.
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

/** Series 2: edits of a Wikipedia page (insertions from other pages, deletions, rewrites). */
function generateEdits(n: number): string[] {
  const pages = ['Dog.html', 'United_States.html', 'User_talk-Koavf.html', 'ar-Mathematics.html', 'wiktionary-avere.html'].map((f) =>
    readFileSync(join(corpus, 'html', f)),
  );
  const rand = rng(6);
  let doc = pages[0];
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const edits = 1 + Math.floor(rand() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rand() * doc.length);
      const r = rand();
      if (r < 0.45) {
        const src = pages[1 + Math.floor(rand() * 4)];
        const from = Math.floor(rand() * (src.length - 2000));
        doc = Buffer.concat([doc.subarray(0, at), src.subarray(from, from + 20 + Math.floor(rand() * 1500)), doc.subarray(at)]);
      } else if (r < 0.8) {
        doc = Buffer.concat([doc.subarray(0, at), doc.subarray(Math.min(doc.length, at + 10 + Math.floor(rand() * 800)))]);
      } else if (r < 0.97) {
        // A re-render: a run of attribute values changes (as Parsoid's about ids do).
        const end = Math.min(doc.length, at + 20000);
        const seg = Buffer.from(doc.subarray(at, end).toString('latin1').replace(/"mw[A-Za-z0-9_-]{2,4}"/g, () => `"mw${Math.floor(rand() * 46656).toString(36)}"`), 'latin1');
        doc = Buffer.concat([doc.subarray(0, at), seg, doc.subarray(end)]);
      } else {
        // A section moved.
        const len = Math.floor(doc.length * 0.1);
        const from = Math.floor(rand() * (doc.length - len));
        const sec = doc.subarray(from, from + len);
        const rest = Buffer.concat([doc.subarray(0, from), doc.subarray(from + len)]);
        const to = Math.floor(rand() * rest.length);
        doc = Buffer.concat([rest.subarray(0, to), sec, rest.subarray(to)]);
      }
    }
    const f = join(work, `gen-${String(i + 1).padStart(5, '0')}.html`);
    writeFileSync(f, doc);
    files.push(f);
  }
  return files;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};
const ms = (x: number): string => x.toFixed(2);

interface Backend {
  name: string;
  /** Opens the store of one variant (`fresh`: a new schema/file; else the same one again). */
  open(variant: string, cacheBytes?: number): Promise<ContentStore>;
  /** Table or file bytes, and the sum of stored values (rows, latest copies). */
  size(variant: string): Promise<{ table: number; tableFull?: number; rows: number; copies: number }>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  const path = (v: string) => join(work, `${v}.sqlite`);
  return {
    name: 'SQLite',
    open: async (v, cacheBytes) => SqliteStore.open({ path: path(v), synchronous: 'normal', ...(cacheBytes !== undefined ? { historyCacheBytes: cacheBytes } : {}) }),
    async size(v) {
      const db = new Database(path(v));
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
        const rows = (db.prepare('SELECT coalesce(sum(length(body)), 0) AS n FROM krv').get() as { n: number }).n;
        const copies = (db.prepare('SELECT coalesce(sum(length(stored)), 0) AS n FROM krv_latest').get() as { n: number }).n;
        return { table: statSync(path(v)).size, rows, copies };
      } finally {
        db.close();
      }
    },
    cleanup: async () => {},
  };
}

function postgresBackend(): Backend {
  const schema = (v: string) => `cascade_bench_history_${process.pid}_${v}`;
  const used = new Set<string>();
  const q = async <T>(sql: string): Promise<T[]> => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      return (await c.query(sql)).rows as T[];
    } finally {
      await c.end();
    }
  };
  return {
    name: 'PostgreSQL',
    open: async (v, cacheBytes) => {
      used.add(v);
      return PostgresStore.open({ url: PG_URL, schema: schema(v), poolSize: 4, ...(cacheBytes !== undefined ? { historyCacheBytes: cacheBytes } : {}) });
    },
    async size(v) {
      const s = schema(v);
      const total = async () =>
        Number((await q<{ t: string }>(`SELECT pg_total_relation_size('"${s}".krv') + pg_total_relation_size('"${s}".krv_latest') AS t`))[0].t);
      // Each put rewrites the latest copy (a TOASTed value): plain VACUUM makes the old versions
      // reusable space, only VACUUM FULL gives it back; both sizes are shown.
      await q(`VACUUM ANALYZE "${s}".krv`);
      await q(`VACUUM ANALYZE "${s}".krv_latest`);
      const table = await total();
      await q(`VACUUM FULL "${s}".krv`);
      await q(`VACUUM FULL "${s}".krv_latest`);
      const [r] = await q<{ rows: string; copies: string }>(
        `SELECT (SELECT coalesce(sum(length(body)), 0) FROM "${s}".krv) AS rows, (SELECT coalesce(sum(length(stored)), 0) FROM "${s}".krv_latest) AS copies`,
      );
      return { table, tableFull: await total(), rows: Number(r.rows), copies: Number(r.copies) };
    },
    cleanup: async () => {
      for (const v of used) await q(`DROP SCHEMA IF EXISTS "${schema(v)}" CASCADE`);
    },
  };
}

interface Result {
  name: string;
  size: { table: number; tableFull?: number; rows: number; copies: number };
  write: number[];
  latestStored: number[];
  latestBody: number[];
  old: number[];
  oldCold: number[];
}

async function run(be: Backend, variant: 'history' | 'brotli', series: string, files: string[]): Promise<Result> {
  const v = `${variant}_${series}`;
  const cfg = variant === 'history' ? ({ type: 'key_rev_value', compression: 'history', history: { max_chain: MAX_CHAIN } } as const) : ({ type: 'key_rev_value', compression: 'brotli' } as const);
  let store = await be.open(v);
  await store.declareBucket(bucketSpec(D, 'b', cfg));
  const key = 'Main_Page';
  const tids: string[] = [];
  const write: number[] = [];
  for (let i = 0; i < files.length; i++) {
    const body = readFileSync(files[i]);
    const t = performance.now();
    const r = await store.put({ domain: D, bucket: 'b', key, rev: i + 1, body, contentType: 'text/html' });
    write.push(performance.now() - t);
    tids.push(r.tid);
  }
  const lastBody = readFileSync(files[files.length - 1]);
  const latestStored: number[] = [];
  const latestBody: number[] = [];
  for (let k = 0; k < 500; k++) {
    let t = performance.now();
    const rec = await store.getLatest(D, 'b', key);
    void rec?.stored.length;
    latestStored.push(performance.now() - t);
    t = performance.now();
    const b = (await store.getLatest(D, 'b', key))?.body();
    latestBody.push(performance.now() - t);
    if (k === 0 && !b?.equals(lastBody)) throw new Error(`${be.name} ${v}: latest differs`);
  }
  const oldReads = async (st: ContentStore, seed: number): Promise<number[]> => {
    const rand = rng(seed);
    const out: number[] = [];
    for (let k = 0; k < READS; k++) {
      const i = Math.floor(rand() * (files.length - 1)); // any but the latest
      const t = performance.now();
      const rec = await st.getRevTid(D, 'b', key, i + 1, tids[i]);
      const b = rec?.body();
      out.push(performance.now() - t);
      if (!b?.equals(readFileSync(files[i]))) throw new Error(`${be.name} ${v}: revision ${i + 1} differs`);
    }
    return out;
  };
  const old = await oldReads(store, 42);
  await store.close();
  // Cold: a fresh store with the body cache off, so every read fetches and applies its chain.
  store = await be.open(v, 0);
  await store.declareBucket(bucketSpec(D, 'b', cfg));
  const oldCold = await oldReads(store, 43);
  await store.close();
  const size = await be.size(v);
  return { name: `${be.name}, ${variant === 'history' ? `history (max_chain ${MAX_CHAIN})` : 'brotli per revision'}`, size, write, latestStored, latestBody, old, oldCold };
}

function table(title: string, raw: number, n: number, results: Result[]): void {
  console.log(`\n## ${title}: ${n} revisions of one key, ${(raw / 1e6).toFixed(1)} MB raw, ${READS} random old reads (all verified byte-identical)\n`);
  console.log('| variant | table/file | % of raw | stored values (rows + latest copy) | % of raw | write p50 / p99 ms | latest stored p50 / p99 ms | latest decoded p50 / p99 ms | old p50 / p99 ms | old, cold p50 / p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const p = (xs: number[]) => `${ms(pct(xs, 0.5))} / ${ms(pct(xs, 0.99))}`;
  for (const r of results) {
    const stored = r.size.rows + r.size.copies;
    console.log(
      `| ${r.name} | ${(r.size.table / 1e6).toFixed(2)} MB | ${((r.size.table / raw) * 100).toFixed(3)} %` +
        `${r.size.tableFull !== undefined ? ` (VACUUM FULL: ${((r.size.tableFull / raw) * 100).toFixed(3)} %)` : ''} | ` +
        `${(r.size.rows / 1e6).toFixed(2)} + ${(r.size.copies / 1e6).toFixed(2)} MB | ${((stored / raw) * 100).toFixed(3)} % | ` +
        `${p(r.write)} | ${p(r.latestStored)} | ${p(r.latestBody)} | ${p(r.old)} | ${p(r.oldCold)} |`,
    );
  }
}

async function main(): Promise<void> {
  await extract();
  const series1 = Array.from({ length: VERSIONS }, (_, i) => join(work, 'parsertests', `${String(i + 1).padStart(5, '0')}.txt`));
  const series2 = generateEdits(EDITS);
  const backends = [sqliteBackend(), ...(WITH_PG ? [postgresBackend()] : [])];
  try {
    for (const [title, name, files] of [
      ['parserTests.txt history (real)', 'parsertests', series1],
      ['generated edits of Dog.html', 'generated', series2],
    ] as const) {
      const raw = files.reduce((a, f) => a + statSync(f).size, 0);
      const results: Result[] = [];
      for (const be of backends) for (const variant of ['history', 'brotli'] as const) results.push(await run(be, variant, name, files));
      table(title, raw, files.length, results);
    }
  } finally {
    for (const be of backends) await be.cleanup();
  }
}

await main();
