// The durable event log's contract as a runner: each backend calls runLogConformance with how it
// opens and cleans up; no case asks which backend it runs on. Payloads are the real example
// events of ../shared/corpora/events/examples.jsonl.
import { describe, test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { EventLog, LogEvent, LogRecord } from '../../src/events/log/index.ts';
import { corpusPath } from '../helpers/corpus.ts';
import { uniqueName } from '../helpers/backends.ts';
import { until as waitUntil } from '../helpers/wait.ts';

interface Example {
  schema: string;
  event: { meta?: { stream?: string; id?: string }; [k: string]: unknown };
}
const examples: Example[] = readFileSync(corpusPath('events', 'examples.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Example);

/** `n` log events made from the corpus (cycling through it), each with a fresh meta.id. */
function corpusEvents(n: number, opts: { keyed?: boolean } = {}): LogEvent[] {
  const out: LogEvent[] = [];
  for (let i = 0; i < n; i++) {
    const ex = examples[i % examples.length];
    const id = randomUUID();
    const event = { ...ex.event, meta: { ...ex.event.meta, id } };
    const ev: LogEvent = { id, value: Buffer.from(JSON.stringify(event)) };
    // Ordering key: the event's stream (else its schema), as a producer keying by stream would.
    if (opts.keyed) ev.key = ex.event.meta?.stream ?? ex.schema;
    out.push(ev);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const eventually = (what: string, cond: () => Promise<boolean>, timeoutMs = 15_000) => waitUntil(cond, timeoutMs, what, 100);

export interface LogUnderTest {
  name: string;
  /** Opens a log; undefined when the backend is unreachable outside CI (the test is skipped). */
  open(t: TestContext, extra?: Record<string, unknown>): Promise<EventLog | undefined>;
  cleanup(): Promise<void>;
}

/** Fetches until `n` records arrived (acking each batch unless told not to). */
async function drain(c: Awaited<ReturnType<EventLog['consumer']>>, n: number, opts: { ack?: boolean; timeoutMs?: number } = {}): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  while (out.length < n && Date.now() < deadline) {
    const recs = await c.fetch(n - out.length, 300);
    if (opts.ack !== false) await c.ack(recs);
    out.push(...recs);
  }
  return out;
}

export function runLogConformance(b: LogUnderTest): void {
describe(`event log conformance: ${b.name}`, () => {
  after(() => b.cleanup());
  const topic = () => uniqueName('topic');

  test('append and read back, in order, from any position', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      const tp = topic();
      const evs = corpusEvents(examples.length);
      const res = await log.append(tp, evs);
      assert.equal(res.length, evs.length);
      for (let i = 0; i < res.length; i++) {
        assert.equal(res[i].duplicate, false);
        if (i > 0) assert.ok(res[i].offset > res[i - 1].offset, 'offsets increase');
      }
      assert.equal(res[0].offset, 1, 'the first record of a topic is offset 1');
      const all = await log.read(tp, 0, 1000);
      assert.deepEqual(
        all.map((r) => r.id),
        evs.map((e) => e.id),
      );
      assert.deepEqual(all[7].value, evs[7].value);
      assert.deepEqual(JSON.parse(all[3].value.toString()), JSON.parse(evs[3].value.toString()));
      assert.ok(all.every((r) => r.topic === tp && Math.abs(r.timestamp - Date.now()) < 60_000));
      const part = await log.read(tp, res[10].offset, 5);
      assert.deepEqual(
        part.map((r) => r.offset),
        res.slice(10, 15).map((r) => r.offset),
      );
      assert.deepEqual(await log.read(tp, res[res.length - 1].offset + 1, 10), []);
      assert.deepEqual(await log.read(topic(), 0, 10), [], 'an unknown topic reads empty');
      // A second append continues the topic's offsets.
      const more = await log.append(tp, corpusEvents(2));
      assert.ok(more[0].offset > res[res.length - 1].offset);
    } finally {
      await log.close();
    }
  });

  test('a large page is read whole, contiguous and in order', async (t) => {
    // ~125 MB of real corpus HTML in one page: more than a client takes in before the NATS
    // server calls it a slow consumer (read() once lost records in flight, returning holes).
    const log = await b.open(t);
    if (!log) return;
    try {
      const tp = topic();
      const pages = readdirSync(corpusPath('html'))
        .map((f) => readFileSync(corpusPath('html', f)))
        .filter((p) => p.length < 900_000);
      assert.ok(pages.length >= 3, 'corpus HTML pages');
      const evs: LogEvent[] = Array.from({ length: 400 }, (_, i) => ({ id: randomUUID(), value: pages[i % pages.length] }));
      const res: number[] = [];
      for (let i = 0; i < evs.length; i += 20) res.push(...(await log.append(tp, evs.slice(i, i + 20))).map((r) => r.offset));
      const all = await log.read(tp, 0, 10_000);
      assert.equal(all.length, evs.length);
      assert.deepEqual(
        all.map((r) => r.offset),
        res,
      );
      assert.ok(all.every((r, i) => r.id === evs[i].id && r.value.equals(evs[i].value)));
      const tail = await log.read(tp, res[150], 10_000);
      assert.deepEqual(
        tail.map((r) => r.id),
        evs.slice(150).map((e) => e.id),
      );
    } finally {
      await log.close();
    }
  });

  test('a group commits its position and a restarted consumer continues from it', async (t) => {
    let log = await b.open(t);
    if (!log) return;
    const tp = topic();
    const evs = corpusEvents(60);
    try {
      await log.append(tp, evs);
      const c = await log.consumer('restart', [tp]);
      const got = await drain(c, 30, { ack: false });
      assert.deepEqual(
        got.map((r) => r.id),
        evs.slice(0, 30).map((e) => e.id),
      );
      assert.ok(got.every((r) => r.deliveries === 1));
      await c.ack(got.slice(0, 20));
      await c.close();
    } finally {
      await log.close();
    }
    // Reopen the whole log: the committed position survives.
    log = (await b.open(t))!;
    try {
      assert.equal(await log.lag('restart', tp), 40);
      const c = await log.consumer('restart', [tp]);
      const rest = await drain(c, 40);
      assert.deepEqual(
        rest.map((r) => r.id),
        evs.slice(20).map((e) => e.id),
        'continues after the last acked record, redelivering the fetched-but-unacked ones',
      );
      assert.ok(rest.slice(0, 10).every((r) => r.deliveries === 2), 'the ten unacked records count a second delivery');
      assert.ok(rest.slice(10).every((r) => r.deliveries === 1));
      assert.equal(await log.lag('restart', tp), 0);
      assert.deepEqual(await c.fetch(10, 200), []);
      await c.close();
    } finally {
      await log.close();
    }
  });

  test('two consumers of one group share the work; no event is processed by both', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      const tp = topic();
      const evs = corpusEvents(300);
      await log.append(tp, evs);
      const members = [await log.consumer('share', [tp], { ackWaitMs: 30_000 }), await log.consumer('share', [tp], { ackWaitMs: 30_000 })];
      const seen: string[][] = [[], []];
      let total = 0;
      const deadline = Date.now() + 30_000;
      await Promise.all(
        members.map(async (c, i) => {
          while (total < evs.length && Date.now() < deadline) {
            const recs = await c.fetch(10, 200);
            for (const r of recs) seen[i].push(r.id);
            total += recs.length;
            await sleep(2); // processing takes time, so the other member gets its turn
            await c.ack(recs);
          }
        }),
      );
      const both = seen[0].filter((id) => new Set(seen[1]).has(id));
      assert.deepEqual(both, [], 'no event processed by both members');
      assert.equal(new Set([...seen[0], ...seen[1]]).size, evs.length, 'every event processed');
      assert.equal(seen[0].length + seen[1].length, evs.length, 'each event processed exactly once');
      assert.ok(seen[0].length > 0 && seen[1].length > 0, `both members worked (${seen[0].length}/${seen[1].length})`);
      assert.equal(await log.lag('share', tp), 0);
      for (const c of members) await c.close();
    } finally {
      await log.close();
    }
  });

  test('two groups each see every event', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      const tp = topic();
      const evs = corpusEvents(examples.length);
      await log.append(tp, evs);
      const a = await log.consumer('group-a', [tp]);
      const bb = await log.consumer('group-b', [tp]);
      const [ra, rb] = await Promise.all([drain(a, evs.length), drain(bb, evs.length)]);
      assert.deepEqual(
        ra.map((r) => r.id),
        evs.map((e) => e.id),
      );
      assert.deepEqual(
        rb.map((r) => r.id),
        evs.map((e) => e.id),
      );
      assert.equal(await log.lag('group-a', tp), 0);
      assert.equal(await log.lag('group-b', tp), 0);
      await a.close();
      await bb.close();
    } finally {
      await log.close();
    }
  });

  test('retention by age removes old records', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      const tp = topic();
      await log.setRetention(tp, { maxAgeMs: 1000 });
      await log.append(tp, corpusEvents(20));
      assert.equal((await log.read(tp, 0, 100)).length, 20);
      await eventually('records past max age are gone', async () => (await log.read(tp, 0, 100)).length === 0);
      const fresh = corpusEvents(5);
      await log.append(tp, fresh);
      assert.deepEqual(
        (await log.read(tp, 0, 100)).map((r) => r.id),
        fresh.map((e) => e.id),
      );
      // A group created now starts at the first retained record.
      const c = await log.consumer('after-trim', [tp]);
      assert.deepEqual(
        (await drain(c, 5)).map((r) => r.id),
        fresh.map((e) => e.id),
      );
      await c.close();
    } finally {
      await log.close();
    }
  });

  test('retention by size keeps the newest records within the limit', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      const tp = topic();
      const evs = corpusEvents(examples.length * 2);
      const totalBytes = evs.reduce((s, e) => s + e.value.length, 0);
      const limit = Math.floor(totalBytes / 4);
      await log.setRetention(tp, { maxBytes: limit });
      for (let i = 0; i < evs.length; i += 10) await log.append(tp, evs.slice(i, i + 10));
      let kept: LogRecord[] = [];
      await eventually('the topic shrinks below its byte limit', async () => {
        kept = await log.read(tp, 0, 1000);
        return kept.reduce((s, r) => s + r.value.length, 0) <= limit;
      });
      assert.ok(kept.length > 0, 'something is kept');
      assert.ok(kept.length < evs.length / 2, `old records are dropped (kept ${kept.length} of ${evs.length})`);
      assert.deepEqual(
        kept.map((r) => r.id),
        evs.slice(evs.length - kept.length).map((e) => e.id),
        'what is kept is the newest, in order',
      );
    } finally {
      await log.close();
    }
  });

  test('events with one ordering key are processed in order, one at a time', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      const tp = topic();
      const evs = corpusEvents(120, { keyed: true });
      // Interleave some unkeyed events too: they are not held back by keys.
      const unkeyed = corpusEvents(20);
      await log.append(tp, [...evs.slice(0, 60), ...unkeyed, ...evs.slice(60)]);
      const keys = new Set(evs.map((e) => e.key!));
      assert.ok(keys.size > 5, 'the corpus gives several keys');
      const members = [await log.consumer('ordered', [tp]), await log.consumer('ordered', [tp])];
      const order = new Map<string, string[]>();
      const inFlight = new Set<string>();
      let overlap = 0;
      let total = 0;
      const want = evs.length + unkeyed.length;
      const deadline = Date.now() + 60_000;
      await Promise.all(
        members.map(async (c, m) => {
          while (total < want && Date.now() < deadline) {
            const recs = await c.fetch(8, 200);
            total += recs.length;
            // Each member processes its batch concurrently: order must come from the log.
            await Promise.all(
              recs.map(async (r) => {
                if (r.key !== undefined) {
                  if (inFlight.has(r.key)) overlap++;
                  inFlight.add(r.key);
                  let l = order.get(r.key);
                  if (!l) order.set(r.key, (l = []));
                  l.push(r.id);
                }
                await sleep(1 + ((r.offset * 7 + m) % 5));
                if (r.key !== undefined) inFlight.delete(r.key);
                await c.ack([r]);
              }),
            );
          }
        }),
      );
      assert.equal(total, want, 'every event delivered once');
      assert.equal(overlap, 0, 'never two events of one key in process at once');
      for (const k of keys) {
        assert.deepEqual(
          order.get(k),
          evs.filter((e) => e.key === k).map((e) => e.id),
          `key ${k} in append order`,
        );
      }
      for (const c of members) await c.close();
    } finally {
      await log.close();
    }
  });

  test('records of a member that dies mid-batch are redelivered to another member', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      const tp = topic();
      const evs = corpusEvents(5);
      await log.append(tp, evs);
      // A member that closes without acking: its records go to the next member at once.
      const dying = await log.consumer('redeliver', [tp], { ackWaitMs: 1500 });
      const first = await drain(dying, 5, { ack: false });
      assert.deepEqual(
        first.map((r) => r.id),
        evs.slice(0, 5).map((e) => e.id),
      );
      await dying.close();
      const other = await log.consumer('redeliver', [tp], { ackWaitMs: 1500 });
      const again = await drain(other, 5, { ack: false });
      assert.deepEqual(
        again.map((r) => r.id),
        evs.slice(0, 5).map((e) => e.id),
      );
      assert.ok(
        again.every((r) => r.deliveries === 2),
        `deliveries counted: ${again.map((r) => r.deliveries)}`,
      );
      // `other` now stops responding (crashed, never closes): after ackWait a third member gets them.
      const third = await log.consumer('redeliver', [tp], { ackWaitMs: 1500 });
      const t0 = Date.now();
      let third1: LogRecord[] = [];
      while (third1.length === 0 && Date.now() - t0 < 10_000) third1 = await third.fetch(5, 500);
      assert.deepEqual(
        third1.map((r) => r.id),
        evs.slice(0, third1.length).map((e) => e.id),
      );
      assert.ok(third1.length > 0 && third1.every((r) => r.deliveries === 3));
      assert.ok(Date.now() - t0 >= 500, 'not before the ack wait expired');
      await third.ack(third1);
      await third.close();
      await other.close();
    } finally {
      await log.close();
    }
  });

  test('acks of part of a batch: only the unacked records come back, in order', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      const tp = topic();
      const evs = corpusEvents(30);
      await log.append(tp, evs);
      const a = await log.consumer('partial', [tp]);
      const got = await drain(a, 20, { ack: false });
      assert.equal(got.length, 20);
      await a.ack(got.filter((_, i) => i % 2 === 1));
      await a.close();
      const unacked = evs.slice(0, 20).filter((_, i) => i % 2 === 0);
      const bb = await log.consumer('partial', [tp]);
      const first5 = await drain(bb, 5, { ack: false });
      assert.deepEqual(
        first5.map((r) => r.id),
        unacked.slice(0, 5).map((e) => e.id),
      );
      assert.ok(first5.every((r) => r.deliveries === 2));
      const rest = await drain(bb, 15, { ack: false });
      assert.deepEqual(
        rest.map((r) => r.id),
        [...unacked.slice(5), ...evs.slice(20)].map((e) => e.id),
      );
      assert.equal(await log.lag('partial', tp), 20);
      await bb.ack([...first5, ...rest]);
      assert.equal(await log.lag('partial', tp), 0);
      await bb.close();
    } finally {
      await log.close();
    }
  });

  test('duplicates by id within the window are dropped', async (t) => {
    const log = await b.open(t, { dedup_window_ms: 1500 });
    if (!log) return;
    try {
      const tp = topic();
      const evs = corpusEvents(10);
      const r1 = await log.append(tp, evs);
      const extra = corpusEvents(2);
      const r2 = await log.append(tp, [...evs, ...extra]);
      assert.deepEqual(
        r2.slice(0, 10).map((r) => r.duplicate),
        Array(10).fill(true),
      );
      assert.deepEqual(
        r2.slice(0, 10).map((r) => r.offset),
        r1.map((r) => r.offset),
        'a duplicate names the stored offset',
      );
      assert.deepEqual(
        r2.slice(10).map((r) => r.duplicate),
        [false, false],
      );
      // Duplicates inside one batch, too.
      const same = corpusEvents(1)[0];
      const r3 = await log.append(tp, [same, same]);
      assert.deepEqual(
        r3.map((r) => r.duplicate),
        [false, true],
      );
      assert.equal((await log.read(tp, 0, 100)).length, 13);
      // Outside the window the id is new again. Each try inside the window is a duplicate and
      // appends nothing, so trying until one is accepted adds exactly one record.
      await eventually('the first id to leave the dedup window', async () => !(await log.append(tp, [evs[0]]))[0].duplicate);
      assert.equal((await log.read(tp, 0, 100)).length, 14);
    } finally {
      await log.close();
    }
  });

  test('a waiting fetch returns a record appended meanwhile promptly', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      // Two topics, keyed (spread over key partitions) and unkeyed records, small and large
      // fetch sizes: wherever the record lands, the member waiting in fetch gets it at once,
      // not when some earlier pull expires. Each round acks before the next, as a worker does.
      const tps = [topic(), topic()];
      const c = await log.consumer('prompt', tps, { startAt: 'latest' });
      const sizes = [1, 16, 256];
      const lat: number[] = [];
      for (let i = 0; i < 50; i++) {
        const ev = corpusEvents(1)[0];
        if (i % 3 !== 2) ev.key = `${examples[i % examples.length].event.meta?.stream ?? 'k'}#${i}`;
        // The fetch may wait a minute: a record handed over only when some pull expires would
        // take that long, far past the 20 s deadline below; a hand-over takes milliseconds.
        const waiting = c.fetch(sizes[i % sizes.length], 60_000);
        await sleep(30 + (i % 4) * 10); // the fetch is waiting by now
        const t0 = performance.now();
        await log.append(tps[i % 2], [ev]);
        let timer: NodeJS.Timeout | undefined;
        const recs = await Promise.race([
          waiting,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`round ${i}: the waiting fetch still waits 20 s after the append`)), 20_000);
          }),
        ]).finally(() => clearTimeout(timer));
        const ms = performance.now() - t0;
        assert.deepEqual(
          recs.map((r) => r.id),
          [ev.id],
          `round ${i}: the appended record`,
        );
        await c.ack(recs);
        lat.push(ms);
      }
      lat.sort((x, y) => x - y);
      const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
      t.diagnostic(`append→fetch ms: p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${q(1)}`);
      // The figures are diagnostics only (bench:events reports the log's fetch latency): on a
      // loaded machine only the hand-over itself is deterministic.
      await c.close();
    } finally {
      await log.close();
    }
  });

  test('lag counts the records a group has not acked', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      const tp = topic();
      await log.append(tp, corpusEvents(50));
      const c = await log.consumer('lagging', [tp]);
      assert.equal(await log.lag('lagging', tp), 50);
      const got = await drain(c, 20, { ack: false });
      assert.equal(await log.lag('lagging', tp), 50, 'fetched but unacked records still count');
      await c.ack(got.slice(10));
      assert.equal(await log.lag('lagging', tp), 40);
      await c.ack(got.slice(0, 10));
      assert.equal(await log.lag('lagging', tp), 30);
      await log.append(tp, corpusEvents(5));
      assert.equal(await log.lag('lagging', tp), 35);
      // startAt latest: a new group skips what is there.
      const late = await log.consumer('latecomer', [tp], { startAt: 'latest' });
      assert.equal(await log.lag('latecomer', tp), 0);
      const newer = corpusEvents(3);
      await log.append(tp, newer);
      assert.deepEqual(
        (await drain(late, 3)).map((r) => r.id),
        newer.map((e) => e.id),
      );
      await c.close();
      await late.close();
    } finally {
      await log.close();
    }
  });
  test('the error contract: bad input is refused with the same codes, as a rejection, never a throw', async (t) => {
    const log = await b.open(t);
    if (!log) return;
    try {
      const refused = async (what: string, call: () => Promise<unknown>, code: string) => {
        let p: Promise<unknown> | undefined;
        assert.doesNotThrow(() => {
          p = call();
        }, `${what}: no synchronous throw`);
        await assert.rejects(p!, (e: unknown) => {
          assert.equal((e as { code?: string }).code, code, `${what}: ${String((e as Error)?.message)}`);
          return true;
        });
      };
      const tp = topic();
      const ok = { id: randomUUID(), value: Buffer.from('{}') };
      await refused('a topic longer than 255', () => log.append('t'.repeat(256), [ok]), 'CASCADE_LOG_BAD_TOPIC');
      await refused('an empty topic', () => log.append('', [ok]), 'CASCADE_LOG_BAD_TOPIC');
      await refused('an empty id', () => log.append(tp, [{ id: '', value: Buffer.from('{}') }]), 'CASCADE_LOG_BAD_EVENT');
      await refused('a value that is not a Buffer', () => log.append(tp, [{ id: randomUUID(), value: '{}' as never }]), 'CASCADE_LOG_BAD_EVENT');
      await refused('a key that is not a string', () => log.append(tp, [{ id: randomUUID(), value: Buffer.from('{}'), key: 7 as never }]), 'CASCADE_LOG_BAD_EVENT');
      await refused('a read of a bad topic', () => log.read('t'.repeat(256), 0, 10), 'CASCADE_LOG_BAD_TOPIC');
      await refused('a consumer without a group', () => log.consumer('', [tp]), 'CASCADE_LOG_BAD_EVENT');
      await refused('a consumer without topics', () => log.consumer('g', []), 'CASCADE_LOG_BAD_TOPIC');
      // Nothing of the refused batches was stored.
      assert.deepEqual(await log.read(tp, 0, 10), []);
    } finally {
      await log.close();
    }
  });
});
}
