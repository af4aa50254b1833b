// One source of time for code that decides by it (expiry, retention, rate limits, retries),
// so tests advance time instead of sleeping. Production uses `systemClock`.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` of this clock's time (early, without throwing, when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/**
 * A clock that moves only when told: `advance(ms)` moves time and wakes the sleepers that are
 * due, in order, letting their continuations run before the next one wakes.
 */
export class TestClock implements Clock {
  private t: number;
  private sleepers: { at: number; resolve: () => void; seq: number }[] = [];
  private seq = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const s = { at: this.t + ms, resolve, seq: this.seq++ };
      this.sleepers.push(s);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((x) => x !== s);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** How many sleeps are waiting (a test can wait for the code under test to go idle). */
  get pending(): number {
    return this.sleepers.length;
  }

  /** Moves time forward by `ms`, waking each due sleeper at its own time. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = this.sleepers.filter((s) => s.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.sleepers = this.sleepers.filter((s) => s !== due);
      this.t = Math.max(this.t, due.at);
      due.resolve();
      // Let the woken code run (it may sleep again before `end`).
      await new Promise<void>((r) => setImmediate(r));
    }
    this.t = end;
  }

  /** Sets the time (never backwards). */
  async set(at: number): Promise<void> {
    await this.advance(Math.max(0, at - this.t));
  }
}
