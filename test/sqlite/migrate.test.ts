// migrate(): versioned steps recorded in a migrations table, idempotent, safe with several
// processes migrating one file at once, foreign keys handled for table rebuilds, and the
// baseline of files written before the table existed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openSqlite, shapeProblems, tableExists, type MigrationStep, type SqliteDatabase } from '../../src/sqlite/index.ts';
import { projectRoot } from '../helpers/corpus.ts';
import { concurrencySteps } from './migrate-steps.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cascade-migrate-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (): { path: string; db: SqliteDatabase } => {
  const path = join(tmp, `m-${n++}.sqlite`);
  return { path, db: openSqlite(path) };
};
const rows = (db: SqliteDatabase, table = 'cascade_migrations') =>
  db.prepare(`SELECT version, name, applied_at FROM ${table} ORDER BY version`).all() as { version: number; name: string; applied_at: number }[];

test('steps run in order once; the table records version, name and applied_at; a second call applies nothing', () => {
  const { db } = fresh();
  try {
    const steps = concurrencySteps('me');
    const first = migrate(db, steps, { table: 'my_migrations', now: () => 1234 });
    assert.deepEqual(first, { baseline: 0, applied: [1, 2, 3, 4] });
    assert.deepEqual(
      rows(db, 'my_migrations'),
      steps.map((s) => ({ version: s.version, name: s.name, applied_at: 1234 })),
    );
    assert.deepEqual(migrate(db, steps, { table: 'my_migrations' }), { baseline: 0, applied: [] });
    assert.deepEqual(db.prepare('SELECT version FROM applied_by ORDER BY version').pluck().all(), [1, 2, 3, 4]);
    assert.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 20001);
  } finally {
    db.close();
  }
});

test('a new release adds a step: only that one runs', () => {
  const { db } = fresh();
  try {
    const steps = concurrencySteps('me');
    migrate(db, steps.slice(0, 2));
    assert.deepEqual(migrate(db, steps).applied, [3, 4]);
    assert.deepEqual(rows(db).map((r) => r.version), [1, 2, 3, 4]);
  } finally {
    db.close();
  }
});

test('a failing step is rolled back and not recorded; the steps before it stay; a fixed release continues from there', () => {
  const { db } = fresh();
  try {
    const steps = concurrencySteps('me');
    const broken: MigrationStep = { version: 3, name: 'broken', sql: 'CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);' };
    assert.throws(() => migrate(db, [steps[0], steps[1], broken, steps[3]]), /no such table: nowhere/);
    assert.deepEqual(rows(db).map((r) => r.version), [1, 2]);
    assert.equal(tableExists(db, 'half'), false);
    assert.deepEqual(migrate(db, steps).applied, [3, 4]);
  } finally {
    db.close();
  }
});

test('steps must be numbered 1..n; a file migrated by a newer release is refused', () => {
  const { db } = fresh();
  try {
    const steps = concurrencySteps('me');
    assert.throws(() => migrate(db, [steps[1]]), /numbered 1\.\.n/);
    migrate(db, steps);
    assert.throws(() => migrate(db, steps.slice(0, 3)), /version 4 \(written by a newer release\); this release knows 3 steps/);
  } finally {
    db.close();
  }
});

test('a table rebuild works with foreign keys on; foreign keys are on again afterwards; a step breaking one is refused', () => {
  const { db } = fresh();
  try {
    db.pragma('foreign_keys = ON');
    const steps: MigrationStep[] = [
      {
        version: 1,
        name: 'parent and child',
        sql: `CREATE TABLE parent (id INTEGER PRIMARY KEY);
              CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES parent (id));
              INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (10, 1), (11, 2);`,
      },
      {
        // The documented way to change a table: create the new one, copy, drop, rename. With
        // foreign keys on, DROP TABLE parent would fail (child rows refer to it).
        version: 2,
        name: 'parent rebuilt with a name column',
        sql: `CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');
              INSERT INTO parent_new (id) SELECT id FROM parent;
              DROP TABLE parent;
              ALTER TABLE parent_new RENAME TO parent;`,
      },
    ];
    migrate(db, steps);
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    assert.deepEqual(db.prepare('SELECT id, name FROM parent ORDER BY id').raw().all(), [
      [1, ''],
      [2, ''],
    ]);
    assert.throws(() => db.prepare('INSERT INTO child VALUES (12, 99)').run(), /FOREIGN KEY constraint failed/);

    const breaking: MigrationStep = { version: 3, name: 'drops a parent row', sql: 'DELETE FROM parent WHERE id = 2' };
    assert.throws(() => migrate(db, [...steps, breaking]), /leaves 1 rows with a broken foreign key \(first: child -> parent\)/);
    assert.equal(db.prepare('SELECT count(*) FROM parent').pluck().get(), 2, 'the step was rolled back');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
  } finally {
    db.close();
  }
});

