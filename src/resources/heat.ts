// Read heat per page for `refresh: hot`: the pages read within the window, in the one bounded
// map (least recently read forgotten first past `maxPages`, which only makes them count as
// cold; a read older than the window has expired). Time comes from `now` (the runtime's clock,
// simulated by the benchmark).
import { BoundedMap } from '../util/bounded-map.ts';
import { systemClock } from '../util/clock.ts';

export class ReadHeat {
  private readonly lastRead: BoundedMap<string, true>;

  constructor(windowMs: number, maxPages: number, now: () => number = Date.now) {
    this.lastRead = new BoundedMap({ maxEntries: maxPages, ttlMs: windowMs, clock: { now, sleep: systemClock.sleep } });
  }

  /** Records a read of one page (`domain\0key`). */
  touch(page: string): void {
    this.lastRead.set(page, true);
  }

  /** True when the page was read within the window. */
  isHot(page: string): boolean {
    return this.lastRead.has(page);
  }

  get size(): number {
    return this.lastRead.size;
  }
}
