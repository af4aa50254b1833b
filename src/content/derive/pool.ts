// A small pool of worker threads for deriving summaries and mobile sections (and splitting
// mobile sections into lead and remaining): a 1 MB page takes tens of milliseconds to parse,
// which on the main thread delays every hit behind it. Small pages are derived inline (a
// message round trip costs more than the work). The queue is bounded: when it is full the
// request fails with 503 and is retried (change propagation) instead of piling up memory.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CascadeError } from '../../errors/index.ts';
import { ContentErrors } from '../errors.ts';
import type { DeriveMeta, MobileSections, Summary } from './types.ts';

export type DeriveKind = 'summary' | 'mobile-sections' | 'mobile-html' | 'split';

export interface DeriveJob {
  id: number;
  kind: DeriveKind;
  /** HTML (summary, mobile-sections, mobile-html) or mobile-sections JSON (split). */
  input: string;
  meta?: DeriveMeta;
}

export type DeriveReply = { id: number; ok: true; out: string[] } | { id: number; ok: false; error: string } | { ready: true };

/** The work itself (shared by the worker and the inline path): JSON texts out. */
export function runJob(
  job: Pick<DeriveJob, 'kind' | 'input' | 'meta'>,
  summary: (html: string, meta: DeriveMeta) => Summary,
  mobile: (html: string, meta: DeriveMeta) => MobileSections,
  mobileHtml: (html: string, meta: DeriveMeta) => string,
): string[] {
  if (job.kind === 'summary') return [JSON.stringify(summary(job.input, job.meta ?? { domain: '' }))];
  if (job.kind === 'mobile-html') return [mobileHtml(job.input, job.meta ?? { domain: '' })];
  if (job.kind === 'mobile-sections') return [JSON.stringify(mobile(job.input, job.meta ?? { domain: '' }))];
  const parsed = JSON.parse(job.input) as { lead: unknown; remaining: unknown };
  return [JSON.stringify(parsed.lead), JSON.stringify(parsed.remaining)];
}

export interface PoolOptions {
  /** Worker threads (0: derive on the main thread). */
  workers: number;
  /** Jobs waiting for a worker at most. */
  maxQueue: number;
  /** Inputs shorter than this are derived inline. */
  inlineBelow: number;
  /** Worker entry (tests); default worker-entry.mjs next to this file. */
  entry?: URL;
}

interface Pending {
  job: DeriveJob;
  resolve: (out: string[]) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | undefined;
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism() - 1));
}

export class DerivePool {
  private slots: Slot[] = [];
  private queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  /** Set when a worker could not start: everything is derived inline from then on. */
  private broken = false;
  /** Jobs run in workers / inline, for tests and metrics. */
  stats = { worker: 0, inline: 0, rejected: 0 };

  constructor(
    private readonly o: PoolOptions,
    private readonly inline: (job: Pick<DeriveJob, 'kind' | 'input' | 'meta'>) => string[],
    private readonly onBroken?: (why: string) => void,
  ) {}

  run(kind: DeriveKind, input: string, meta?: DeriveMeta): Promise<string[]> {
    if (this.o.workers === 0 || input.length < this.o.inlineBelow || this.closed || this.broken) {
      this.stats.inline++;
      try {
        return Promise.resolve(this.inline({ kind, input, ...(meta ? { meta } : {}) }));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (this.queue.length >= this.o.maxQueue) {
      this.stats.rejected++;
      return Promise.reject(new CascadeError(ContentErrors.deriveBusy, `${this.queue.length} derivations are waiting; try again shortly`, { extra: { retry_after: 1 } }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, kind, input, ...(meta ? { meta } : {}) }, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.broken) {
      // Workers cannot start here (e.g. a build without the worker entry): derive inline.
      for (const p of this.queue.splice(0)) {
        this.stats.inline++;
        try {
          p.resolve(this.inline(p.job));
        } catch (e) {
          p.reject(e);
        }
      }
      return;
    }
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.o.workers) slot = this.spawn();
      if (!slot) return;
      const p = this.queue.shift()!;
      slot.busy = p;
      this.stats.worker++;
      slot.worker.postMessage(p.job);
    }
  }

  private spawn(): Slot {
    // The entry registers tsx inside the worker (see worker-entry.mjs); no inherited --import.
    const execArgv = process.execArgv.filter((a, i, all) => a !== '--import' && all[i - 1] !== '--import');
    const worker = new Worker(this.o.entry ?? new URL('./worker-entry.mjs', import.meta.url), { execArgv });
    worker.unref();
    const slot: Slot = { worker, busy: undefined };
    let ready = false;
    worker.on('message', (r: DeriveReply) => {
      if ('ready' in r) {
        ready = true;
        return;
      }
      const p = slot.busy;
      slot.busy = undefined;
      if (p && p.job.id === r.id) {
        if (r.ok) p.resolve(r.out);
        else p.reject(new Error(`derive ${p.job.kind}: ${r.error}`));
      }
      this.pump();
    });
    const fail = (e: unknown) => {
      this.slots = this.slots.filter((s) => s !== slot);
      const p = slot.busy;
      slot.busy = undefined;
      if (!ready && !this.closed) {
        // It failed before it loaded: workers cannot start here. Its job and all later ones are derived inline.
        this.broken = true;
        this.onBroken?.(String(e));
        if (p) this.queue.unshift(p);
      } else p?.reject(new Error(`derive worker failed: ${String(e)}`));
      if (!this.closed) this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(`exit ${code}`));
    this.slots.push(slot);
    return slot;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('derive pool closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots = [];
  }
}
