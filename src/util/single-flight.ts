// Keyed coalescing of concurrent async work: callers asking for the same key while the work
// runs share one promise. Optionally the fulfilled result is kept (a once-per-key memo), and a
// failure is forgotten at once or after a delay (so a failing origin is not re-asked per call).

export interface SingleFlightOptions {
  /** Keep a fulfilled result for later callers instead of forgetting it when settled. */
  memoize?: boolean;
  /** A rejected key is forgotten after this many ms (default 0: at once). */
  failureTtlMs?: number;
}

export class SingleFlight<K, V> {
  private readonly flights = new Map<K, Promise<V>>();

  constructor(private readonly opts: SingleFlightOptions = {}) {}

  /** The running (or memoised) promise for `key`, starting `work` when there is none. */
  run(key: K, work: () => Promise<V>): Promise<V> {
    const existing = this.flights.get(key);
    if (existing) return existing;
    let p: Promise<V>;
    try {
      p = work();
    } catch (e) {
      p = Promise.reject(e);
    }
    this.flights.set(key, p);
    const forget = () => {
      if (this.flights.get(key) === p) this.flights.delete(key);
    };
    p.then(
      () => {
        if (!this.opts.memoize) forget();
      },
      () => {
        const ttl = this.opts.failureTtlMs ?? 0;
        if (ttl > 0) setTimeout(forget, ttl).unref();
        else forget();
      },
    );
    return p;
  }

  /** Whether work (or a memoised result) is held for `key`. */
  has(key: K): boolean {
    return this.flights.has(key);
  }

  /** Drops `key` (the running work is not cancelled; the next caller starts fresh). */
  forget(key: K): void {
    this.flights.delete(key);
  }

  clear(): void {
    this.flights.clear();
  }

  get size(): number {
    return this.flights.size;
  }
}
