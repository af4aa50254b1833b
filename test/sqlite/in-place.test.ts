// Files written by releases before the shared migrations (src/sqlite) are recognized by their
// shape and migrated in place: their rows survive and the migrations table is filled. The old
// schemas are copied verbatim into fixtures/old-schemas.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openEventLog } from '../../src/events/log/index.ts';
import { openWikiDb } from '../../src/wiki/db.ts';
import { LOG_SCHEMA_PER_RECORD, LOG_SCHEMA_UNVERSIONED, WIKI_SCHEMA_UNVERSIONED } from './fixtures/old-schemas.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cascade-inplace-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function oldFile(name: string, ddl: string): { path: string; db: Database.Database } {
  const path = join(tmp, name);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(ddl);
  return { path, db };
}

function migrations(path: string): [number, string][] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT version, name FROM cascade_migrations ORDER BY version').raw().all() as [number, string][];
  } finally {
    db.close();
  }
}

const ids = ['e1', 'e2', 'e3', 'e4', 'e5'];
const values = ids.map((id) => Buffer.from(JSON.stringify({ meta: { id }, n: id })));

test('an event log file of the chunk layout without a migrations table: records, group position and dedup survive', async () => {
  const { path, db } = oldFile('log-unversioned.sqlite', LOG_SCHEMA_UNVERSIONED);
  // One topic with one chunk holding offsets 1..5 (rid = topic_id * 2^40 + start), keyed e2 only;
  // group g has consumed offsets 1 and 2.
  const ends = Buffer.alloc(4 * values.length);
  let pos = 0;
  values.forEach((v, i) => ends.writeUInt32LE((pos += v.length), 4 * i));
  const bytes = values.reduce((a, v, i) => a + v.length + ids[i].length, 0) + 1;
  db.prepare(`INSERT INTO topics (topic_id, name, next_offset, first_offset, bytes) VALUES (1, 'local.old', 6, 1, ?)`).run(bytes);
  db.prepare('INSERT INTO chunks (rid, n, ts, ids, keys, ends, data) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
    2 ** 40 + 1,
    5,
    Date.now(),
    JSON.stringify(ids),
    JSON.stringify([null, 'k', null, null, null]),
    ends,
    Buffer.concat(values),
  );
  db.prepare(`INSERT INTO cgroups (name, topic_id, committed, dispatched) VALUES ('g', 1, 3, 3)`).run();
  db.close();

  const log = await openEventLog({ backend: 'sqlite', path, synchronous: 'normal' });
  try {
    const all = await log.read('local.old', 0, 100);
    assert.deepEqual(
      all.map((r) => [r.offset, r.id, r.key]),
      [
        [1, 'e1', undefined],
        [2, 'e2', 'k'],
        [3, 'e3', undefined],
        [4, 'e4', undefined],
        [5, 'e5', undefined],
      ],
    );
    assert.ok(all.every((r, i) => r.value.equals(values[i])));
    const c = await log.consumer('g', ['local.old']);
    const got = await c.fetch(10, 0);
    assert.deepEqual(
      got.map((r) => r.offset),
      [3, 4, 5],
      'the group resumes where it was',
    );
    await c.ack(got);
    await c.close();
    assert.deepEqual(await log.append('local.old', [{ id: 'e4', value: values[3] }, { id: 'e6', value: Buffer.from('{}') }]), [
      { offset: 4, duplicate: true },
      { offset: 6, duplicate: false },
    ]);
  } finally {
    await log.close();
  }
  assert.deepEqual(
    migrations(path).map((m) => m[0]),
    [1, 2, 3],
  );
  // Opening it again changes nothing.
  const again = await openEventLog({ backend: 'sqlite', path, synchronous: 'normal' });
  try {
    assert.equal((await again.read('local.old', 0, 100)).length, 6);
  } finally {
    await again.close();
  }
});

