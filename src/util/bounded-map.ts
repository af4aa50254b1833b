// The one size-bounded cache: least-recently-used eviction, bounded by entries and by bytes
// (the caller says what an entry weighs), with an optional expiry. Limits come from config;
// there are no built-in sizes.

import { systemClock, type Clock } from './clock.ts';

export interface BoundedMapOptions<K, V> {
  maxEntries: number;
  /** Sum of the entries' `bytes` (default: unbounded). */
  maxBytes?: number;
  /** Entries older than this are gone (default: no expiry). */
  ttlMs?: number;
  /** Told of each entry dropped to make room, expired, replaced or deleted. */
  onEvict?: (key: K, value: V) => void;
  clock?: Clock;
}

interface Entry<V> {
  value: V;
  bytes: number;
  at: number;
}

export class BoundedMap<K, V> {
  private readonly m = new Map<K, Entry<V>>();
  private total = 0;
  private readonly clock: Clock;

  constructor(private readonly opts: BoundedMapOptions<K, V>) {
    if (!(opts.maxEntries >= 0)) throw new RangeError('maxEntries must be a number >= 0');
    this.clock = opts.clock ?? systemClock;
  }

  /** The value, refreshed as most recently used; undefined when absent or expired. */
  get(key: K): V | undefined {
    const e = this.live(key);
    if (!e) return undefined;
    this.m.delete(key);
    this.m.set(key, e);
    return e.value;
  }

  /** The value without touching its recency. */
  peek(key: K): V | undefined {
    return this.live(key)?.value;
  }

  has(key: K): boolean {
    return this.live(key) !== undefined;
  }

  /** Stores `value` as most recently used and evicts the oldest until within bounds. */
  set(key: K, value: V, bytes = 0): this {
    if (this.m.size > 0) this.remove(key, true);
    const maxBytes = this.opts.maxBytes ?? Infinity;
    // An entry that cannot fit alone is not kept (it would evict everything and still not fit).
    if (bytes > maxBytes || this.opts.maxEntries === 0) return this;
    // The time is read only where an expiry needs it (dedupe windows set an entry per event).
    this.m.set(key, { value, bytes, at: this.opts.ttlMs === undefined ? 0 : this.clock.now() });
    this.total += bytes;
    if (this.m.size <= this.opts.maxEntries && this.total <= maxBytes) return this;
    for (const k of this.m.keys()) {
      if (this.m.size <= this.opts.maxEntries && this.total <= maxBytes) break;
      this.remove(k, true);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.remove(key, true);
  }

  clear(): void {
    for (const k of [...this.m.keys()]) this.remove(k, true);
  }

  get size(): number {
    return this.m.size;
  }

  get bytes(): number {
    return this.total;
  }

  keys(): IterableIterator<K> {
    return this.m.keys();
  }

  private live(key: K): Entry<V> | undefined {
    const e = this.m.get(key);
    if (!e) return undefined;
    if (this.opts.ttlMs !== undefined && this.clock.now() - e.at > this.opts.ttlMs) {
      this.remove(key, true);
      return undefined;
    }
    return e;
  }

  private remove(key: K, notify: boolean): boolean {
    const e = this.m.get(key);
    if (!e) return false;
    this.m.delete(key);
    this.total -= e.bytes;
    if (notify) this.opts.onEvict?.(key, e.value);
    return true;
  }
}
