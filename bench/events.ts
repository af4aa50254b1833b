// npm run bench:events — one table: the event intake over HTTP (POST /v1/events, batches of
// 100 valid revision-create events, wrk with a Lua body) on SQLite (synchronous=full and
// normal) and JetStream, beside the same wrk against a trivial server (to show the load
// generator is not the bottleneck); the intake in-process (validation + append, no HTTP); and
// the log's own in-process append/consume rows on both backends (bench/events-log.ts).
// The machine is shared: events per CPU-second of this process are printed beside the
// wall-clock rates (for JetStream, nats-server's CPU is not in them).
// Usage: npm run bench:events -- [--seconds 8] [--connections 16] [--events 200000] [--no-jetstream]
import { createServer, type Server } from 'node:http';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { configFromYaml } from '../src/config/index.ts';
import { Router } from '../src/router/router.ts';
import { createHttpServer } from '../src/router/server.ts';
import { openEventBus, mountEvents, type EventBus } from '../src/events/index.ts';
import { eventBusShared } from '../src/config/shared.ts';
import { eventSpans } from '../src/events/json-spans.ts';
import { toLogEvents } from '../src/events/intake.ts';
import { runLogBench } from './events-log.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
};
const SECONDS = opt('seconds', 8);
const CONNECTIONS = opt('connections', 16);
const BATCH = 100;
const corpus = process.env.CASCADE_CORPUS_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'corpora');

const template = (() => {
  for (const l of readFileSync(join(corpus, 'events', 'examples.jsonl'), 'utf8').split('\n')) {
    if (!l) continue;
    const { schema, event } = JSON.parse(l) as { schema: string; event: Record<string, unknown> };
    if (schema === '/mediawiki/revision/create/2.0.0') return event;
  }
  throw new Error('no revision-create example in the corpus');
})();
// meta.id is left out: the intake fills a fresh one per event, so repeated bodies are not duplicates.
const batch = Array.from({ length: BATCH }, (_, i) => {
  const meta = { ...(template.meta as Record<string, unknown>) };
  delete meta.id;
  return { ...template, meta, rev_id: 1000 + i };
});
const body = JSON.stringify(batch);

interface Row {
  name: string;
  eventsPerSec: number;
  p50ms?: number;
  p99ms?: number;
  note?: string;
}

function wrkAvailable(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status !== undefined; // wrk --version exits 1 but exists
  }
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60000;
}

async function runWrk(url: string, luaFile: string): Promise<{ rps: number; p50: number; p99: number; non2xx: number; errors: string }> {
  const argv = ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-s', luaFile, url];
  const out = await new Promise<string>((res, rej) => {
    const p = spawn('wrk', argv);
    let s = '';
    p.stdout.on('data', (d: Buffer) => (s += d.toString()));
    p.stderr.on('data', (d: Buffer) => (s += d.toString()));
    p.on('error', rej);
    p.on('exit', () => res(s));
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(out)?.[0] ?? '';
  return { rps, p50, p99, non2xx, errors };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const closeServer = (server: Server) =>
  new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });

async function openBus(dataDir: string, log: Record<string, unknown>): Promise<EventBus> {
  const config = configFromYaml(
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      data_dir: dataDir,
      datacenter: 'bench',
      default_domain: 'example.wiki',
      domains: { 'example.wiki': { origin: { url: 'http://127.0.0.1:1' } } },
      events: {
        schema_base_uris: ['builtin'],
        streams: { 'mediawiki.revision-create': { schema_title: 'mediawiki/revision/create' } },
        log,
      },
    }),
    '<bench>',
    {},
  );
  return openEventBus(config.events, eventBusShared(config));
}

