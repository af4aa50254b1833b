// Read heat per page for `refresh: hot`: when each page was last read, in a Map kept in
// recency order (a read moves the page to the end), bounded by `maxPages`: past it the
// least recently read pages are forgotten first, which only makes them count as cold.
export class ReadHeat {
  private readonly lastRead = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly maxPages: number,
  ) {}

  /** Records a read of one page (`domain\0key`). */
  touch(page: string, now = Date.now()): void {
    this.lastRead.delete(page);
    this.lastRead.set(page, now);
    if (this.lastRead.size > this.maxPages) {
      const oldest = this.lastRead.keys().next().value;
      if (oldest !== undefined) this.lastRead.delete(oldest);
    }
  }

  /** True when the page was read within the window. */
  isHot(page: string, now = Date.now()): boolean {
    const at = this.lastRead.get(page);
    return at !== undefined && now - at <= this.windowMs;
  }

  get size(): number {
    return this.lastRead.size;
  }
}
