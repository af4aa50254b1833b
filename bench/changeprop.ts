// npm run bench:changeprop — events through the whole change-propagation path:
// durable log → rule match → templated HTTP exec to a local no-op server → ack (commit).
// Prints (1) throughput: a backlog of N real revision-create events drained by the engine,
// events/s; (2) event-to-exec latency at a fixed 1,000 events/s (p50/p99, from the event's
// append to the no-op server receiving the request). SQLite always; JetStream with --jetstream
// when NATS is reachable.
// Usage: npm run bench:changeprop -- [--events 20000] [--seconds 5] [--rate 1000] [--concurrency 100] [--jetstream]
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { openEventLog } from '../src/events/log/index.ts';
import type { EventLog } from '../src/events/log/types.ts';
import { ChangePropEngine } from '../src/changeprop/engine.ts';
import { rulesFromYaml } from '../src/changeprop/rule.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
};
const EVENTS = opt('events', 20_000);
const SECONDS = opt('seconds', 5);
const RATE = opt('rate', 1000);
const CONCURRENCY = opt('concurrency', 100);
const WITH_JS = args.includes('--jetstream');
const corpus = process.env.CASCADE_CORPUS_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'corpora');

const template = (() => {
  for (const l of readFileSync(join(corpus, 'events', 'examples.jsonl'), 'utf8').split('\n')) {
    if (!l) continue;
    const { schema, event } = JSON.parse(l) as { schema: string; event: Record<string, unknown> };
    if (schema.startsWith('/mediawiki/revision/create/')) return event;
  }
  throw new Error('no revision-create example in the corpus');
})();

let seq = 0;
function makeEvent(): Record<string, unknown> {
  const n = seq++;
  return {
    ...template,
    rev_id: n,
    page_title: `Page_${n % 5000}`,
    meta: { ...(template.meta as Record<string, unknown>), id: `bench-${process.pid}-${n}`, dt: new Date().toISOString(), stream: 'mediawiki.revision-create' },
    sent_at: Date.now(),
  };
}

// The no-op target: counts requests and records latency from the event's `sent_at` (echoed in a header).
let received = 0;
let latencies: number[] = [];
const server = createServer((req, res) => {
  received++;
  const sent = Number(req.headers['x-sent-at']);
  if (sent) latencies.push(Date.now() - sent);
  req.resume();
  res.writeHead(200, { 'content-length': '0' });
  res.end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const port = (server.address() as AddressInfo).port;

const rules = rulesFromYaml(`
templates:
  rerender:
    topic: mediawiki.revision-create
    concurrency: ${CONCURRENCY}
    match:
      meta: { domain: '/\\./' }
    exec:
      method: get
      uri: 'http://127.0.0.1:${port}/{{message.meta.domain}}/v1/page/html/{message.page_title}/{{message.rev_id}}'
      headers:
        cache-control: no-cache
        if-unmodified-since: '{{date(message.meta.dt)}}'
        x-sent-at: '{{message.sent_at}}'
`);

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return cond();
}

const pct = (a: number[], p: number) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function appendAll(log: EventLog, topic: string, events: Record<string, unknown>[]) {
  for (let i = 0; i < events.length; i += 1000) {
    await log.append(topic, events.slice(i, i + 1000).map((e) => ({ id: String((e.meta as { id: string }).id), value: Buffer.from(JSON.stringify(e)) })));
  }
}

async function run(name: string, open: () => Promise<{ log: EventLog; close: () => Promise<void> }>) {
  const topic = 'dc1.mediawiki.revision-create';
  // (1) throughput over a backlog.
  let { log, close } = await open();
  await appendAll(log, topic, Array.from({ length: EVENTS }, makeEvent));
  received = 0;
  let engine = new ChangePropEngine({ log, rules, datacenter: 'dc1', allowedHosts: [`127.0.0.1:${port}`] });
  const t0 = performance.now();
  await engine.start();
  await waitFor(() => engine.stats().rerender.succeeded >= EVENTS, 300_000);
  const secs = (performance.now() - t0) / 1000;
  await engine.stop();
  const lagAfter = await log.lag('changeprop-rerender', topic);
  await close();
  const throughput = EVENTS / secs;

  // (2) latency at a fixed rate.
  ({ log, close } = await open());
  received = 0;
  latencies = [];
  engine = new ChangePropEngine({ log, rules, datacenter: 'dc1', allowedHosts: [`127.0.0.1:${port}`], startAt: 'latest' });
  await engine.start();
  const total = RATE * SECONDS;
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((RATE * tickMs) / 1000));
  const start = Date.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * RATE) + perTick);
    if (due > sent) {
      const batch = Array.from({ length: due - sent }, makeEvent);
      await appendAll(log, topic, batch);
      sent = due;
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  await waitFor(() => received >= total, 60_000);
  const achieved = total / ((Date.now() - start) / 1000);
  await engine.stop();
  await close();
  return { name, throughput, secs, lagAfter, achieved, p50: pct(latencies, 50), p99: pct(latencies, 99), got: latencies.length, total };
}

