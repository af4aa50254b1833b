// The one fetch → handle loop behind every consumer: the engine's main and retry loops, the
// hot-cache invalidation and the example wiki's outbox sender. A failed fetch or handle is
// reported and retried after a backoff (reset by the next success); an empty fetch idles for
// `idleMs` unless woken; `stop()` ends the current wait at once and resolves when the loop is out.

import { Backoff, type BackoffSpec } from './backoff.ts';
import { WakeableSleep } from './wakeable-sleep.ts';

export interface ConsumerLoopOptions<T> {
  /** One batch (may long-poll; an empty batch is fine). */
  fetch(): Promise<T[]> | T[];
  /** Handles a non-empty batch; a throw counts as a failure (reported, then a backoff). */
  handle(batch: T[]): Promise<void> | void;
  /** Awaited before each fetch (e.g. until a concurrency slot is free). */
  ready?(): Promise<void>;
  /** Told of each failure (the loop goes on). */
  onError?(error: unknown, phase: 'fetch' | 'handle'): void;
  /** Delay after a failure (default: exponential from 100 ms to 5 s, 20% jitter). */
  backoff?: BackoffSpec;
  /** Idle time after an empty batch (default 0: `fetch` waits itself). */
  idleMs?: number;
  /** Called once the loop has stopped (e.g. to flush pending acks). */
  onStop?(): Promise<void> | void;
}

export const DEFAULT_LOOP_BACKOFF: BackoffSpec = { kind: 'exponential', initialMs: 100, maxMs: 5_000, jitter: 0.2 };

export class ConsumerLoop<T> {
  private running = false;
  private done: Promise<void> = Promise.resolve();
  private readonly idle = new WakeableSleep();
  private readonly retry: Backoff;
  /** Failures so far (fetch and handle). */
  failures = 0;

  constructor(private readonly opts: ConsumerLoopOptions<T>) {
    this.retry = new Backoff(opts.backoff ?? DEFAULT_LOOP_BACKOFF);
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.done = this.run();
    return this;
  }

  /** Ends an idle or backoff wait now (there is work). */
  wake(): void {
    this.idle.wake();
  }

  /** Stops after the current fetch/handle; resolves once the loop (and `onStop`) finished. */
  async stop(): Promise<void> {
    this.running = false;
    this.idle.wake();
    await this.done;
  }

  private async run(): Promise<void> {
    try {
      while (this.running) {
        if (this.opts.ready) await this.opts.ready();
        if (!this.running) break;
        let batch: T[];
        try {
          batch = await this.opts.fetch();
        } catch (e) {
          if (!this.running) break;
          await this.failed(e, 'fetch');
          continue;
        }
        if (batch.length === 0) {
          this.retry.reset();
          if (this.opts.idleMs) await this.idle.sleep(this.opts.idleMs);
          continue;
        }
        try {
          await this.opts.handle(batch);
          this.retry.reset();
        } catch (e) {
          await this.failed(e, 'handle');
        }
      }
    } finally {
      await this.opts.onStop?.();
    }
  }

  private async failed(e: unknown, phase: 'fetch' | 'handle'): Promise<void> {
    this.failures++;
    this.opts.onError?.(e, phase);
    if (this.running) await this.idle.sleep(this.retry.next());
  }
}
