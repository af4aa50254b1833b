// openSqlite: the project's pragmas in one place, the per-database ones as options.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '../../src/sqlite/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cascade-open-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('a new file (and its directory) gets WAL, the busy timeout, synchronous, page size, cache and mmap asked for', () => {
  const path = join(tmp, 'a', 'b', 'new.sqlite');
  const db = openSqlite(path, { synchronous: 'full', pageSize: 16384, cacheSize: 64 * 1024 * 1024, mmap: 1 << 20, busyTimeout: 1234 });
  try {
    const p = (name: string) => db.pragma(name, { simple: true });
    assert.equal(p('journal_mode'), 'wal');
    assert.equal(p('busy_timeout'), 1234);
    assert.equal(p('synchronous'), 2); // FULL
    assert.equal(p('page_size'), 16384);
    assert.equal(p('cache_size'), -65536); // KiB
    assert.equal(p('mmap_size'), 1 << 20);
  } finally {
    db.close();
  }
});

test('defaults: synchronous=NORMAL, busy timeout 5 s; an existing file keeps its page size', () => {
  const path = join(tmp, 'existing.sqlite');
  const first = openSqlite(path, { pageSize: 4096 });
  first.exec('CREATE TABLE t (x)');
  first.close();
  const db = openSqlite(path, { pageSize: 16384 });
  try {
    assert.equal(db.pragma('page_size', { simple: true }), 4096);
    assert.equal(db.pragma('synchronous', { simple: true }), 1); // NORMAL
    assert.equal(db.pragma('busy_timeout', { simple: true }), 5000);
  } finally {
    db.close();
  }
});

test('readonly: the file must exist, nothing is created, writes are refused', () => {
  const missing = join(tmp, 'nowhere', 'missing.sqlite');
  assert.throws(() => openSqlite(missing, { readonly: true }), /unable to open database file|does not exist/);
  assert.equal(existsSync(join(tmp, 'nowhere')), false);
  const path = join(tmp, 'ro.sqlite');
  const w = openSqlite(path);
  w.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
  const ro = openSqlite(path, { readonly: true });
  try {
    assert.equal(ro.prepare('SELECT x FROM t').pluck().get(), 1);
    assert.throws(() => ro.exec('INSERT INTO t VALUES (2)'), /readonly/);
  } finally {
    ro.close();
    w.close();
  }
});