async function httpIntake(name: string, lua: string, log: Record<string, unknown>): Promise<Row> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cascade-bench-events-'));
  const bus = await openBus(dataDir, log);
  const router = new Router();
  mountEvents(router, { intake: bus.intake, maxBodyBytes: 4 * 1024 * 1024, allowHasty: false });
  const server = createHttpServer({ router });
  const url = await listen(server);
  try {
    // Warm up: compile the schema, create the topic.
    const warm = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (warm.status !== 201) throw new Error(`warm-up got ${warm.status}: ${await warm.text()}`);
    const before = await countTopic(bus, 'bench.mediawiki.revision-create');
    const cpu0 = process.cpuUsage();
    const r = await runWrk(`${url}/v1/events`, lua);
    const cpu = process.cpuUsage(cpu0);
    const stored = (await countTopic(bus, 'bench.mediawiki.revision-create')) - before;
    const acked = Math.round(r.rps * SECONDS) * BATCH;
    const perCpu = stored / ((cpu.user + cpu.system) / 1e6);
    const note = `${k(perCpu)}/CPU-s; ${r.non2xx} non-201; ${k(stored)} stored (~${k(acked)} acked)${r.errors ? '; ' + r.errors : ''}`;
    return { name, eventsPerSec: r.rps * BATCH, p50ms: r.p50, p99ms: r.p99, note };
  } finally {
    await closeServer(server);
    await bus.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const k = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '-');

async function countTopic(bus: EventBus, topic: string): Promise<number> {
  let n = 0;
  for (let from = 0; ; ) {
    // A backend may return shorter pages than asked for: stop only at an empty one.
    const page = await bus.log.read(topic, from, 50_000);
    if (page.length === 0) return n;
    n += page.length;
    from = page[page.length - 1].offset + 1;
  }
}

async function trivial(lua: string): Promise<Row> {
  // Reads the body and answers 201: the ceiling of wrk + node's HTTP on this machine.
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = 201;
      res.end();
    });
  });
  const url = await listen(server);
  try {
    const r = await runWrk(`${url}/v1/events`, lua);
    return { name: 'HTTP: wrk → trivial node server (baseline)', eventsPerSec: r.rps * BATCH, p50ms: r.p50, p99ms: r.p99, note: 'same body read and answered 201; no parse/validate/append' };
  } finally {
    await closeServer(server);
  }
}

async function inProcessIntake(): Promise<Row> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cascade-bench-events-'));
  const bus = await openBus(dataDir, { backend: 'sqlite', path: 'events.sqlite' });
  try {
    const lat: number[] = [];
    const deadline = performance.now() + SECONDS * 1000;
    let events = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // CONNECTIONS concurrent producers, each parsing the request body as the HTTP path does.
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < deadline) {
          const s = performance.now();
          const bytes = Buffer.from(body);
          const r = await bus.intake.process(JSON.parse(bytes.toString('utf8')) as unknown[], { raw: { body: bytes, spans: eventSpans(bytes)! } });
          if (r.accepted !== BATCH) throw new Error(`accepted ${r.accepted}`);
          lat.push(performance.now() - s);
          events += BATCH;
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    lat.sort((a, b) => a - b);
    return {
      name: 'intake in-process, SQLite full (parse + validate + append)',
      eventsPerSec: events / secs,
      p50ms: lat[Math.floor(lat.length * 0.5)],
      p99ms: lat[Math.floor(lat.length * 0.99)],
      note: `${k(events / ((cpu.user + cpu.system) / 1e6))}/CPU-s; ${CONNECTIONS} concurrent batches of ${BATCH}`,
    };
  } finally {
    await bus.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Where the intake's CPU time goes per event, stage by stage (one batch body at a time, CPU
 * time of this process, so other load on the machine inflates it less than wall time):
 * parse, locate event bytes, validate (prepare + ajv), make log values (splice meta), append.
 */
