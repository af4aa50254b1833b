// GroupCommit's contract: one transaction per batch, a failing op rejects alone (its own
// savepoint when the batch runs again), the others commit, acknowledgement only after COMMIT (and after `sync` for durable
// ops), a lost transaction rejects the whole batch, close() drains then refuses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GroupCommit, WalSync, openSqlite, type GroupCommitOptions, type SqliteDatabase } from '../../src/sqlite/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cascade-gc-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function setup(opts: Partial<GroupCommitOptions> = {}, busyTimeout?: number) {
  const path = join(tmp, `gc-${n++}.sqlite`);
  const db = openSqlite(path, { busyTimeout });
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  const other = openSqlite(path, { busyTimeout });
  const events: string[] = [];
  const gc = new GroupCommit(db, {
    closedError: () => new Error('closed'),
    commitError: (e) => new Error(`commit failed: ${(e as Error).message}`, { cause: e }),
    onCommit: () => events.push('commit'),
    onRollback: () => events.push('rollback'),
    ...opts,
  });
  const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
  const put = (k: string, v = 1) => gc.run(() => insert.run(k, v).changes);
  const committed = (k: string) => other.prepare('SELECT v FROM t WHERE k = ?').pluck().get(k) as number | undefined;
  const done = () => {
    db.close();
    other.close();
  };
  return { path, db, other, gc, put, committed, events, done };
}

function settle<T>(ps: Promise<T>[]) {
  return Promise.allSettled(ps);
}

test('ops queued in one turn share one transaction; each resolves only once its COMMIT is visible to another connection', async () => {
  const s = setup();
  try {
    const seenAtResolve: (number | undefined)[] = [];
    const ps = ['a', 'b', 'c'].map((k, i) => s.put(k, i).then(() => seenAtResolve.push(s.committed(k))));
    assert.equal(s.gc.pending, 3);
    assert.equal(s.committed('a'), undefined, 'nothing runs before the batch');
    await Promise.all(ps);
    assert.deepEqual(seenAtResolve, [0, 1, 2]);
    assert.deepEqual(s.events, ['commit'], 'one commit for the three ops');
  } finally {
    s.done();
  }
});