test('an event log file of the per-record layout is packed into chunks and its migrations recorded', async () => {
  const { path, db } = oldFile('log-per-record.sqlite', LOG_SCHEMA_PER_RECORD);
  db.prepare(`INSERT INTO topics (topic_id, name, next_offset, first_offset, bytes) VALUES (1, 'local.old', 6, 1, 0)`).run();
  const ins = db.prepare('INSERT INTO records (rid, id, idh, key, value, ts) VALUES (?, ?, 0, ?, ?, ?)');
  const now = Date.now();
  ids.forEach((id, i) => ins.run(2 ** 40 + i + 1, id, null, values[i], now));
  db.close();
  const log = await openEventLog({ backend: 'sqlite', path, synchronous: 'normal' });
  try {
    assert.deepEqual(
      (await log.read('local.old', 0, 100)).map((r) => r.id),
      ids,
    );
  } finally {
    await log.close();
  }
  assert.deepEqual(
    migrations(path).map((m) => m[0]),
    [1, 2, 3],
  );
  const check = new Database(path, { readonly: true });
  try {
    assert.equal(check.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'records'`).pluck().get(), 0);
    assert.equal(check.prepare('SELECT count(*) FROM chunks').pluck().get(), 1);
  } finally {
    check.close();
  }
});

test('a file that is not an event log of a known shape is refused with what differs', async () => {
  const { path, db } = oldFile('log-unknown.sqlite', 'CREATE TABLE topics (topic_id INTEGER PRIMARY KEY, name TEXT)');
  db.close();
  await assert.rejects(
    openEventLog({ backend: 'sqlite', path, synchronous: 'normal' }),
    (e: Error) =>
      /cannot open the event log .*log-unknown\.sqlite: not an event log file this release knows: table topics has columns \(topic_id, name\)/.test(e.message) &&
      /table cgroups is missing/.test(e.message),
  );
});

test('an example wiki database without a migrations table: pages, revisions and the outbox survive; ids continue', () => {
  const { path, db } = oldFile('wiki-unversioned.sqlite', WIKI_SCHEMA_UNVERSIONED);
  db.prepare(`INSERT INTO page (page_id, namespace, title, latest, touched) VALUES (7, 0, 'Old_page', 70, '20260101000000')`).run();
  db.prepare(
    `INSERT INTO revision (rev_id, page_id, parent_id, timestamp, user_text, sha1, len, text) VALUES (70, 7, 0, '20260101000000', 'Someone', 'abc', 9, 'Old text.')`,
  ).run();
  db.prepare(`INSERT INTO outbox (seq, stream, body) VALUES (3, 'mediawiki.page-create', '{}')`).run();
  db.close();

  const wiki = openWikiDb(path);
  try {
    assert.deepEqual(wiki.prepare('SELECT page_id, title, latest FROM page').raw().all(), [[7, 'Old_page', 70]]);
    assert.equal(wiki.prepare('SELECT text FROM revision WHERE rev_id = 70').pluck().get(), 'Old text.');
    assert.deepEqual(wiki.prepare('SELECT seq, stream FROM outbox').raw().all(), [[3, 'mediawiki.page-create']]);
    const id = wiki.prepare(`INSERT INTO page (namespace, title, touched) VALUES (0, 'New_page', '20260102000000')`).run().lastInsertRowid;
    assert.equal(id, 8);
  } finally {
    wiki.close();
  }
  assert.deepEqual(migrations(path), [[1, 'pages, revisions, template links, deletion log and event outbox']]);
  openWikiDb(path).close(); // again: nothing to do
  assert.equal(migrations(path).length, 1);
});

test('a new example wiki database gets its tables from step 1; a file of another shape is refused', () => {
  const path = join(tmp, 'wiki-new', 'wiki.sqlite');
  openWikiDb(path).close();
  assert.equal(migrations(path).length, 1);
  const { path: other, db } = oldFile('wiki-unknown.sqlite', 'CREATE TABLE page (id INTEGER PRIMARY KEY)');
  db.close();
  assert.throws(() => openWikiDb(other), /not a wiki database this release knows: table page has columns \(id\), expected \(page_id, /);
});