async function stageProfile(): Promise<{ stage: string; us: number }[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cascade-bench-events-'));
  const bus = await openBus(dataDir, { backend: 'sqlite', path: 'events.sqlite' });
  const rounds = Math.max(50, Math.round(SECONDS * 50));
  const cpu = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const t = { parse: 0, spans: 0, check: 0, values: 0, append: 0 };
  try {
    const bytes = Buffer.from(body);
    for (let r = 0; r < rounds + 5; r++) {
      const warm = r < 5;
      let c0 = cpu();
      const items = JSON.parse(bytes.toString('utf8')) as unknown[];
      let c1 = cpu();
      if (!warm) t.parse += c1 - c0;
      c0 = c1;
      const spans = eventSpans(bytes)!;
      c1 = cpu();
      if (!warm) t.spans += c1 - c0;
      c0 = c1;
      const checked = await bus.intake.check(items, { raw: { body: bytes, spans } });
      c1 = cpu();
      if (!warm) t.check += c1 - c0;
      if (checked.valid.length !== BATCH) throw new Error(`only ${checked.valid.length} valid`);
      c0 = c1;
      const values = toLogEvents(checked.valid, true);
      c1 = cpu();
      if (!warm) t.values += c1 - c0;
      c0 = c1;
      await bus.log.append('bench.mediawiki.revision-create', values);
      c1 = cpu();
      if (!warm) t.append += c1 - c0;
    }
  } finally {
    await bus.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const per = (v: number) => v / (rounds * BATCH);
  return [
    { stage: 'JSON.parse of the body', us: per(t.parse) },
    { stage: 'locate event bytes (json-spans)', us: per(t.spans) },
    { stage: 'check: meta fill + ajv validation', us: per(t.check) },
    { stage: 'log values (meta spliced into the bytes)', us: per(t.values) },
    { stage: 'log.append, SQLite synchronous=full (one batch at a time)', us: per(t.append) },
  ];
}

function printTable(rows: Row[]): void {
  const fmt = (n: number | undefined, d = 1) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d));
  console.log('');
  console.log('| run | events/s | p50 ack ms | p99 ack ms | notes |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of rows) console.log(`| ${r.name} | ${k(r.eventsPerSec)} | ${fmt(r.p50ms, 2)} | ${fmt(r.p99ms, 2)} | ${r.note ?? ''} |`);
}

async function main(): Promise<void> {
  const jetstream = !args.includes('--no-jetstream');
  console.log(`$ npm run bench:events -- ${args.join(' ')}`.trim());
  console.log(
    `node ${process.version}; wrk -t2 -c${CONNECTIONS} -d${SECONDS}s; HTTP batches of ${BATCH} revision-create events (${body.length} bytes); ` +
      `targets (SQLite): >= 30,000 events/s over HTTP, >= 100,000/s append, >= 200,000/s consume; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${cpus().length} cores`,
  );
  const rows: Row[] = [];
  if (!wrkAvailable()) {
    console.error('wrk is not installed (apt-get install wrk): skipping the HTTP rows');
  } else {
    const luaDir = mkdtempSync(join(tmpdir(), 'cascade-bench-lua-'));
    const lua = join(luaDir, 'post.lua');
    const luaString = body.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    writeFileSync(lua, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = "${luaString}"\n`);
    try {
      rows.push(await trivial(lua));
      rows.push(await httpIntake('HTTP intake, SQLite (synchronous=full)', lua, { backend: 'sqlite', path: 'events.sqlite' }));
      rows.push(await httpIntake('HTTP intake, SQLite (synchronous=normal)', lua, { backend: 'sqlite', path: 'events.sqlite', synchronous: 'normal' }));
      if (jetstream) {
        const url = process.env.CASCADE_NATS_URL ?? 'nats://127.0.0.1:4222';
        const prefix = `bench${Date.now().toString(36)}`;
        const { deleteStreamsWithPrefix } = await import('../src/events/log/jetstream.ts');
        try {
          rows.push(await httpIntake('HTTP intake, JetStream (file storage)', lua, { backend: 'jetstream', url, stream_prefix: prefix }));
        } catch (e) {
          rows.push({ name: 'HTTP intake, JetStream', eventsPerSec: NaN, note: `failed: ${(e as Error).message}` });
        } finally {
          await deleteStreamsWithPrefix(url, prefix).catch(() => 0);
        }
      }
    } finally {
      rmSync(luaDir, { recursive: true, force: true });
    }
  }
  rows.push(await inProcessIntake());
  rows.push(...(await runLogBench({ events: opt('events', 200_000), jetstream })));
  printTable(rows);
  const stages = await stageProfile();
  const total = stages.reduce((a, b) => a + b.us, 0);
  console.log('\nWhere the intake CPU time goes, per event (in process, one batch of 100 at a time; HTTP adds the difference to the rows above):');
  console.log('| stage | CPU µs/event | share |');
  console.log('|---|---:|---:|');
  for (const st of stages) console.log(`| ${st.stage} | ${st.us.toFixed(2)} | ${((100 * st.us) / total).toFixed(0)}% |`);
  console.log(`| total | ${total.toFixed(2)} | = ${k(1e6 / total)} events per CPU-second |`);
}

await main();
