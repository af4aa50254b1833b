// Versioned schema changes. Each database lists its steps (version 1..n, in order); a table
// (version, name, applied_at) records what a file has. Each step runs in its own BEGIN IMMEDIATE
// transaction and is looked up again under that lock, so processes opening one file at the
// same time apply each step exactly once. Foreign keys are off while migrating (the documented
// way to rebuild a table, which SQLite needs for any change beyond ADD COLUMN) and each step is
// checked with foreign_key_check before it commits.
import type { Database as Db } from 'better-sqlite3';

export interface MigrationStep {
  version: number;
  name: string;
  /** A script run as is. */
  sql?: string;
  /** For what SQL alone cannot express (runs after `sql`, in the same transaction). */
  up?: (db: Db) => void;
}

export interface MigrateOptions {
  /** The migrations table; default `cascade_migrations`. */
  table?: string;
  /**
   * Files created before the database had a migrations table: called under the write lock when
   * the table does not exist, returns the version the file's schema is at (0 for an empty file),
   * found by checking its shape (see `shapeProblems`), and throws on a shape it does not know.
   * Steps up to that version are recorded as applied without running.
   */
  baseline?: (db: Db) => number;
  now?: () => number;
}

export interface MigrateResult {
  /** Versions recorded from the baseline (0 when none). */
  baseline: number;
  /** Versions this call applied. */
  applied: number[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function migrate(db: Db, steps: readonly MigrationStep[], opts: MigrateOptions = {}): MigrateResult {
  const table = opts.table ?? 'cascade_migrations';
  if (!NAME.test(table)) throw new Error(`bad migrations table name ${JSON.stringify(table)}`);
  steps.forEach((s, i) => {
    if (s.version !== i + 1) throw new Error(`migration steps must be numbered 1..n in order; step ${i + 1} is ${s.version}`);
  });
  if (db.inTransaction) throw new Error('migrate() must not run inside a transaction');
  const now = opts.now ?? Date.now;
  const result: MigrateResult = { baseline: 0, applied: [] };
  const known = steps.length;
  const recorded = (): Set<number> | undefined =>
    tableExists(db, table) ? new Set(db.prepare(`SELECT version FROM ${table}`).pluck().all() as number[]) : undefined;
  const tooNew = (have: Set<number>): void => {
    const max = Math.max(0, ...have);
    if (max > known) throw new Error(`the schema is at version ${max} (written by a newer release); this release knows ${known} steps`);
  };

  // Nothing to do (the common case): no write lock taken.
  const seen = recorded();
  if (seen) tooNew(seen);
  if (seen && steps.every((s) => seen.has(s.version))) return result;

  const fk = db.pragma('foreign_keys', { simple: true }) === 1;
  // A no-op inside a transaction: switched around them.
  if (fk) db.pragma('foreign_keys = OFF');
  try {
    db.transaction(() => {
      if (tableExists(db, table)) return;
      const base = opts.baseline?.(db) ?? 0;
      if (!Number.isInteger(base) || base < 0 || base > known) throw new Error(`baseline version ${base} is not one of the ${known} steps`);
      db.exec(`CREATE TABLE ${table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
      const ins = db.prepare(`INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`);
      for (const s of steps) if (s.version <= base) ins.run(s.version, s.name, now());
      result.baseline = base;
    }).immediate();
    const has = db.prepare(`SELECT 1 FROM ${table} WHERE version = ?`);
    const ins = db.prepare(`INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`);
    const done = recorded()!;
    for (const s of steps) {
      if (done.has(s.version)) continue;
      db.transaction(() => {
        // Another process may have applied it since we looked: look again under the lock.
        if (has.get(s.version)) return;
        if (s.sql) db.exec(s.sql);
        s.up?.(db);
        const broken = db.pragma('foreign_key_check') as { table: string; parent: string }[];
        if (broken.length > 0) {
          throw new Error(`migration ${s.version} (${s.name}) leaves ${broken.length} rows with a broken foreign key (first: ${broken[0].table} -> ${broken[0].parent})`);
        }
        ins.run(s.version, s.name, now());
        result.applied.push(s.version);
      }).immediate();
    }
    tooNew(recorded()!);
  } finally {
    if (fk) db.pragma('foreign_keys = ON');
  }
  return result;
}

export function tableExists(db: Db, table: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined;
}

/** The column names of a table, in order ([] when it does not exist). */
export function tableColumns(db: Db, table: string): string[] {
  return db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[];
}

/**
 * What differs between the file and the expected tables (name -> column names, in order):
 * one line per problem, empty when every table is there with exactly those columns.
 */
export function shapeProblems(db: Db, expected: Record<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [table, cols] of Object.entries(expected)) {
    const have = tableColumns(db, table);
    if (have.length === 0) out.push(`table ${table} is missing`);
    else if (have.join(',') !== cols.join(',')) out.push(`table ${table} has columns (${have.join(', ')}), expected (${cols.join(', ')})`);
  }
  return out;
}