/** Baseline: the same HTTP requests straight from a client loop, no log and no rules (the ceiling on this machine now). */
async function baseline(): Promise<number> {
  const agent = new Agent({ connections: 128, keepAliveTimeout: 30_000 });
  let i = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (i < EVENTS) {
        i++;
        const r = await request(`http://127.0.0.1:${port}/example.wiki/v1/page/html/P/${i}`, { dispatcher: agent, headers: { 'cache-control': 'no-cache' } });
        await r.body.dump();
      }
    }),
  );
  const rate = EVENTS / ((performance.now() - t0) / 1000);
  await agent.close();
  return rate;
}

console.log(`$ npm run bench:changeprop -- ${args.join(' ')}`.trim());
console.log(`events=${EVENTS} rate=${RATE}/s for ${SECONDS}s, rule concurrency=${CONCURRENCY}, node ${process.version}, one process (engine, log and no-op target share it)`);
const base = await baseline();
const rows = [];
rows.push(
  await run('sqlite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cascade-bench-cp-'));
    const log = await openEventLog({ backend: 'sqlite', path: join(dir, 'events.sqlite'), synchronous: 'normal' });
    return { log, close: async () => { await log.close(); rmSync(dir, { recursive: true, force: true }); } };
  }),
);
if (WITH_JS) {
  try {
    const { NATS_URL } = await import('../test/helpers/backends.ts');
    const { deleteStreamsWithPrefix } = await import('../src/events/log/jetstream.ts');
    rows.push(
      await run('jetstream', async () => {
        const prefix = `cpbench_${process.pid}_${Date.now().toString(36)}`;
        const log = await openEventLog({ backend: 'jetstream', url: NATS_URL, stream_prefix: prefix });
        return { log, close: async () => { await log.close(); await deleteStreamsWithPrefix(NATS_URL, prefix); } };
      }),
    );
  } catch (e) {
    console.log(`jetstream: not measured (${(e as Error).message})`);
  }
}
console.log('');
console.log('| path | backlog events/s | vs. bare HTTP | backlog drain (s) | lag after | latency run: events | achieved rate/s | p50 ms | p99 ms |');
console.log('|---|---|---|---|---|---|---|---|---|');
console.log(`| bare HTTP client loop (baseline) | ${Math.round(base)} | 1.00 | | | | | | |`);
for (const r of rows) {
  console.log(`| ${r.name}: log → match → exec → ack | ${Math.round(r.throughput)} | ${(r.throughput / base).toFixed(2)} | ${r.secs.toFixed(2)} | ${r.lagAfter} | ${r.got}/${r.total} | ${Math.round(r.achieved)} | ${r.p50} | ${r.p99} |`);
}
console.log(`(load average at the end: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} cores)`);
console.log('\ntargets (issue 5, embedded): >= 10,000 events/s; p99 <= 50 ms at 1,000 events/s');
server.close();
