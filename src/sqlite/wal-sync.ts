// Durability without blocking the event loop: with synchronous=NORMAL a WAL commit is not
// fsynced, so a power loss may drop the last commits. Instead of synchronous=FULL (an fsync
// inside COMMIT, which blocks everything else in the process for its length), the WAL file is
// fsynced through libuv's thread pool after the commit, and durable writes are acknowledged
// when that fsync returned. Commits made while one fsync runs share the next one. Checkpoints
// under synchronous=NORMAL sync the WAL before copying it back, so nothing acknowledged is lost.
import { closeSync, fsync, openSync } from 'node:fs';

export class WalSync {
  private fd: number | undefined;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  /** `path`: the database file (its WAL is `${path}-wal`). */
  constructor(private readonly path: string) {}

  /** Resolves once everything committed before this call is on disk. */
  sync(): Promise<void> {
    if (this.running) {
      // This commit may have landed after the running fsync started: it needs the next one.
      const again = () => {
        this.next = undefined;
        return this.sync();
      };
      this.next ??= this.running.then(again, again);
      return this.next;
    }
    const p = new Promise<void>((resolve, reject) => {
      try {
        this.fd ??= openSync(`${this.path}-wal`, 'r+');
      } catch (e) {
        reject(e as Error);
        return;
      }
      fsync(this.fd, (err) => (err ? reject(err) : resolve()));
    });
    this.running = p.finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Waits for the fsyncs under way, then closes the WAL file descriptor. */
  async close(): Promise<void> {
    while (this.running || this.next) await (this.next ?? this.running)!.catch(() => {});
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
