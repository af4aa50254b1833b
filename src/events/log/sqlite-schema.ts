// The SQLite event log's tables, as versioned migration steps (src/sqlite/migrate.ts), and how
// a file written before the log recorded its schema version is recognized.
import type { Database as Db } from 'better-sqlite3';
import { shapeProblems, tableColumns, tableExists, type MigrationStep } from '../../sqlite/index.ts';

/** A chunk's rowid is `topic_id * SHIFT + start`: a topic is one contiguous rowid range. */
export const SHIFT = 2 ** 40;
/** A chunk holds at most this many records (an append larger is split). */
export const CHUNK_RECORDS = 1000;

export const LOG_MIGRATIONS: MigrationStep[] = [
  {
    version: 1,
    name: 'topics, consumer groups and lease ranges',
    sql: `
CREATE TABLE topics (
  topic_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  next_offset INTEGER NOT NULL DEFAULT 1,
  first_offset INTEGER NOT NULL DEFAULT 1,
  bytes INTEGER NOT NULL DEFAULT 0,
  max_age_ms INTEGER,
  max_bytes INTEGER
);
CREATE TABLE cgroups (
  gid INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  topic_id INTEGER NOT NULL,
  committed INTEGER NOT NULL,
  dispatched INTEGER NOT NULL,
  UNIQUE (name, topic_id)
);
-- The records of a group at or past its committed position that are not yet acked, as
-- disjoint offset ranges [off, end): a run of unkeyed records, or one keyed record. Leased to a
-- member until expires, or (member NULL) free: released, or waiting behind an earlier record of
-- its key. Ranges keep the write cost per fetched batch, not per record.
CREATE TABLE lease_ranges (
  gid INTEGER NOT NULL,
  off INTEGER NOT NULL,
  end INTEGER NOT NULL,
  key TEXT,
  member TEXT,
  expires INTEGER NOT NULL,
  deliveries INTEGER NOT NULL,
  PRIMARY KEY (gid, off)
) WITHOUT ROWID;`,
  },
  {
    version: 2,
    name: 'chunks: records stored as packed runs of consecutive offsets',
    sql: `
-- A chunk: records [start, start + n) of a topic (rid = topic_id * 2^40 + start), appended at
-- ts. ids: JSON array; keys: JSON array (null where unkeyed) or NULL when none is keyed;
-- ends: little-endian uint32 end of each value in data; data: the values back to back.
CREATE TABLE chunks (
  rid INTEGER PRIMARY KEY,
  n INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  ids TEXT NOT NULL,
  keys TEXT,
  ends BLOB NOT NULL,
  data BLOB NOT NULL
);`,
  },
  {
    version: 3,
    name: 'rows of the per-record layout (before chunks) packed into chunks',
    up: packRecords,
  },
];

const V1_TABLES = {
  topics: ['topic_id', 'name', 'next_offset', 'first_offset', 'bytes', 'max_age_ms', 'max_bytes'],
  cgroups: ['gid', 'name', 'topic_id', 'committed', 'dispatched'],
  lease_ranges: ['gid', 'off', 'end', 'key', 'member', 'expires', 'deliveries'],
};
const V2_TABLES = { chunks: ['rid', 'n', 'ts', 'ids', 'keys', 'ends', 'data'] };
/** Columns packRecords reads from the per-record layout (an older variant lacks `idh`). */
const RECORD_COLUMNS = ['rid', 'id', 'key', 'value', 'ts'];

/**
 * The version of a log file written before the log had a migrations table, by its shape: the
 * tables the earlier code created with CREATE TABLE IF NOT EXISTS, and `records` while a file
 * of the per-record layout was not yet packed. Throws on any other shape.
 */
export function logBaseline(db: Db): number {
  if (!['topics', 'cgroups', 'lease_ranges', 'chunks', 'records'].some((t) => tableExists(db, t))) return 0;
  const problems = shapeProblems(db, V1_TABLES);
  const hasChunks = tableExists(db, 'chunks');
  if (hasChunks) problems.push(...shapeProblems(db, V2_TABLES));
  const hasRecords = tableExists(db, 'records');
  if (hasRecords) {
    const cols = tableColumns(db, 'records');
    const missing = RECORD_COLUMNS.filter((c) => !cols.includes(c));
    if (missing.length > 0) problems.push(`table records lacks columns ${missing.join(', ')}`);
  }
  if (!hasChunks && !hasRecords) problems.push('table chunks is missing');
  if (problems.length > 0) throw new Error(`not an event log file this release knows: ${problems.join('; ')}`);
  if (!hasChunks) return 1;
  return hasRecords ? 2 : 3;
}

/** Files written before chunks kept one row per record (`records`): packs them into chunks. */
function packRecords(db: Db): void {
  if (!tableExists(db, 'records')) return;
  const rows = db.prepare('SELECT rid, id, key, value, ts FROM records ORDER BY rid').all() as { rid: number; id: string; key: string | null; value: Buffer; ts: number }[];
  const insert = db.prepare('INSERT INTO chunks (rid, n, ts, ids, keys, ends, data) VALUES (?, ?, ?, ?, ?, ?, ?)');
  for (let i = 0; i < rows.length; ) {
    // A chunk: consecutive offsets of one topic with one timestamp, up to CHUNK_RECORDS.
    let j = i + 1;
    while (
      j < rows.length &&
      j - i < CHUNK_RECORDS &&
      rows[j].rid === rows[j - 1].rid + 1 &&
      Math.floor(rows[j].rid / SHIFT) === Math.floor(rows[i].rid / SHIFT) &&
      rows[j].ts === rows[i].ts
    )
      j++;
    const part = rows.slice(i, j);
    const ends = Buffer.allocUnsafe(4 * part.length);
    let pos = 0;
    part.forEach((r, k) => ends.writeUInt32LE((pos += r.value.length), 4 * k));
    const keyed = part.some((r) => r.key !== null);
    insert.run(part[0].rid, part.length, part[0].ts, JSON.stringify(part.map((r) => r.id)), keyed ? JSON.stringify(part.map((r) => r.key)) : null, ends, Buffer.concat(part.map((r) => r.value)));
    i = j;
  }
  db.exec('DROP TABLE records');
}
