// The shared fetch → handle loop: batches in order, a failure reported and retried after the
// backoff, idle waits cut short by wake() and stop().
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsumerLoop } from '../../src/util/consumer-loop.ts';
import { until as waitUntil } from '../helpers/wait.ts';

const until = (cond: () => boolean, what: string, ms = 5000) => waitUntil(cond, ms, what, 1);

describe('ConsumerLoop', () => {
  it('hands each non-empty batch to handle, in order, and calls onStop once stopped', async () => {
    const queue = [[1, 2], [], [3]];
    const seen: number[][] = [];
    let stopped = 0;
    const loop = new ConsumerLoop<number>({
      fetch: () => queue.shift() ?? [],
      handle: (b) => void seen.push(b),
      idleMs: 1,
      onStop: () => void stopped++,
    }).start();
    await until(() => queue.length === 0 && seen.length === 2, 'both batches');
    assert.deepEqual(seen, [[1, 2], [3]]);
    await loop.stop();
    assert.equal(stopped, 1);
    assert.equal(loop.isRunning, false);
  });

  it('a failed fetch or handle is reported, retried after the backoff, and the backoff resets on success', async () => {
    const errors: string[] = [];
    let calls = 0;
    const handled: number[] = [];
    const loop = new ConsumerLoop<number>({
      fetch: () => {
        calls++;
        if (calls <= 2) throw new Error(`fetch ${calls}`);
        return calls <= 4 ? [calls] : [];
      },
      handle: (b) => {
        if (b[0] === 3) throw new Error('handle 3');
        handled.push(...b);
      },
      onError: (e, phase) => errors.push(`${phase}: ${(e as Error).message}`),
      backoff: { kind: 'fixed', delayMs: 1 },
      idleMs: 60_000,
    }).start();
    await until(() => handled.includes(4), 'the batch after the failures');
    await loop.stop();
    assert.deepEqual(errors, ['fetch: fetch 1', 'fetch: fetch 2', 'handle: handle 3']);
    assert.equal(loop.failures, 3);
    assert.deepEqual(handled, [4]);
  });

  it('wake() ends an idle wait at once', async () => {
    let rows: number[] = [];
    const seen: number[] = [];
    const loop = new ConsumerLoop<number>({
      fetch: () => {
        const r = rows;
        rows = [];
        return r;
      },
      handle: (b) => void seen.push(...b),
      idleMs: 60_000,
    }).start();
    await new Promise((r) => setImmediate(r)); // the loop is idle (60 s) now
    rows = [7];
    loop.wake();
    await until(() => seen.length === 1, 'the woken fetch');
    assert.deepEqual(seen, [7]);
    await loop.stop(); // cuts the next 60 s idle wait short too
  });

  it('ready() gates each fetch', async () => {
    let open!: () => void;
    let fetched = 0;
    const loop = new ConsumerLoop<number>({
      ready: () => new Promise<void>((r) => (open = r)),
      fetch: () => (fetched++, []),
      handle: () => {},
    }).start();
    await new Promise((r) => setImmediate(r));
    assert.equal(fetched, 0, 'no fetch before ready');
    open();
    await until(() => fetched === 1, 'one fetch once ready');
    const stopping = loop.stop();
    open();
    await stopping;
    assert.equal(fetched, 1, 'stopped while waiting for ready: no further fetch');
  });
});
