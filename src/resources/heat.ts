// Read heat per page for `refresh: hot`: a page is hot when it was read at least `minReads`
// times within the window. Kept in the one bounded map (least recently read forgotten first
// past `maxPages`, which only makes them count as cold; an entry whose last read is older
// than the window has expired). Per page only the times of its last `minReads` reads are kept.
// Why more than one read: under a Zipf workload most pages read once in a window are the
// long tail, read once and not again before their next edit; re-rendering them eagerly is the
// "render in anticipation of a read that may never happen" that `hot` exists to avoid
// (bench:refresh measures it). Time comes from `now` (the runtime's clock, simulated by the
// benchmark).
import { BoundedMap } from '../util/bounded-map.ts';
import { systemClock } from '../util/clock.ts';

export class ReadHeat {
  /** Page → times of its last `minReads` reads, oldest first. */
  private readonly reads: BoundedMap<string, number[]>;

  constructor(
    private readonly windowMs: number,
    maxPages: number,
    private readonly now: () => number = Date.now,
    private readonly minReads = 1,
  ) {
    if (!(Number.isInteger(minReads) && minReads >= 1)) throw new RangeError('minReads must be an integer >= 1');
    this.reads = new BoundedMap({ maxEntries: maxPages, ttlMs: windowMs, clock: { now, sleep: systemClock.sleep } });
  }

  /** Records a read of one page (`domain\0key`). */
  touch(page: string): void {
    const times = this.reads.peek(page) ?? [];
    times.push(this.now());
    if (times.length > this.minReads) times.shift();
    this.reads.set(page, times);
  }

  /** True when the page was read `minReads` times within the window. */
  isHot(page: string): boolean {
    const times = this.reads.peek(page);
    return times !== undefined && times.length >= this.minReads && this.now() - times[0]! <= this.windowMs;
  }

  get size(): number {
    return this.reads.size;
  }
}
