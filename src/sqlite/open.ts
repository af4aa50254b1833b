// Opening a SQLite file with the project's pragmas, in one place. Every embedded database
// (content store, event log, example wiki) runs in WAL mode (readers never block the one writer,
// a commit appends to the WAL instead of rewriting pages) with a busy timeout, so several
// processes can share one file; the knobs that differ per database are options.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database, { type Database as Db } from 'better-sqlite3';

export type SqliteDatabase = Db;

export interface SqliteOpenOptions {
  /**
   * `normal` (default) survives a process crash (SIGKILL); `full` also a power loss (fsync in
   * every COMMIT). A caller that fsyncs the WAL itself (see WalSync) opens with `normal`.
   */
  synchronous?: 'normal' | 'full';
  /** Page size in bytes for a NEW file (an existing file keeps its own). */
  pageSize?: number;
  /** Bytes of the file mapped into memory (0: off, SQLite's default). */
  mmap?: number;
  /** Page cache per connection in bytes (default: SQLite's 2 MB). */
  cacheSize?: number;
  /** How long a writer waits for another connection's write lock, in ms (default 5000). */
  busyTimeout?: number;
  /** Read-only: the file must exist; no pragma that writes is issued. */
  readonly?: boolean;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating it and its directory if needed) a SQLite file. Throws what better-sqlite3
 * throws; the caller wraps it in its capability's error. The connection is closed on failure.
 */
export function openSqlite(path: string, opts: SqliteOpenOptions = {}): Db {
  const memory = path === ':memory:' || path === '';
  if (!memory && !opts.readonly) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, {
    readonly: opts.readonly ?? false,
    fileMustExist: opts.readonly ?? false,
    timeout: opts.busyTimeout ?? DEFAULT_BUSY_TIMEOUT_MS,
  });
  try {
    if (!opts.readonly) {
      // page_size only takes on a file without pages (WAL mode fixes it afterwards).
      if (opts.pageSize && (db.pragma('page_count', { simple: true }) as number) === 0) db.pragma(`page_size = ${opts.pageSize | 0}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
      if (!memory && mode.toLowerCase() !== 'wal') throw new Error(`cannot switch ${path} to WAL mode (journal_mode is ${mode})`);
    }
    db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    if (opts.mmap !== undefined) db.pragma(`mmap_size = ${Math.max(0, Math.floor(opts.mmap))}`);
    // Negative: a size in KiB rather than in pages.
    if (opts.cacheSize !== undefined) db.pragma(`cache_size = ${-Math.max(1, Math.floor(opts.cacheSize / 1024))}`);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}
