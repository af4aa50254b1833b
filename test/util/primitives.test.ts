// The shared primitives: single-flight, the bounded map, backoff strategies, the test clock
// and the logger.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { SingleFlight } from '../../src/util/single-flight.ts';
import { BoundedMap } from '../../src/util/bounded-map.ts';
import { Backoff, backoff, parseRetryAfter, registerBackoff } from '../../src/util/backoff.ts';
import { TestClock } from '../../src/util/clock.ts';
import { asLogger, createLogger, MAX_FIELD } from '../../src/util/logger.ts';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('runs concurrent work for one key once and forgets it when settled', async () => {
    const sf = new SingleFlight<string, number>();
    const d = deferred<number>();
    let calls = 0;
    const work = () => (calls++, d.promise);
    const a = sf.run('k', work);
    const b = sf.run('k', work);
    const other = sf.run('j', () => Promise.resolve(7));
    assert.equal(a, b);
    assert.equal(calls, 1);
    d.resolve(42);
    assert.deepEqual(await Promise.all([a, b, other]), [42, 42, 7]);
    assert.equal(sf.has('k'), false);
    await sf.run('k', work).catch(() => {});
    assert.equal(calls, 2);
  });
  it('shares a failure, then lets the next caller try again', async () => {
    const sf = new SingleFlight<string, number>();
    let calls = 0;
    const fail = () => (calls++, Promise.reject(new Error('boom')));
    await assert.rejects(Promise.all([sf.run('k', fail), sf.run('k', fail)]), /boom/);
    assert.equal(calls, 1);
    await assert.rejects(sf.run('k', fail), /boom/);
    assert.equal(calls, 2);
  });
  it('turns a synchronous throw into a rejection', async () => {
    const sf = new SingleFlight<string, number>();
    await assert.rejects(
      sf.run('k', () => {
        throw new Error('sync');
      }),
      /sync/,
    );
    assert.equal(sf.size, 0);
  });
  it('memoize keeps a success for later callers but not a failure', async () => {
    const sf = new SingleFlight<string, number>({ memoize: true });
    let calls = 0;
    assert.equal(await sf.run('k', async () => ++calls), 1);
    assert.equal(await sf.run('k', async () => ++calls), 1);
    await assert.rejects(sf.run('x', () => Promise.reject(new Error('no'))));
    assert.equal(sf.has('x'), false);
    sf.forget('k');
    assert.equal(await sf.run('k', async () => ++calls), 2);
  });
});

describe('BoundedMap', () => {
  it('evicts the least recently used entry beyond maxEntries', () => {
    const evicted: string[] = [];
    const m = new BoundedMap<string, number>({ maxEntries: 2, onEvict: (k) => evicted.push(k) });
    m.set('a', 1).set('b', 2);
    assert.equal(m.get('a'), 1); // a is now the youngest
    m.set('c', 3);
    assert.deepEqual(evicted, ['b']);
    assert.deepEqual([...m.keys()], ['a', 'c']);
  });
  it('evicts by bytes and refuses an entry larger than the whole budget', () => {
    const m = new BoundedMap<string, string>({ maxEntries: 100, maxBytes: 10 });
    m.set('a', 'x', 4).set('b', 'y', 4);
    assert.equal(m.bytes, 8);
    m.set('c', 'z', 4);
    assert.equal(m.has('a'), false);
    assert.equal(m.bytes, 8);
    m.set('huge', 'h', 11);
    assert.equal(m.has('huge'), false);
    assert.equal(m.size, 2);
    m.set('b', 'y2', 1);
    assert.equal(m.bytes, 5);
  });
  it('peek does not refresh recency', () => {
    const m = new BoundedMap<string, number>({ maxEntries: 2 });
    m.set('a', 1).set('b', 2);
    assert.equal(m.peek('a'), 1);
    m.set('c', 3);
    assert.equal(m.has('a'), false);
  });
  it('expires entries after ttlMs by the injected clock', async () => {
    const clock = new TestClock();
    const evicted: string[] = [];
    const m = new BoundedMap<string, number>({ maxEntries: 10, ttlMs: 1000, clock, onEvict: (k) => evicted.push(k) });
    m.set('a', 1);
    await clock.advance(1000);
    assert.equal(m.get('a'), 1);
    await clock.advance(1);
    assert.equal(m.get('a'), undefined);
    assert.deepEqual(evicted, ['a']);
    assert.equal(m.size, 0);
  });
  it('rejects a limit that is not a number', () => {
    assert.throws(() => new BoundedMap({ maxEntries: Number.NaN }), RangeError);
  });
});

