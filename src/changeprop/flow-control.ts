// Flow control of a rule runner: its concurrency slots, rate limit, dedupe windows and
// batched acks (src/changeprop/engine.ts).
import type { Consumer, LogRecord } from '../events/log/types.ts';
import { BoundedMap } from '../util/bounded-map.ts';
import type { Clock } from '../util/clock.ts';

/** Counting semaphore with waiters (the per-rule concurrency limit). */
export class Slots {
  used = 0;
  private waiters: (() => void)[] = [];
  constructor(readonly size: number) {}
  free(): number {
    return this.size - this.used;
  }
  /** Takes a free slot now, if there is one (no promise: the per-event path). */
  tryAcquire(): boolean {
    if (this.used >= this.size) return false;
    this.used++;
    return true;
  }
  async acquire(): Promise<void> {
    if (this.tryAcquire()) return;
    await new Promise<void>((r) => this.waiters.push(r));
  }
  release(): void {
    const w = this.waiters.shift();
    if (w) w();
    else this.used--;
  }
  /** Resolves once at least one slot is free. */
  async whenFree(): Promise<void> {
    // A waiter is handed a slot on release; this one gives it straight back.
    while (this.used >= this.size)
      await new Promise<void>((r) =>
        this.waiters.push(() => {
          this.release();
          r();
        }),
      );
  }
}

/**
 * A time-window set (meta.id dedup, superseded root events): a key's stored time counts while
 * within the window; bounded in entries (least recently written dropped first).
 */
export class WindowMap {
  private readonly m: BoundedMap<string, number>;
  constructor(private readonly windowMs: number, maxEntries: number) {
    this.m = new BoundedMap({ maxEntries });
  }
  get(k: string, now: number): number | undefined {
    const t = this.m.peek(k);
    if (t === undefined) return undefined;
    if (now - t > this.windowMs) {
      this.m.delete(k);
      return undefined;
    }
    return t;
  }
  set(k: string, t: number): void {
    this.m.set(k, t);
  }
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(private readonly perSecond: number, private readonly burst: number, private readonly clock: Clock) {
    this.tokens = burst;
    this.last = clock.now();
  }
  async take(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil(((1 - this.tokens) / this.perSecond) * 1000));
    }
  }
}

/** Batches acks: one ack call per short interval rather than per record. */
export class Acker {
  private pending: LogRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  constructor(private readonly consumer: Consumer, private readonly onError: (e: unknown) => void) {}
  add(r: LogRecord): void {
    this.pending.push(r);
    if (this.pending.length >= 256) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), 5);
  }
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() => this.consumer.ack(batch)).catch(this.onError);
    return this.flushing;
  }
}
