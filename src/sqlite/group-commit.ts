// Group commit: writes are queued and, one turn of the event loop later, the queue runs in ONE
// write transaction (BEGIN IMMEDIATE, so other processes on the file are serialized too).
// SQLite's commit cost (a WAL append, an fsync when durable) is paid once per batch instead of
// once per write, and each write is acknowledged only after the COMMIT that holds it (and, for a
// durable write, after the `sync` the owner supplies, e.g. WalSync).
//
// Failure policy: a failing op fails alone. An op that throws rejects with its own error and
// leaves nothing behind; the other ops of the batch commit. The batch first runs without
// savepoints (a savepoint per op costs about half again the CPU of a small insert: SQLite copies
// each page the op changes into the statement journal); when an op throws, the transaction is
// rolled back and the batch runs again in a new one with each op in its own SAVEPOINT, so the
// failing op is rolled back to its savepoint. Ops must therefore derive what they write from the
// database alone (in-memory state they build is dropped by `onRollback`): one may run twice.
// If the transaction itself is lost (BEGIN or COMMIT fails, or SQLite rolls the whole
// transaction back, as it does on SQLITE_FULL, IOERR or NOMEM), every op of the batch rejects
// with the owner's `commitError`: nothing of it was committed.
import type { Database as Db, Statement } from 'better-sqlite3';

export interface GroupCommitOptions {
  /** Ops taken into one transaction, by weight (each op weighs 1 unless told); default no limit. */
  maxWeight?: number;
  /** Error for ops queued after close(). */
  closedError: () => Error;
  /** Error for the ops of a batch whose transaction failed as a whole. */
  commitError: (cause: unknown) => Error;
  /**
   * Called after a rollback (an op's savepoint or the whole batch): in-memory state derived
   * from writes that did not commit (caches, windows) must be dropped.
   */
  onRollback?: () => void;
  /** Called after each successful COMMIT, before any op of it resolves. */
  onCommit?: () => void;
  /** Durable ops of a commit resolve once this resolves (called once per commit); rejects them otherwise. */
  sync?: () => Promise<void>;
  /**
   * When another connection holds the write lock (SQLITE_BUSY after the connection's own short
   * busy_timeout), the batch goes back to the head of the queue and is tried again every
   * `retryMs`, on a timer instead of blocking the event loop, until `giveUpMs` have passed.
   * Without it a busy batch fails at once.
   */
  busy?: { retryMs: number; giveUpMs: number };
}

export interface RunOptions {
  /** Counts against `maxWeight` (e.g. records of an append). */
  weight?: number;
  /** Waits for `sync` before resolving (default true); false for writes one may lose with the machine (leases). */
  durable?: boolean;
}

interface Op {
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  weight: number;
  durable: boolean;
}

export class GroupCommit {
  private queue: Op[] = [];
  private scheduled = false;
  private closed = false;
  /** When the write lock was first found taken (0: not now). */
  private busySince = 0;
  private busyTimer: NodeJS.Timeout | undefined;
  private readonly st: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Statement>;

  constructor(
    private readonly db: Db,
    private readonly opts: GroupCommitOptions,
  ) {
    this.st = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT group_commit_op'),
      release: db.prepare('RELEASE group_commit_op'),
      rollbackTo: db.prepare('ROLLBACK TO group_commit_op'),
    };
  }

  /** Queues `run` (synchronous, it runs inside the batch transaction); resolves with its result after COMMIT. */
  run<T>(run: () => T, opts: RunOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(this.opts.closedError());
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject, weight: opts.weight ?? 1, durable: opts.durable ?? true });
      this.schedule();
    });
  }

  /** Ops queued and not yet committed. */
  get pending(): number {
    return this.queue.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Commits everything queued (including ops queued by what resolves meanwhile), then refuses new ops. */
  async close(): Promise<void> {
    while (this.queue.length > 0 || this.scheduled || this.busyTimer) await new Promise((r) => setImmediate(r));
    this.closed = true;
  }

  /** Runs the batch in one transaction; false (rolled back) when an op threw. Leaves it open on success. */
  private runFast(ops: Op[], results: unknown[]): boolean {
    this.st.begin.run();
    try {
      for (let i = 0; i < ops.length; i++) results[i] = ops[i].run();
      return true;
    } catch {
      if (this.db.inTransaction) this.st.rollback.run();
      return false;
    }
  }

  /** Runs the batch again, each op in its own savepoint; leaves the transaction open. */
  private runIsolated(ops: Op[], results: unknown[], failed: boolean[]): void {
    const st = this.st;
    st.begin.run();
    for (let i = 0; i < ops.length; i++) {
      st.savepoint.run();
      try {
        results[i] = ops[i].run();
        st.release.run();
      } catch (e) {
        // SQLite may have rolled the whole transaction back (SQLITE_FULL, IOERR, ...): then the
        // earlier ops are gone too, and the rest must not run in autocommit mode.
        if (!this.db.inTransaction) throw e;
        st.rollbackTo.run();
        st.release.run();
        results[i] = e;
        failed[i] = true;
        this.opts.onRollback?.();
      }
    }
  }

  private schedule(): void {
    if (this.scheduled || this.busyTimer) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  private take(): Op[] {
    const max = this.opts.maxWeight ?? Infinity;
    let n = 0;
    let weight = 0;
    while (n < this.queue.length && (n === 0 || weight + this.queue[n].weight <= max)) weight += this.queue[n++].weight;
    if (n === this.queue.length) {
      const all = this.queue;
      this.queue = [];
      return all;
    }
    return this.queue.splice(0, n);
  }

  /** Puts a batch refused for another connection's lock back at the head of the queue, for a retry. */
  private retryBusy(e: unknown, ops: Op[]): boolean {
    const busy = this.opts.busy;
    const now = Date.now();
    if (!busy || (e as { code?: string }).code !== 'SQLITE_BUSY' || now - (this.busySince ||= now) >= busy.giveUpMs) {
      this.busySince = 0;
      return false;
    }
    this.queue.unshift(...ops);
    this.busyTimer ??= setTimeout(() => {
      this.busyTimer = undefined;
      this.flush();
    }, busy.retryMs);
    return true;
  }

  private flush = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const ops = this.take();
    if (this.queue.length > 0) this.schedule(); // the rest go in the next commit
    const results: unknown[] = new Array(ops.length);
    const failed: boolean[] = new Array(ops.length).fill(false);
    const st = this.st;
    try {
      if (!this.runFast(ops, results)) {
        this.opts.onRollback?.();
        this.runIsolated(ops, results, failed);
      }
      st.commit.run();
      this.busySince = 0;
    } catch (e) {
      if (this.db.inTransaction) st.rollback.run();
      this.opts.onRollback?.();
      if (this.retryBusy(e, ops)) return;
      const err = this.opts.commitError(e);
      for (const op of ops) op.reject(err);
      return;
    }
    this.opts.onCommit?.();
    let synced: Promise<void> | undefined;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (failed[i]) op.reject(results[i]);
      else if (!op.durable || !this.opts.sync) op.resolve(results[i]);
      else {
        synced ??= this.opts.sync();
        const r = results[i];
        synced.then(() => op.resolve(r), op.reject);
      }
    }
  };
}
