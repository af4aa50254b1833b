// The SQLite layer shared by the embedded databases (content store, event log, example wiki):
// opening with the project's pragmas, group commit, versioned migrations.
export { openSqlite, DEFAULT_BUSY_TIMEOUT_MS, type SqliteDatabase, type SqliteOpenOptions } from './open.ts';
export { GroupCommit, type GroupCommitOptions, type RunOptions } from './group-commit.ts';
export { WalSync } from './wal-sync.ts';
export { migrate, shapeProblems, tableColumns, tableExists, type MigrateOptions, type MigrateResult, type MigrationStep } from './migrate.ts';
