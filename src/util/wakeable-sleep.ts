// A sleep that another part of the process can cut short: the pollers (the example wiki's
// outbox sender, the recentchanges follower) idle on it and are woken when there is work.

export class WakeableSleep {
  private wakeFn: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** Resolves after `ms`, or as soon as `wake()` is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeFn = () => {
        clearTimeout(this.timer);
        resolve();
      };
      this.timer = setTimeout(() => {
        this.wakeFn = undefined;
        resolve();
      }, ms);
    });
  }

  /** Ends the current sleep now (nothing if none is running). */
  wake(): void {
    const w = this.wakeFn;
    this.wakeFn = undefined;
    w?.();
  }
}
