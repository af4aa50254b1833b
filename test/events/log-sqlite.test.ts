// SQLite-specific log behaviour: consumers of one group in several processes sharing one file
// (the leases live in the database), and a member process killed while holding records.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { openEventLog, type LogConfig, type LogEvent } from '../../src/events/log/index.ts';
import { corpusPath, projectRoot } from '../helpers/corpus.ts';
import { LOG_SCHEMA_PER_RECORD } from '../sqlite/fixtures/old-schemas.ts';
import { until } from '../helpers/wait.ts';

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
    await until(() => holder.lines.length >= 10, 10_000, 'the holder received every event');
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

test('duplicates are dropped across connections to one file and after reopening', async () => {
  // Each connection keeps its own in-memory dedup window: what another connection (process)
  // appended must still count, and a reopened log must load the window from the file.
  const cfg: LogConfig = { backend: 'sqlite', path: join(tmp, 'dedup.sqlite'), synchronous: 'normal' };
  const topic = 'local.mediawiki.page-create';
  const evs = corpusEvents(70);
  const a = await openEventLog(cfg);
  const b = await openEventLog(cfg);
  try {
    const ra = await a.append(topic, evs.slice(0, 50));
    const rb = await b.append(topic, evs.slice(0, 60));
    assert.deepEqual(
      rb.map((r) => r.duplicate),
      [...Array(50).fill(true), ...Array(10).fill(false)],
    );
    assert.deepEqual(
      rb.slice(0, 50).map((r) => r.offset),
      ra.map((r) => r.offset),
    );
    const ra2 = await a.append(topic, evs.slice(40, 70));
    assert.deepEqual(
      ra2.map((r) => r.duplicate),
      [...Array(20).fill(true), ...Array(10).fill(false)],
    );
    assert.deepEqual(
      ra2.slice(10, 20).map((r) => r.offset),
      rb.slice(50, 60).map((r) => r.offset),
      'a duplicate of what the other connection appended names its offset',
    );
  } finally {
    await a.close();
    await b.close();
  }
  const c = await openEventLog(cfg);
  try {
    const rc = await c.append(topic, [evs[3], evs[65], corpusEvents(1)[0]]);
    assert.deepEqual(
      rc.map((r) => r.duplicate),
      [true, true, false],
    );
    const all = await c.read(topic, 0, 1000);
    assert.deepEqual(all.map((r) => r.id).slice(0, 70), evs.map((e) => e.id));
    assert.equal(all.length, 71);
  } finally {
    await c.close();
  }
});

test('an append larger than one chunk reads and consumes whole, across chunk boundaries', async () => {
  const log = await openEventLog({ backend: 'sqlite', path: join(tmp, 'big.sqlite'), synchronous: 'normal' });
  const topic = 'local.mediawiki.revision-create';
  try {
    const evs = corpusEvents(2500);
    const res = await log.append(topic, evs);
    assert.deepEqual(
      res.map((r) => r.offset),
      evs.map((_, i) => i + 1),
    );
    const all = await log.read(topic, 0, 5000);
    assert.equal(all.length, 2500);
    assert.ok(all.every((r, i) => r.id === evs[i].id && r.value.equals(evs[i].value)));
    assert.deepEqual(
      (await log.read(topic, 998, 5)).map((r) => r.offset),
      [998, 999, 1000, 1001, 1002],
    );
    const c = await log.consumer('big', [topic]);
    const got: string[] = [];
    for (let i = 0; i < 10 && got.length < evs.length; i++) {
      const recs = await c.fetch(700, 1000);
      got.push(...recs.map((r) => r.id));
      await c.ack(recs);
    }
    assert.deepEqual(got, evs.map((e) => e.id));
    assert.equal(await log.lag('big', topic), 0);
    await c.close();
  } finally {
    await log.close();
  }
});