test('a file without the migrations table: baseline records the steps its shape already has, without running them', () => {
  const { db } = fresh();
  try {
    const steps = concurrencySteps('me');
    // What an earlier release created with CREATE TABLE IF NOT EXISTS (steps 1 and 2's shape).
    db.exec(`CREATE TABLE applied_by (version INTEGER NOT NULL, who TEXT NOT NULL);
             CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, w INTEGER);
             INSERT INTO t VALUES (1, 5, 10);`);
    const baseline = (d: SqliteDatabase) => {
      if (!tableExists(d, 't')) return 0;
      const problems = shapeProblems(d, { t: ['id', 'v', 'w'], applied_by: ['version', 'who'] });
      if (problems.length) throw new Error(problems.join('; '));
      return 2;
    };
    assert.deepEqual(migrate(db, steps, { baseline }), { baseline: 2, applied: [3, 4] });
    assert.deepEqual(rows(db).map((r) => [r.version, r.name]), steps.map((s) => [s.version, s.name]));
    assert.deepEqual(db.prepare('SELECT id, v, w FROM t ORDER BY id').raw().all(), [
      [1, 5, 10],
      [20001, 1, null],
    ]);
    assert.deepEqual(db.prepare('SELECT version FROM applied_by').pluck().all(), [3, 4], 'steps 1 and 2 did not run');
  } finally {
    db.close();
  }
});

test('a file of an unknown shape is refused and left as it was', () => {
  const { db } = fresh();
  try {
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, other TEXT)');
    const baseline = (d: SqliteDatabase) => {
      const problems = shapeProblems(d, { t: ['id', 'v', 'w'], applied_by: ['version', 'who'] });
      if (problems.length) throw new Error(`unknown shape: ${problems.join('; ')}`);
      return 2;
    };
    assert.throws(
      () => migrate(db, concurrencySteps('me'), { baseline }),
      /unknown shape: table t has columns \(id, other\), expected \(id, v, w\); table applied_by is missing/,
    );
    assert.equal(tableExists(db, 'cascade_migrations'), false);
  } finally {
    db.close();
  }
});

function startChild(path: string, who: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'test/sqlite/migrate-child.ts'), path, who], {
    cwd: projectRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready\n')) readyResolve();
  });
  const exited = new Promise<{ code: number | null; result: { baseline: number; applied: number[] } }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      resolve({ code, result: last.startsWith('{') ? JSON.parse(last) : { baseline: -1, applied: [] } });
    });
  });
  return { child, ready, exited };
}

test('two processes migrating one file at the same time apply each step exactly once', async () => {
  for (let round = 0; round < 2; round++) {
    const path = join(tmp, `concurrent-${round}.sqlite`);
    openSqlite(path).close();
    const a = startChild(path, 'a');
    const b = startChild(path, 'b');
    await Promise.all([a.ready, b.ready]);
    // Released together: both see no migrations and race for the write lock.
    a.child.stdin!.write('go\n');
    b.child.stdin!.write('go\n');
    const [ra, rb] = await Promise.all([a.exited, b.exited]);
    assert.equal(ra.code, 0);
    assert.equal(rb.code, 0);
    const applied = [...ra.result.applied, ...rb.result.applied].sort();
    assert.deepEqual(applied, [1, 2, 3, 4], `a applied ${ra.result.applied}, b applied ${rb.result.applied}`);
    const db = openSqlite(path);
    try {
      assert.deepEqual(rows(db).map((r) => r.version), [1, 2, 3, 4]);
      const by = db.prepare('SELECT version, who FROM applied_by ORDER BY version').raw().all() as [number, string][];
      assert.deepEqual(by.map((r) => r[0]), [1, 2, 3, 4], 'each step ran once');
      for (const [v, who] of by) assert.ok((who === 'a' ? ra : rb).result.applied.includes(v));
      assert.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 20001);
    } finally {
      db.close();
    }
  }
});
