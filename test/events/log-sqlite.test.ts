// SQLite-specific log behaviour: consumers of one group in several processes sharing one file
// (the leases live in the database), and a member process killed while holding records.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { openEventLog, type LogConfig, type LogEvent } from '../../src/events/log/index.ts';
import { corpusPath, projectRoot } from '../helpers/corpus.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cascade-log-mp-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const examples = readFileSync(corpusPath('events', 'examples.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '');
function corpusEvents(n: number): LogEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const id = randomUUID();
    const ev = (JSON.parse(examples[i % examples.length]) as { event: { meta?: object } }).event;
    return { id, value: Buffer.from(JSON.stringify({ ...ev, meta: { ...ev.meta, id } })) };
  });
}

/** Starts a member process; `lines` collects `<id> <deliveries>` it prints. */
async function member(cfg: LogConfig, topic: string, mode: 'consume' | 'hold', group: string) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'test/events/log-crash-child.ts'), JSON.stringify(cfg), topic, mode, group], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buf = '';
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) {
      if (l === 'ready') onReady();
      else if (l) lines.push(l);
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await Promise.race([ready, exited]);
  return {
    lines,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

test('members of one group in two processes share one SQLite file without overlap', async () => {
  const cfg: LogConfig = { backend: 'sqlite', path: join(tmp, 'shared.sqlite'), synchronous: 'normal', poll_interval_ms: 20 };
  const log = await openEventLog(cfg);
  const topic = 'local.mediawiki.revision-create';
  const evs = corpusEvents(600);
  const other = await member(cfg, topic, 'consume', 'mp');
  try {
    const c = await log.consumer('mp', [topic], { ackWaitMs: 30_000 });
    const mine: string[] = [];
    // Append while both members are already consuming.
    for (let i = 0; i < evs.length; i += 50) await log.append(topic, evs.slice(i, i + 50));
    const deadline = Date.now() + 30_000;
    while (mine.length + other.lines.length < evs.length && Date.now() < deadline) {
      const recs = await c.fetch(10, 100);
      for (const r of recs) mine.push(r.id);
      await new Promise((r) => setTimeout(r, 2));
      await c.ack(recs);
    }
    await other.kill();
    const theirs = other.lines.map((l) => l.split(' ')[0]);
    const both = mine.filter((id) => theirs.includes(id));
    assert.deepEqual(both, [], 'no record processed in both processes');
    assert.equal(new Set([...mine, ...theirs]).size, evs.length, 'every record processed');
    assert.ok(mine.length > 0 && theirs.length > 0, `both processes worked (${mine.length}/${theirs.length})`);
    await c.close();
  } finally {
    await other.kill();
    await log.close();
  }
});

test('records held by a killed member process are redelivered after the ack wait', async () => {
  const cfg: LogConfig = { backend: 'sqlite', path: join(tmp, 'held.sqlite'), synchronous: 'normal', poll_interval_ms: 20 };
  const log = await openEventLog(cfg);
  const topic = 'local.resource_change';
  const evs = corpusEvents(10);
  try {
    await log.append(topic, evs);
    const holder = await member(cfg, topic, 'hold', 'held');
    const t0 = Date.now();
    while (holder.lines.length < 10 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      holder.lines.map((l) => l.split(' ')[0]),
      evs.map((e) => e.id),
    );
    const c = await log.consumer('held', [topic], { ackWaitMs: 1000 });
    assert.deepEqual(await c.fetch(10, 0), [], 'leased to the live member: not handed out');
    await holder.kill();
    const again = await c.fetch(10, 5000);
    assert.deepEqual(
      again.map((r) => r.id),
      evs.map((e) => e.id),
    );
    assert.ok(again.every((r) => r.deliveries === 2));
    await c.ack(again);
    assert.equal(await log.lag('held', topic), 0);
    await c.close();
  } finally {
    await log.close();
  }
});