test('a file written with one row per record is migrated to chunks on open', async () => {
  const path = join(tmp, 'old-layout.sqlite');
  const evs = corpusEvents(30);
  const old = new Database(path);
  old.pragma('journal_mode = WAL');
  // The layout before chunks (one row per record, rowid = topic_id * 2^40 + offset).
  old.exec(LOG_SCHEMA_PER_RECORD);
  old.prepare(`INSERT INTO topics (topic_id, name, next_offset, first_offset, bytes) VALUES (1, 'local.old', 31, 1, 0)`).run();
  const ins = old.prepare('INSERT INTO records (rid, id, idh, key, value, ts) VALUES (?, ?, 0, ?, ?, ?)');
  const now = Date.now();
  evs.forEach((e, i) => ins.run(2 ** 40 + i + 1, e.id, i % 3 === 0 ? `k${i % 2}` : null, e.value, i < 10 ? now - 1000 : now));
  old.close();
  const log = await openEventLog({ backend: 'sqlite', path, synchronous: 'normal' });
  try {
    const all = await log.read('local.old', 0, 100);
    assert.deepEqual(all.map((r) => r.id), evs.map((e) => e.id));
    assert.deepEqual(all.map((r) => r.key), evs.map((_, i) => (i % 3 === 0 ? `k${i % 2}` : undefined)));
    assert.ok(all.every((r, i) => r.value.equals(evs[i].value)));
    const more = await log.append('local.old', [evs[5], ...corpusEvents(1)]);
    assert.deepEqual(more, [{ offset: 6, duplicate: true }, { offset: 31, duplicate: false }]);
  } finally {
    await log.close();
  }
});

test('values lying back to back in one buffer are stored as they are (read from another connection)', async () => {
  const path = join(tmp, 'adjacent.sqlite');
  const evs = corpusEvents(40);
  // One buffer holding every value, as the intake's meta splicing produces them.
  const all = Buffer.concat(evs.map((e) => e.value));
  let pos = 0;
  const views: LogEvent[] = evs.map((e) => {
    const v = all.subarray(pos, pos + e.value.length);
    pos += e.value.length;
    return { id: e.id, value: v };
  });
  const a = await openEventLog({ backend: 'sqlite', path, synchronous: 'normal' });
  const b = await openEventLog({ backend: 'sqlite', path, synchronous: 'normal' });
  try {
    await a.append('local.adjacent', [...views.slice(0, 20), evs[20], ...views.slice(21)]);
    const got = await b.read('local.adjacent', 0, 100);
    assert.equal(got.length, 40);
    assert.ok(got.every((r, i) => r.id === evs[i].id && r.value.equals(evs[i].value)));
  } finally {
    await a.close();
    await b.close();
  }
});

test('the dedup window holds at most dedup_max_ids ids per topic: the oldest beyond it are new again', async () => {
  const log = await openEventLog({ backend: 'sqlite', path: join(tmp, 'capped.sqlite'), synchronous: 'normal', dedup_max_ids: 1000 });
  try {
    const evs = corpusEvents(1500);
    for (let i = 0; i < evs.length; i += 100) await log.append('local.capped', evs.slice(i, i + 100));
    const again = await log.append('local.capped', [evs[0], evs[1499], evs[600]]);
    assert.deepEqual(
      again.map((r) => r.duplicate),
      [false, true, true],
    );
    assert.deepEqual(
      again.slice(1).map((r) => r.offset),
      [1500, 601],
    );
  } finally {
    await log.close();
  }
});

test('an append failing inside a group commit fails alone: the others of the batch commit, and dedup stays right', async () => {
  const path = join(tmp, 'batch-failure.sqlite');
  const log = await openEventLog({ backend: 'sqlite', path, synchronous: 'normal' });
  try {
    // The file is at its topic limit (8191), so creating one more topic fails inside the
    // write transaction, after the appends queued before it in the same turn have run.
    await log.append('local.ok', corpusEvents(1));
    const other = new Database(path);
    other.prepare(`INSERT INTO topics (topic_id, name) VALUES (8191, 'local.last')`).run();
    other.close();
    const [a, b, c] = [corpusEvents(3), corpusEvents(1), corpusEvents(2)];
    const results = await Promise.allSettled([log.append('local.ok', a), log.append('local.one-too-many', b), log.append('local.ok', c)]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[1].status, 'rejected');
    assert.match(String((results[1] as PromiseRejectedResult).reason), /at most 8191 topics/);
    assert.equal(results[2].status, 'fulfilled');
    assert.deepEqual(
      (await log.read('local.ok', 0, 100)).map((r) => r.offset),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(await log.read('local.one-too-many', 0, 100), []);
    // The ids appended in the batch are known (duplicates), the rejected one is not.
    const again = await log.append('local.ok', [a[1], c[0], b[0]]);
    assert.deepEqual(again, [
      { offset: 3, duplicate: true },
      { offset: 5, duplicate: true },
      { offset: 7, duplicate: false },
    ]);
  } finally {
    await log.close();
  }
});