describe('backoff', () => {
  it('fixed gives the same delay, Retry-After wins when longer', () => {
    const s = backoff({ kind: 'fixed', delayMs: 500 });
    assert.equal(s.delay(0), 500);
    assert.equal(s.delay(9), 500);
    assert.equal(s.delay(0, { retryAfterMs: 2000 }), 2000);
    assert.equal(s.delay(0, { retryAfterMs: 100 }), 500);
    assert.equal(s.delay(0, { retryAfterMs: 10 * 60_000 }), 60_000);
  });
  it('exponential grows by the factor up to the cap, Retry-After capped too', () => {
    const s = backoff({ kind: 'exponential', initialMs: 100, factor: 3, maxMs: 1000 });
    assert.deepEqual([0, 1, 2, 3].map((n) => s.delay(n)), [100, 300, 900, 1000]);
    assert.equal(s.delay(0, { retryAfterMs: 5000 }), 1000);
  });
  it('jitter spreads the delay over ±jitter', () => {
    const lo = backoff({ kind: 'exponential', initialMs: 1000, maxMs: 10_000, jitter: 0.5 }, () => 0);
    const hi = backoff({ kind: 'exponential', initialMs: 1000, maxMs: 10_000, jitter: 0.5 }, () => 0.999999);
    assert.equal(lo.delay(0), 500);
    assert.equal(hi.delay(0), 1500);
    assert.equal(hi.delay(10), 10_000);
  });
  it('Backoff counts attempts and resets', () => {
    const b = new Backoff({ kind: 'exponential', initialMs: 100, maxMs: 2000 });
    assert.deepEqual([b.next(), b.next(), b.next()], [100, 200, 400]);
    b.reset();
    assert.equal(b.next(), 100);
  });
  it('refuses an unknown kind; new kinds can be registered', () => {
    assert.throws(() => backoff({ kind: 'nope' }), /unknown backoff kind/);
    registerBackoff<{ kind: 'linear'; stepMs: number; maxMs?: number }>('linear', (s) => (n) => s.stepMs * (n + 1));
    assert.equal(backoff({ kind: 'linear', stepMs: 10 }).delay(2), 30);
  });
  it('parses Retry-After seconds and dates', () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(['7']), 7000);
    assert.equal(parseRetryAfter(new Date(now + 5000).toUTCString(), now), 5000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });
});

describe('TestClock', () => {
  it('wakes sleepers in time order only when advanced far enough', async () => {
    const clock = new TestClock(0);
    const woke: string[] = [];
    void clock.sleep(200).then(() => woke.push(`b@${clock.now()}`));
    void clock.sleep(100).then(() => woke.push(`a@${clock.now()}`));
    await clock.advance(99);
    assert.deepEqual(woke, []);
    assert.equal(clock.pending, 2);
    await clock.advance(150);
    assert.deepEqual(woke, ['a@100', 'b@200']);
    assert.equal(clock.now(), 249);
  });
  it('an aborted sleep ends at once', async () => {
    const clock = new TestClock(0);
    const ac = new AbortController();
    const p = clock.sleep(1000, ac.signal);
    ac.abort();
    await p;
    assert.equal(clock.pending, 0);
  });
});

describe('logger', () => {
  function capture() {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    return { lines, destination };
  }
  it('writes one JSON object per line with msg, level and fields; child lines carry bindings', () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    log('started', { port: 1 });
    log.child({ request_id: 'r1' }).warn('slow', { ms: 5 });
    log.debug('hidden');
    assert.equal(lines.length, 2);
    assert.deepEqual({ ...lines[0], time: undefined }, { level: 'info', time: undefined, port: 1, msg: 'started' });
    assert.equal(lines[1].level, 'warn');
    assert.equal(lines[1].request_id, 'r1');
    assert.equal(lines[1].msg, 'slow');
    assert.equal(typeof lines[0].time, 'string');
  });
  it('bounds long fields and messages', () => {
    const { lines, destination } = capture();
    createLogger({ destination })('x'.repeat(MAX_FIELD + 10), { body: 'y'.repeat(MAX_FIELD * 2), obj: { a: 'z'.repeat(MAX_FIELD) } });
    const l = lines[0];
    assert.ok((l.msg as string).length < MAX_FIELD + 40);
    assert.ok((l.body as string).endsWith(`[${MAX_FIELD} more characters]`));
    assert.equal(typeof l.obj, 'string');
  });
  it('level silent writes nothing; debug level writes debug', () => {
    const a = capture();
    createLogger({ destination: a.destination, level: 'silent' }).error('x');
    assert.equal(a.lines.length, 0);
    const b = capture();
    createLogger({ destination: b.destination, level: 'debug' }).debug('d');
    assert.equal(b.lines[0].level, 'debug');
  });
  it('asLogger adapts a plain function, adding level and child bindings', () => {
    const got: [string, unknown][] = [];
    const log = asLogger((msg, f) => got.push([msg, f]));
    log('a', { x: 1 });
    log.child({ request_id: 'r' }).error('b');
    assert.deepEqual(got, [
      ['a', { x: 1 }],
      ['b', { request_id: 'r', level: 'error' }],
    ]);
    assert.equal(asLogger(log), log);
  });
});
