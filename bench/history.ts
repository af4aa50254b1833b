// npm run bench:history — cross-revision compression (issue 6) against plain per-revision brotli.
// Series 1: all 1,313 versions of ../shared/corpora/revisions/parsertests-history.tar.zst as
// revisions of one key. Series 2: generated edits of ../shared/corpora/html pages.
// Each series is written to: the history codec over an in-memory row map, the history codec
// over a minimal SQLite table (the README recipe), and plain brotli rows in SQLite (baseline).
// Options: --versions N (default all), --edits N (default 300), --reads N (default 1000),
//          --max-chain M (default 64).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, constants as Z } from 'node:zlib';
import Database from 'better-sqlite3';
import {
  baseFromChain,
  compressLatest,
  decodeChain,
  decompressLatest,
  encodeRevision,
  MemoryHistoryStore,
  planRevision,
  type ChainMeta,
  type HistoryOptions,
  type HistoryRow,
} from '../src/storage/history/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const VERSIONS = opt('versions', 1313);
const EDITS = opt('edits', 300);
const READS = opt('reads', 1000);
const MAX_CHAIN = opt('max-chain', 64);
const corpus = process.env.CASCADE_CORPUS_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'corpora');
const BASELINE_QUALITY = 4; // what src/storage/common.ts uses for `compression: brotli`

console.log(`$ npm run bench:history -- --versions ${VERSIONS} --edits ${EDITS} --reads ${READS} --max-chain ${MAX_CHAIN}`);
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
const tidOf = (i: number): string => `t${String(i).padStart(8, '0')}`;

interface Result {
  name: string;
  stored: number;
  file?: number;
  write: number[];
  latestStored: number[];
  latestBody: number[];
  old: number[];
}

interface Variant {
  name: string;
  put(i: number, body: Buffer): void;
  latestStored(): Buffer;
  latestBody(): Buffer;
  get(i: number): Buffer;
  stored(): number;
  file?(): number;
  close?(): void;
}

function memoryHistory(opts: HistoryOptions): Variant {
  const s = new MemoryHistoryStore(opts);
  return {
    name: 'history, in-memory rows',
    put: (i, b) => void s.put('k', i, tidOf(i), b),
    latestStored: () => s.getLatestStored('k') as Buffer,
    latestBody: () => decompressLatest(s.getLatestStored('k') as Buffer),
    get: (i) => s.get('k', i, tidOf(i)) as Buffer,
    stored: () => s.storedBytes('k'),
  };
}