test('a failing op rolls back to its savepoint and rejects with its own error; the rest of the batch commits', async () => {
  const s = setup();
  try {
    const boom = new Error('op failed');
    const insert = s.db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const results = await settle<unknown>([
      s.put('a'),
      s.gc.run(() => {
        insert.run('half-written', 1); // must not survive: the op's savepoint is rolled back
        throw boom;
      }),
      s.put('a'), // a constraint violation: fails alone too
      s.put('b'),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
    assert.equal((results[1] as PromiseRejectedResult).reason, boom);
    assert.match(String((results[2] as PromiseRejectedResult).reason), /UNIQUE constraint failed/);
    assert.equal(s.committed('a'), 1);
    assert.equal(s.committed('b'), 1);
    assert.equal(s.committed('half-written'), undefined);
    // The batch ran without savepoints, was rolled back at the first failure, and ran again with
    // one savepoint per op (each failing op rolled back to its own).
    assert.deepEqual(s.events, ['rollback', 'rollback', 'rollback', 'commit']);
  } finally {
    s.done();
  }
});

test('when SQLite abandons the transaction inside an op, every op of the batch rejects and nothing of it is committed', async () => {
  const s = setup();
  try {
    const results = await settle<unknown>([
      s.put('before'),
      s.gc.run(() => {
        // What SQLite does on SQLITE_FULL / IOERR / NOMEM: the whole transaction is gone.
        s.db.exec('ROLLBACK');
        throw new Error('disk full');
      }),
      s.put('after'),
    ]);
    assert.ok(results.every((r) => r.status === 'rejected'));
    for (const r of results) assert.match(String((r as PromiseRejectedResult).reason), /commit failed: disk full/);
    assert.equal(s.committed('before'), undefined);
    assert.equal(s.committed('after'), undefined, 'the ops after it did not run in autocommit mode');
    assert.equal(s.db.inTransaction, false);
    await s.put('next');
    assert.equal(s.committed('next'), 1, 'the next batch commits');
  } finally {
    s.done();
  }
});

test('resolved ops are committed and rejected ones are not, when the file runs out of pages mid-batch', async () => {
  const s = setup();
  try {
    // One connection may grow the file only this far: a large insert fails with SQLITE_FULL.
    const pages = s.db.pragma('page_count', { simple: true }) as number;
    s.db.pragma(`max_page_count = ${pages + 4}`);
    const big = s.db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) ps.push(s.put(`small${i}`));
    ps.push(s.gc.run(() => big.run('big', Buffer.alloc(1 << 20))));
    for (let i = 10; i < 20; i++) ps.push(s.put(`small${i}`));
    const results = await settle(ps);
    assert.equal(results[10].status, 'rejected');
    const keys = [...Array(10).keys(), ...Array.from({ length: 10 }, (_, i) => i + 10)].map((i) => `small${i}`);
    keys.forEach((k, j) => {
      const r = results[j < 10 ? j : j + 1];
      assert.equal(s.committed(k) !== undefined, r.status === 'fulfilled', `${k}: ${r.status} but ${s.committed(k) === undefined ? 'absent' : 'stored'}`);
    });
    assert.equal(s.committed('big'), undefined);
  } finally {
    s.done();
  }
});

test('a batch that cannot take the write lock rejects as a whole with commitError; the next one commits', async () => {
  const s = setup({}, 50);
  try {
    s.other.exec('BEGIN IMMEDIATE'); // another process holds the write lock past the busy timeout
    const results = await settle([s.put('a'), s.put('b')]);
    assert.ok(results.every((r) => r.status === 'rejected' && /commit failed: database is locked/.test(String(r.reason))));
    s.other.exec('COMMIT');
    await s.put('c');
    assert.equal(s.committed('c'), 1);
    assert.equal(s.committed('a'), undefined);
  } finally {
    s.done();
  }
});

test('maxWeight splits the queue into several commits, in order', async () => {
  const s = setup({ maxWeight: 10 });
  try {
    const order: string[] = [];
    const ps = [4, 4, 4, 20, 1].map((w, i) => s.gc.run(() => order.push(`op${i}`), { weight: w }));
    await Promise.all(ps);
    assert.deepEqual(order, ['op0', 'op1', 'op2', 'op3', 'op4']);
    // [4, 4] | [4] (the 20 would overflow) | [20] (alone: an op heavier than the limit still runs) | [1]
    assert.equal(s.events.filter((e) => e === 'commit').length, 4);
  } finally {
    s.done();
  }
});

test('durable ops wait for sync after COMMIT; non-durable ones do not; a failed sync rejects only the durable ones', async () => {
  let release!: () => void;
  let fail!: (e: Error) => void;
  let syncs = 0;
  const s = setup({
    sync: () => {
      syncs++;
      return new Promise<void>((res, rej) => {
        release = res;
        fail = rej;
      });
    },
  });
  try {
    const resolved: string[] = [];
    const durable = s.put('d').then(() => resolved.push('d'));
    const lease = s.gc.run(() => 'lease', { durable: false }).then(() => resolved.push('lease'));
    await lease;
    assert.deepEqual(resolved, ['lease']);
    assert.equal(s.committed('d'), 1, 'committed, but not yet acknowledged');
    assert.equal(syncs, 1);
    release();
    await durable;
    assert.deepEqual(resolved, ['lease', 'd']);

    const lost = s.put('e');
    const fine = s.gc.run(() => 1, { durable: false });
    await fine;
    fail(new Error('fsync failed'));
    await assert.rejects(lost, /fsync failed/);
  } finally {
    s.done();
  }
});

test('durable ops through a real WalSync resolve after the WAL fsync', async () => {
  const path = join(tmp, `walsync-${n++}.sqlite`);
  const db: SqliteDatabase = openSqlite(path);
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
  const wal = new WalSync(path);
  const gc = new GroupCommit(db, { closedError: () => new Error('closed'), commitError: (e) => e as Error, sync: () => wal.sync() });
  try {
    const ins = db.prepare('INSERT INTO t (k) VALUES (?)');
    const ps = [];
    for (let i = 0; i < 50; i++) {
      ps.push(gc.run(() => ins.run(`k${i}`)));
      if (i % 10 === 0) await new Promise((r) => setImmediate(r)); // several commits, fsyncs overlapping
    }
    await Promise.all(ps);
    assert.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 50);
  } finally {
    await gc.close();
    await wal.close();
    db.close();
  }
});

test('close() commits what is queued (also ops queued while draining), then refuses new ops', async () => {
  const s = setup();
  try {
    const first = s.put('a').then(() => s.put('queued-while-draining'));
    await s.gc.close();
    await first;
    assert.equal(s.committed('a'), 1);
    assert.equal(s.committed('queued-while-draining'), 1);
    assert.equal(s.gc.isClosed, true);
    await assert.rejects(s.put('late'), /closed/);
  } finally {
    s.done();
  }
});
