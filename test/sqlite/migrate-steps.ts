// Migration steps shared by migrate.test.ts and its child processes (migrate-child.ts). None of
// them is idempotent on its own: running one twice fails or leaves a second row in applied_by.
import type { MigrationStep } from '../../src/sqlite/index.ts';

export function concurrencySteps(who: string): MigrationStep[] {
  const mark = (v: number) => `INSERT INTO applied_by (version, who) VALUES (${v}, '${who}');`;
  return [
    {
      version: 1,
      name: 'applied_by and a filled table',
      sql: `CREATE TABLE applied_by (version INTEGER NOT NULL, who TEXT NOT NULL);
            CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
            WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000) INSERT INTO t (id, v) SELECT i, i FROM c;
            ${mark(1)}`,
    },
    { version: 2, name: 'a column', sql: `ALTER TABLE t ADD COLUMN w INTEGER; UPDATE t SET w = v * 2; ${mark(2)}` },
    { version: 3, name: 'an index', sql: `CREATE INDEX t_w ON t (w); ${mark(3)}` },
    {
      version: 4,
      name: 'a row per step',
      up: (db) => {
        db.prepare('INSERT INTO t (id, v) VALUES (?, ?)').run(20001, 1);
        db.exec(mark(4));
      },
    },
  ];
}