/** The README recipe on SQLite: append-only rows with a self-referencing FK, a latest copy. */
function sqliteHistory(opts: HistoryOptions): Variant {
  const file = join(work, 'history.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.exec(`
    CREATE TABLE h (
      key TEXT NOT NULL, rev INTEGER NOT NULL, tid TEXT NOT NULL,
      kind INTEGER NOT NULL, base_rev INTEGER, base_tid TEXT,
      depth INTEGER NOT NULL, run INTEGER NOT NULL, base_only INTEGER NOT NULL DEFAULT 0,
      payload BLOB NOT NULL,
      PRIMARY KEY (key, rev, tid),
      FOREIGN KEY (key, base_rev, base_tid) REFERENCES h (key, rev, tid)
    );
    CREATE INDEX h_base ON h (key, base_rev, base_tid) WHERE base_tid IS NOT NULL;
    CREATE TABLE latest (key TEXT PRIMARY KEY, rev INTEGER NOT NULL, tid TEXT NOT NULL, stored BLOB NOT NULL);
  `);
  const META = 'rev, tid, kind, base_rev AS baseRev, base_tid AS baseTid, depth, run';
  const latestMeta = db.prepare(`SELECT ${META} FROM h WHERE key = ? AND base_only = 0 ORDER BY rev DESC, tid DESC LIMIT 1`);
  const chain = db.prepare(`
    WITH RECURSIVE c (key, rev, tid, kind, base_rev, base_tid, depth, run, payload) AS (
      SELECT key, rev, tid, kind, base_rev, base_tid, depth, run, payload FROM h WHERE key = ? AND rev = ? AND tid = ?
      UNION ALL
      SELECT h.key, h.rev, h.tid, h.kind, h.base_rev, h.base_tid, h.depth, h.run, h.payload
        FROM h JOIN c ON h.key = c.key AND h.rev = c.base_rev AND h.tid = c.base_tid
    ) SELECT ${META}, payload FROM c`);
  const getLatest = db.prepare('SELECT rev, tid, stored FROM latest WHERE key = ?');
  const insert = db.prepare('INSERT INTO h (key, rev, tid, kind, base_rev, base_tid, depth, run, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const upsertLatest = db.prepare(`
    INSERT INTO latest (key, rev, tid, stored) VALUES (?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET rev = excluded.rev, tid = excluded.tid, stored = excluded.stored
    WHERE excluded.rev > latest.rev OR (excluded.rev = latest.rev AND excluded.tid > latest.tid)`);
  const write = db.transaction((key: string, rev: number, tid: string, e: ReturnType<typeof encodeRevision>, stored: Buffer) => {
    insert.run(key, rev, tid, e.kind === 'snapshot' ? 0 : 1, e.baseRev, e.baseTid, e.depth, e.run, e.payload);
    upsertLatest.run(key, rev, tid, stored);
  });
  type Raw = Omit<ChainMeta, 'kind'> & { kind: number; payload?: Buffer };
  const toRow = (r: Raw): HistoryRow => ({ ...r, kind: r.kind === 0 ? 'snapshot' : 'delta' }) as HistoryRow;
  const fetchChain = (key: string, rev: number, tid: string): HistoryRow[] => (chain.all(key, rev, tid) as Raw[]).map(toRow);
  return {
    name: 'history, SQLite table',
    put(i, body) {
      const m = latestMeta.get('k') as Raw | undefined;
      const latest = m ? (toRow(m) as ChainMeta) : undefined;
      const plan = planRevision(latest, opts);
      let base: { row: ChainMeta; body: Buffer } | undefined;
      if (plan.kind === 'delta') {
        const copy = getLatest.get('k') as { rev: number; tid: string; stored: Buffer } | undefined;
        if (plan.baseIsLatest && latest && copy && copy.rev === latest.rev && copy.tid === latest.tid) base = { row: latest, body: decompressLatest(copy.stored) };
        else base = baseFromChain(fetchChain('k', plan.chainOf.rev, plan.chainOf.tid), plan);
      }
      const stored = compressLatest(body, opts);
      write('k', i, tidOf(i), encodeRevision(plan, body, base, opts, stored), stored);
    },
    latestStored: () => (getLatest.get('k') as { stored: Buffer }).stored,
    latestBody: () => decompressLatest((getLatest.get('k') as { stored: Buffer }).stored),
    get: (i) => decodeChain(fetchChain('k', i, tidOf(i)), { rev: i, tid: tidOf(i) }),
    stored: () => (db.prepare('SELECT sum(length(payload)) AS n FROM h').get() as { n: number }).n,
    file() {
      db.pragma('wal_checkpoint(TRUNCATE)');
      return statSync(file).size;
    },
    close: () => db.close(),
  };
}

function sqliteBaseline(): Variant {
  const file = join(work, 'baseline.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE b (key TEXT NOT NULL, rev INTEGER NOT NULL, tid TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY (key, rev, tid))');
  const ins = db.prepare('INSERT INTO b (key, rev, tid, body) VALUES (?, ?, ?, ?)');
  const latest = db.prepare('SELECT body FROM b WHERE key = ? ORDER BY rev DESC, tid DESC LIMIT 1');
  const one = db.prepare('SELECT body FROM b WHERE key = ? AND rev = ? AND tid = ?');
  const br = (b: Buffer): Buffer => brotliCompressSync(b, { params: { [Z.BROTLI_PARAM_QUALITY]: BASELINE_QUALITY } });
  return {
    name: `baseline: brotli q${BASELINE_QUALITY} per revision, SQLite`,
    put: (i, body) => void ins.run('k', i, tidOf(i), br(body)),
    latestStored: () => (latest.get('k') as { body: Buffer }).body,
    latestBody: () => brotliDecompressSync((latest.get('k') as { body: Buffer }).body),
    get: (i) => brotliDecompressSync((one.get('k', i, tidOf(i)) as { body: Buffer }).body),
    stored: () => (db.prepare('SELECT sum(length(body)) AS n FROM b').get() as { n: number }).n,
    file() {
      db.pragma('wal_checkpoint(TRUNCATE)');
      return statSync(file).size;
    },
    close: () => db.close(),
  };
}

function run(v: Variant, files: string[]): Result {
  const write: number[] = [];
  for (let i = 0; i < files.length; i++) {
    const body = readFileSync(files[i]);
    const t = performance.now();
    v.put(i + 1, body);
    write.push(performance.now() - t);
  }
  const lastBody = readFileSync(files[files.length - 1]);
  const latestStored: number[] = [];
  const latestBody: number[] = [];
  for (let k = 0; k < 200; k++) {
    let t = performance.now();
    v.latestStored();
    latestStored.push(performance.now() - t);
    t = performance.now();
    const b = v.latestBody();
    latestBody.push(performance.now() - t);
    if (k === 0 && !b.equals(lastBody)) throw new Error(`${v.name}: latest differs`);
  }
  const rand = rng(42);
  const old: number[] = [];
  for (let k = 0; k < READS; k++) {
    const i = 1 + Math.floor(rand() * (files.length - 1)); // any but the latest
    const t = performance.now();
    const b = v.get(i);
    old.push(performance.now() - t);
    if (!b.equals(readFileSync(files[i - 1]))) throw new Error(`${v.name}: revision ${i} differs`);
  }
  const r: Result = { name: v.name, stored: v.stored(), file: v.file?.(), write, latestStored, latestBody, old };
  v.close?.();
  rmSync(join(work, 'history.sqlite'), { force: true });
  rmSync(join(work, 'baseline.sqlite'), { force: true });
  return r;
}

function table(title: string, raw: number, n: number, results: Result[]): void {
  console.log(`\n## ${title}: ${n} revisions, ${(raw / 1e6).toFixed(1)} MB raw, max_chain ${MAX_CHAIN}, ${READS} random old reads (all verified byte-identical)\n`);
  console.log('| variant | stored values | % of raw | SQLite file | % of raw | write p50 / p99 ms | latest (stored bytes) p50 / p99 ms | latest decoded p50 / p99 ms | random old p50 / p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.name} | ${(r.stored / 1e6).toFixed(3)} MB | ${((r.stored / raw) * 100).toFixed(3)} % | ` +
        `${r.file ? `${(r.file / 1e6).toFixed(3)} MB | ${((r.file / raw) * 100).toFixed(3)} %` : '– | –'} | ` +
        `${ms(pct(r.write, 0.5))} / ${ms(pct(r.write, 0.99))} | ${ms(pct(r.latestStored, 0.5))} / ${ms(pct(r.latestStored, 0.99))} | ` +
        `${ms(pct(r.latestBody, 0.5))} / ${ms(pct(r.latestBody, 0.99))} | ${ms(pct(r.old, 0.5))} / ${ms(pct(r.old, 0.99))} |`,
    );
  }
}

async function main(): Promise<void> {
  const opts: HistoryOptions = { maxChain: MAX_CHAIN };
  await extract();
  const series1 = Array.from({ length: VERSIONS }, (_, i) => join(work, 'parsertests', `${String(i + 1).padStart(5, '0')}.txt`));
  const series2 = generateEdits(EDITS);
  for (const [title, files] of [
    ['parserTests.txt history (real)', series1],
    ['generated edits of Dog.html', series2],
  ] as const) {
    const raw = files.reduce((a, f) => a + statSync(f).size, 0);
    const results = [run(memoryHistory(opts), files), run(sqliteHistory(opts), files), run(sqliteBaseline(), files)];
    table(title, raw, files.length, results);
  }
}

await main();
