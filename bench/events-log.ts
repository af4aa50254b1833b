// The durable event log in process (no HTTP): batched append and group consumption, on SQLite
// (synchronous=full and =normal) and NATS JetStream. Values are real revision-create events of
// ../shared/corpora/events/examples.jsonl, each with its own meta.id.
//   append: PRODUCERS loops each appending batches of BATCH events; latency = one batch's ack.
//   consume: one group member fetching up to FETCH records and acking them; latency = fetch + ack.
// Usage: node --import tsx bench/events-log.ts [--events 200000] [--no-jetstream]
// (bench/events.ts imports runLogBench for its table.) The machine is shared: events per CPU
// second of this process are printed beside the wall-clock rate (JetStream's server CPU is not
// in them).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { openEventLog, type EventLog, type LogConfig, type LogEvent } from '../src/events/log/index.ts';

export interface Row {
  name: string;
  eventsPerSec: number;
  p50ms?: number;
  p99ms?: number;
  note?: string;
}

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
};
const BATCH = 100;
const PRODUCERS = 16;
const FETCH = 1000;
const corpus = process.env.CASCADE_CORPUS_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'corpora');
const NATS_URL = process.env.CASCADE_NATS_URL ?? 'nats://127.0.0.1:4222';

function revisionCreateEvents(n: number): LogEvent[] {
  const examples = readFileSync(join(corpus, 'events', 'examples.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"/mediawiki/revision/create/'))
    .map((l) => (JSON.parse(l) as { event: { meta: Record<string, unknown> } }).event);
  if (examples.length === 0) throw new Error('no revision-create example in the corpus');
  return Array.from({ length: n }, (_, i) => {
    const id = randomUUID();
    const ev = examples[i % examples.length];
    return { id, value: Buffer.from(JSON.stringify({ ...ev, meta: { ...ev.meta, id } })) };
  });
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Run {
  perSec: number;
  /** Events per second of this process's CPU time (less sensitive to other load on the machine). */
  perCpuSec: number;
  lat: number[];
}

const cpuSecs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

async function appendRun(log: EventLog, topic: string, events: LogEvent[]): Promise<Run> {
  const lat: number[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (next < events.length) {
        const batch = events.slice(next, next + BATCH);
        next += BATCH;
        const s = performance.now();
        await log.append(topic, batch);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { perSec: events.length / secs, perCpuSec: events.length / cpuSecs(cpu0), lat: lat.sort((a, b) => a - b) };
}

async function consumeRun(log: EventLog, topic: string, n: number): Promise<Run> {
  const c = await log.consumer('bench', [topic]);
  const lat: number[] = [];
  let got = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = Date.now() + 120_000;
  while (got < n && Date.now() < deadline) {
    const s = performance.now();
    const recs = await c.fetch(FETCH, 1000);
    await c.ack(recs);
    lat.push(performance.now() - s);
    got += recs.length;
  }
  const secs = (performance.now() - t0) / 1000;
  const perCpuSec = n / cpuSecs(cpu0);
  await c.close();
  if (got < n) throw new Error(`consumed only ${got} of ${n}`);
  return { perSec: n / secs, perCpuSec, lat: lat.sort((a, b) => a - b) };
}

const k = (v: number) => Math.round(v).toLocaleString('en-US');

async function benchBackend(label: string, cfg: LogConfig, n: number, rows: Row[]): Promise<void> {
  const events = revisionCreateEvents(n);
  const log = await openEventLog(cfg);
  try {
    const topic = `bench.mediawiki.revision-create.${Date.now().toString(36)}`;
    const a = await appendRun(log, topic, events);
    rows.push({ name: `append, ${label}`, eventsPerSec: a.perSec, p50ms: pct(a.lat, 50), p99ms: pct(a.lat, 99), note: `${n} events, batches of ${BATCH}, ${PRODUCERS} in flight; ${k(a.perCpuSec)}/CPU-s` });
    const c = await consumeRun(log, topic, n);
    rows.push({ name: `consume, ${label}`, eventsPerSec: c.perSec, p50ms: pct(c.lat, 50), p99ms: pct(c.lat, 99), note: `fetch ${FETCH} + ack per round; ${k(c.perCpuSec)}/CPU-s` });
  } finally {
    await log.close();
  }
}

/** Runs every row; used by bench/events.ts too. */
export async function runLogBench(opts: { events?: number; jetstream?: boolean } = {}): Promise<Row[]> {
  const n = opts.events ?? opt('events', 200_000);
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'cascade-bench-log-'));
  try {
    await benchBackend('SQLite (synchronous=full)', { backend: 'sqlite', path: join(dir, 'full.sqlite'), synchronous: 'full' }, n, rows);
    await benchBackend('SQLite (synchronous=normal)', { backend: 'sqlite', path: join(dir, 'normal.sqlite'), synchronous: 'normal' }, n, rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (opts.jetstream ?? !args.includes('--no-jetstream')) {
    const prefix = `benchlog${Date.now().toString(36)}`;
    const { deleteStreamsWithPrefix } = await import('../src/events/log/jetstream.ts');
    try {
      await benchBackend('JetStream (file storage)', { backend: 'jetstream', url: NATS_URL, stream_prefix: prefix }, Math.min(n, 50_000), rows);
    } catch (e) {
      rows.push({ name: 'JetStream', eventsPerSec: NaN, note: `failed: ${(e as Error).message}` });
    } finally {
      await deleteStreamsWithPrefix(NATS_URL, prefix).catch(() => 0);
    }
  }
  return rows;
}

function printTable(rows: Row[]): void {
  const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(2));
  console.log('| run | events/s | p50 ms | p99 ms | notes |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of rows) console.log(`| ${r.name} | ${Number.isNaN(r.eventsPerSec) ? '-' : Math.round(r.eventsPerSec).toLocaleString('en-US')} | ${fmt(r.p50ms)} | ${fmt(r.p99ms)} | ${r.note ?? ''} |`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  console.log(`$ node --import tsx bench/events-log.ts ${args.join(' ')}`.trimEnd());
  console.log(`# node ${process.version}; targets (SQLite): append >= 100,000 events/s, consume >= 200,000 events/s`);
  printTable(await runLogBench());
}
