// The embedded content store: SQLite through better-sqlite3, WAL journal.
//
// Durability and throughput come from GROUP COMMIT (src/sqlite): every write (put, delete,
// purge chunk) is queued and runs in one transaction per turn of the event loop, each in its own
// savepoint; each promise resolves only after COMMIT returned. Reads run directly on prepared
// statements between batches (better-sqlite3 is synchronous, so a read never sees a
// half-applied batch).
import type { Database as Db, Statement } from 'better-sqlite3';
import { GroupCommit, migrate, openSqlite, type MigrationStep } from '../sqlite/index.ts';
import { CascadeError } from '../errors/index.ts';
import { StorageErrors } from './errors.ts';
import { BucketTable, StoredRow, conditionalOutcome, latestRetention, preparePut, readRev, validateKey, validateSpec, validateTid, type PreparedPut } from './common.ts';
import { COLS, LATEST_COLS, REV_COLS, bucketSizesSql, isHistoryRow, keyListArgs, keyPage, kvRecord, kvRevisionPage, revRecord, revisionListArgs, revisionPage, type ListRow, type RevRow, type Row } from './sql-rows.ts';
import type { BucketSize, BucketSpec, ContentStore, ListOptions, Page, PutRequest, PutResult, RevisionInfo, StoredEncoding, StoredRecord } from './types.ts';
import { tidOrderKey } from '../util/tid.ts';
import { HistoryWriter, historyRowId, type ChainRowSql, type CopySql, type LatestMetaSql } from './history-sql.ts';
import { BodyCache, decodeCached, type RowRef } from './history/index.ts';
import { systemClock, type Clock } from '../util/clock.ts';

export interface SqliteOptions {
  path: string;
  /** `normal` survives a process crash (SIGKILL); `full` also a power loss (fsync per batch). */
  synchronous?: 'full' | 'normal';
  /** Bytes of decoded history bodies (keyframes, latest bodies) kept in memory; default 32 MB. */
  historyCacheBytes?: number;
  /** Time for ttl and retention decisions (tests advance it). */
  clock?: Clock;
}

const MIGRATIONS: MigrationStep[] = [
  {
    version: 1,
    name: 'buckets, key_value and key_rev_value tables',
    // Small columns first and the body last: the conditional-put lookup reads tid and hash
    // without walking the body's overflow pages.
    sql: `
      CREATE TABLE buckets (
        id INTEGER PRIMARY KEY,
        domain TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        spec TEXT NOT NULL,
        UNIQUE (domain, name)
      );
      CREATE TABLE kv (
        bucket INTEGER NOT NULL,
        key TEXT NOT NULL,
        tid_order TEXT NOT NULL,
        tid TEXT NOT NULL,
        hash BLOB NOT NULL,
        expires_at INTEGER,
        written_at INTEGER NOT NULL,
        content_type TEXT,
        headers TEXT,
        encoding TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (bucket, key)
      );
      CREATE INDEX kv_expires ON kv (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE krv (
        bucket INTEGER NOT NULL,
        key TEXT NOT NULL,
        rev INTEGER NOT NULL,
        tid_order TEXT NOT NULL,
        tid TEXT NOT NULL,
        hash BLOB NOT NULL,
        expires_at INTEGER,
        written_at INTEGER NOT NULL,
        content_type TEXT,
        headers TEXT,
        encoding TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (bucket, key, rev, tid_order)
      );
      CREATE INDEX krv_expires ON krv (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'compression history: chain columns with a self-referencing foreign key, latest copy table',
    // SQLite cannot add a table constraint to an existing table: rebuild krv (the documented
    // 12-step way; migrate() turns foreign keys off around it). NO ACTION, not RESTRICT: checked at the
    // end of each statement, so deleting a whole key (or a whole dead subtree) in one statement
    // works while a kept row's base can never be deleted.
    sql: `
      CREATE TABLE krv_new (
        bucket INTEGER NOT NULL,
        key TEXT NOT NULL,
        rev INTEGER NOT NULL,
        tid_order TEXT NOT NULL,
        tid TEXT NOT NULL,
        hash BLOB NOT NULL,
        expires_at INTEGER,
        written_at INTEGER NOT NULL,
        content_type TEXT,
        headers TEXT,
        encoding TEXT NOT NULL,
        h_kind INTEGER,
        base_rev INTEGER,
        base_tid_order TEXT,
        h_depth INTEGER,
        h_run INTEGER,
        base_only INTEGER NOT NULL DEFAULT 0,
        body BLOB NOT NULL,
        PRIMARY KEY (bucket, key, rev, tid_order),
        FOREIGN KEY (bucket, key, base_rev, base_tid_order) REFERENCES krv (bucket, key, rev, tid_order)
      );
      INSERT INTO krv_new (bucket, key, rev, tid_order, tid, hash, expires_at, written_at, content_type, headers, encoding, body)
        SELECT bucket, key, rev, tid_order, tid, hash, expires_at, written_at, content_type, headers, encoding, body FROM krv;
      DROP TABLE krv;
      ALTER TABLE krv_new RENAME TO krv;
      CREATE INDEX krv_expires ON krv (expires_at) WHERE expires_at IS NOT NULL;
      CREATE INDEX krv_base ON krv (bucket, key, base_rev, base_tid_order) WHERE base_rev IS NOT NULL;
      CREATE TABLE krv_latest (
        bucket INTEGER NOT NULL,
        key TEXT NOT NULL,
        rev INTEGER NOT NULL,
        tid_order TEXT NOT NULL,
        tid TEXT NOT NULL,
        expires_at INTEGER,
        written_at INTEGER NOT NULL,
        content_type TEXT,
        headers TEXT,
        encoding TEXT NOT NULL,
        stored BLOB NOT NULL,
        PRIMARY KEY (bucket, key),
        FOREIGN KEY (bucket, key, rev, tid_order) REFERENCES krv (bucket, key, rev, tid_order) ON DELETE CASCADE
      );
    `,
  },
];

interface SqliteBucket {
  id: number;
  spec: BucketSpec;
}

const LIVE = '(expires_at IS NULL OR expires_at > @now)';
const PURGE_CHUNK = 1000;

export class SqliteStore implements ContentStore {
  readonly backend = 'sqlite';
  private buckets = new BucketTable<SqliteBucket>();
  private closing: Promise<void> | undefined;
  private s: ReturnType<typeof prepareStatements>;
  private readonly cache: BodyCache;
  private readonly writes: GroupCommit;

  private constructor(
    private readonly db: Db,
    cacheBytes: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.s = prepareStatements(db);
    this.cache = new BodyCache(cacheBytes);
    this.writes = new GroupCommit(db, {
      closedError: () => new CascadeError(StorageErrors.backendUnavailable, 'store is closed'),
      commitError: (e) => new CascadeError(StorageErrors.backendUnavailable, `SQLite store commit failed: ${(e as Error).message}`, { cause: e }),
      // A rolled-back history put may have cached bodies of rows that were never committed.
      onRollback: () => this.cache.clear(),
    });
  }

  static open(opts: SqliteOptions): SqliteStore {
    let db: Db | undefined;
    try {
      db = openSqlite(opts.path, {
        synchronous: opts.synchronous,
        // 16 KB pages: a 50 KB body spans 4 overflow pages instead of 13, which made large gets
        // ~1.6x cheaper. mmap serves checkpointed pages without a copy through the page cache.
        pageSize: 16384,
        mmap: 256 * 1024 * 1024,
        busyTimeout: 5000,
      });
      db.pragma('foreign_keys = ON');
      migrate(db, MIGRATIONS, { table: 'cascade_migrations' });
    } catch (e) {
      db?.close();
      throw new CascadeError(StorageErrors.backendUnavailable, `cannot open SQLite store ${opts.path}: ${(e as Error).message}`, { cause: e });
    }
    return new SqliteStore(db, opts.historyCacheBytes ?? 32 * 1024 * 1024, opts.clock);
  }

  bucket(domain: string, name: string): BucketSpec | undefined {
    return this.buckets.get(domain, name)?.spec;
  }

  async declareBucket(input: BucketSpec): Promise<void> {
    const spec = validateSpec({ ...input });
    const id = await this.enqueue(() => {
      const row = this.s.selBucket.get(spec.domain, spec.name) as { id: number; type: string } | undefined;
      if (row && row.type !== spec.type) {
        throw new CascadeError(StorageErrors.badBucketSpec, `bucket ${spec.domain}/${spec.name} exists with type ${row.type}, not ${spec.type}`);
      }
      if (row) {
        this.s.updBucket.run(JSON.stringify(spec), row.id);
        return row.id;
      }
      return Number(this.s.insBucket.run(spec.domain, spec.name, spec.type, JSON.stringify(spec)).lastInsertRowid);
    });
    this.buckets.set(spec.domain, spec.name, { id, spec });
  }

  async put(req: PutRequest): Promise<PutResult> {
    const b = this.buckets.require(req.domain, req.bucket);
    const p = await preparePut(b.spec, req, this.clock.now());
    if (b.spec.type === 'key_value') return this.enqueue(() => this.putKv(b, p));
    if (b.spec.compression === 'history') return this.enqueue(() => this.putHistory(b, p));
    return this.enqueue(() => this.putKrv(b, p));
  }

  // Runs inside the batch transaction: the read and the write below cannot interleave with
  // another writer, and the upsert's WHERE is the coherency rule itself (an older tid never
  // replaces a newer one).
  private putKv(b: SqliteBucket, p: PreparedPut): PutResult {
    const now = p.writtenAt;
    const cur = this.s.kvCur.get(b.id, p.key, now) as [string, string, Buffer] | undefined;
    if (cur) {
      const c = conditionalOutcome(cur[0], cur[2], p);
      if (c) return c;
    }
    const r = this.s.kvUpsert.run(b.id, p.key, p.tidOrder, p.tid, p.hash, p.expiresAt, now, p.contentType, p.headersJson, p.encoding, p.stored);
    if (r.changes === 0) {
      // A newer render is stored: this one lost the race.
      return { status: 'conflict', tid: cur ? cur[0] : p.tid };
    }
    return { status: 'created', tid: p.tid };
  }

  /** The outcome of the put's conditions against the current render of its rev, or null to write. */
  private krvConditions(b: SqliteBucket, p: PreparedPut): PutResult | null {
    const cur = this.s.krvCur.get(b.id, p.key, p.rev, p.writtenAt) as [string, string, Buffer] | undefined;
    const c = cur && conditionalOutcome(cur[0], cur[2], p);
    return c ? { ...c, rev: p.rev } : null;
  }

  private putKrv(b: SqliteBucket, p: PreparedPut): PutResult {
    const now = p.writtenAt;
    const c = this.krvConditions(b, p);
    if (c) return c;
    // Both renders of a race are kept; reads order by (rev, tid), so the newest tid wins.
    this.s.krvUpsert.run(b.id, p.key, p.rev, p.tidOrder, p.tid, p.hash, p.expiresAt, now, p.contentType, p.headersJson, p.encoding, p.stored);
    const keep = latestRetention(b.spec, now);
    if (keep) this.s.krvSupersede.run({ exp: keep.expiresAt, b: b.id, key: p.key, off: keep.keep - 1 });
    return { status: 'created', tid: p.tid, rev: p.rev };
  }

  // A history put plans, encodes and writes inside the serialized write transaction (the batch
  // of the group commit; BEGIN IMMEDIATE also serializes other processes), so the latest row it
  // plans on is still the latest when it inserts, and no purge can run in between.
  private putHistory(b: SqliteBucket, p: PreparedPut): PutResult {
    const now = p.writtenAt;
    const c = this.krvConditions(b, p);
    if (c) return c;
    const s = this.s;
    const w = new HistoryWriter(b.id, b.spec, this.cache);
    const latest = s.hLatestMeta.get(b.id, p.key, now) as LatestMetaSql | undefined;
    const same = s.hRow.get(b.id, p.key, p.rev, p.tidOrder) as ChainRowSql | undefined;
    if (same && same[2] !== null) {
      // A render written again under its own tid: re-encode it in place (see HistoryWriter.rewrite).
      const children = s.hChildren.all(b.id, p.key, p.rev, p.tidOrder) as ChainRowSql[];
      const plan = w.rewrite(p, same, children, latest, (r) => this.chainRows(b.id, p.key, r));
      s.hUpdate.run(...plan.row);
      for (const c of plan.children) s.hUpdatePayload.run(c.payload, b.id, p.key, c.rev, c.tidOrder);
      if (plan.copy) s.hCopyUpsert.run(...plan.copy);
      return { status: 'created', tid: p.tid, rev: p.rev };
    }
    // A row from before the bucket used history (no dependants possible): replaced.
    if (same) s.hDeleteRow.run(b.id, p.key, p.rev, p.tidOrder);
    const pend = w.start(p.key, latest);
    if (pend.need === 'copy') w.withCopy(pend, s.hCopy.get(b.id, p.key) as CopySql | undefined);
    if (pend.need === 'chain') w.withChain(p.key, pend, this.chainRows(b.id, p.key, pend.latest as RowRef));
    const enc = w.finish(p, pend);
    s.hInsert.run(...enc.row);
    if (enc.copy) s.hCopyUpsert.run(...enc.copy);
    const keep = latestRetention(b.spec, now);
    if (keep) s.krvSupersede.run({ exp: keep.expiresAt, b: b.id, key: p.key, off: keep.keep - 1 });
    return { status: 'created', tid: p.tid, rev: p.rev };
  }

  private chainRows(bucket: number, key: string, r: RowRef): ChainRowSql[] {
    return this.s.hChain.all({ b: bucket, key, rev: r.rev, t: r.tid }) as ChainRowSql[];
  }

  /** The body of a history row (`tidOrder` is its tid order key), rebuilt from its chain. */
  private historyBody(bucket: number, key: string, rev: number, tidOrder: string): Buffer {
    const rows = this.chainRows(bucket, key, { rev, tid: tidOrder });
    return decodeCached(HistoryWriter.chainRows(rows), { rev, tid: tidOrder }, this.cache, (r) => historyRowId(bucket, key, r));
  }

  /** A krv row as a record: history rows are rebuilt and returned decoded. */
  private krvRecord(bucket: number, key: string, r: RevRow): StoredRow {
    if (!isHistoryRow(r)) return revRecord(key, r);
    return revRecord(key, r, 'identity', this.historyBody(bucket, key, r[0], tidOrderKey(r[1])));
  }

  getLatest(domain: string, bucket: string, key: string): Promise<StoredRecord | undefined> {
    try {
      const b = this.buckets.require(domain, bucket);
      validateKey(key);
      const now = this.clock.now();
      if (b.spec.type === 'key_value') {
        const r = this.s.kvGet.get(b.id, key, now) as Row | undefined;
        return Promise.resolve(r && kvRecord(key, r));
      }
      if (b.spec.compression === 'history') {
        // The hot path: the latest copy, one row whose stored bytes can be served as they are.
        const c = this.s.hLatest.get(b.id, key, now) as RevRow | undefined;
        if (c) return Promise.resolve(revRecord(key, c));
      }
      const r = this.s.krvLatest.get(b.id, key, now) as RevRow | undefined;
      return Promise.resolve(r && this.krvRecord(b.id, key, r));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  getRev(domain: string, bucket: string, key: string, rev: number): Promise<StoredRecord | undefined> {
    try {
      const b = this.buckets.require(domain, bucket);
      validateKey(key);
      readRev(b.spec, rev);
      if (b.spec.type === 'key_value') return this.getLatest(domain, bucket, key);
      const r = this.s.krvRev.get(b.id, key, rev, this.clock.now()) as RevRow | undefined;
      return Promise.resolve(r && this.rowOrCopyRecord(b, key, r));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  getRevTid(domain: string, bucket: string, key: string, rev: number, tid: string): Promise<StoredRecord | undefined> {
    try {
      const b = this.buckets.require(domain, bucket);
      validateKey(key);
      readRev(b.spec, rev);
      const t = validateTid(tid);
      const now = this.clock.now();
      if (b.spec.type === 'key_value') {
        const r = this.s.kvGet.get(b.id, key, now) as Row | undefined;
        return Promise.resolve(r && r[0] === t ? kvRecord(key, r) : undefined);
      }
      const r = this.s.krvRevTid.get(b.id, key, rev, tidOrderKey(t), now) as RevRow | undefined;
      return Promise.resolve(r && this.rowOrCopyRecord(b, key, r));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A row read by rev (and tid): the latest copy when it is that row, else the row itself. */
  private rowOrCopyRecord(b: SqliteBucket, key: string, r: RevRow): StoredRow {
    if (isHistoryRow(r)) {
      const c = this.s.hCopyAt.get(b.id, key, r[0], tidOrderKey(r[1])) as [StoredEncoding, Buffer] | undefined;
      if (c) return revRecord(key, r, c[0], c[1]);
    }
    return this.krvRecord(b.id, key, r);
  }

  async listRevisions(domain: string, bucket: string, key: string, opts?: ListOptions): Promise<Page<RevisionInfo>> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    const { limit, after } = revisionListArgs(opts);
    const now = this.clock.now();
    if (b.spec.type === 'key_value') return kvRevisionPage(this.s.kvGet.get(b.id, key, now) as Row | undefined, after);
    const rows = (
      after
        ? this.s.krvListAfter.all({ b: b.id, key, now, rev: after.rev, t: after.tidOrder, n: limit + 1 })
        : this.s.krvList.all({ b: b.id, key, now, n: limit + 1 })
    ) as ListRow[];
    return revisionPage(rows, limit);
  }

  async listKeys(domain: string, bucket: string, opts?: ListOptions): Promise<Page<string>> {
    const b = this.buckets.require(domain, bucket);
    const { limit, after } = keyListArgs(opts);
    const stmt = b.spec.type === 'key_value' ? this.s.kvKeys : this.s.krvKeys;
    return keyPage(stmt.all(b.id, after, this.clock.now(), limit + 1).map((r) => (r as [string])[0]), limit);
  }

  async deleteKey(domain: string, bucket: string, key: string): Promise<boolean> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    const stmt = b.spec.type === 'key_value' ? this.s.kvDelete : this.s.krvDelete;
    return this.enqueue(() => stmt.run(b.id, key).changes > 0);
  }

  async bucketSizes(): Promise<BucketSize[]> {
    // A read outside the write queue: WAL readers do not block the writer.
    const rows = this.db.prepare(bucketSizesSql('', 'LENGTH')).raw().all() as [string, string, number, number][];
    return rows.map(([domain, bucket, n, bytes]) => ({ domain, bucket, rows: Number(n), bytes: Number(bytes) }));
  }

  async purgeExpired(now: number = this.clock.now()): Promise<number> {
    let total = 0;
    // Chunks go through the write queue one by one, so puts interleave with a long purge.
    for (const stmt of [this.s.kvPurge, this.s.krvPurge]) {
      for (;;) {
        const n = await this.enqueue(() => stmt.run(now, PURGE_CHUNK).changes);
        total += n;
        if (n < PURGE_CHUNK) break;
      }
    }
    // History rows, key by key: every expired row of the key that no kept row builds on (its
    // `needed` set, computed in the same transaction) is deleted in one statement; the expired
    // rows still needed are flagged base_only, so they are not picked again until the key has
    // new expired rows.
    for (;;) {
      const { removed, candidates } = await this.enqueue(() => {
        const cand = this.s.hPurgeCandidates.all(now, PURGE_CHUNK) as [number, string][];
        const keys = new Map<string, [number, string]>();
        for (const c of cand) keys.set(`${c[0]}\u0000${c[1]}`, c);
        let n = 0;
        for (const [bucket, key] of keys.values()) {
          n += this.s.hPurgeKey.run({ b: bucket, key, now }).changes;
          this.s.hHideKey.run({ b: bucket, key, now });
          this.s.hDropCopy.run({ b: bucket, key, now });
        }
        return { removed: n, candidates: cand.length };
      });
      total += removed;
      if (candidates < PURGE_CHUNK) break;
    }
    return total;
  }

  close(): Promise<void> {
    // Commits every write queued before, then closes the file.
    this.closing ??= this.writes.close().then(() => {
      this.db.close();
    });
    return this.closing;
  }

  private enqueue<T>(run: () => T): Promise<T> {
    return this.writes.run(run);
  }
}

function prepareStatements(db: Db) {
  const raw = (sql: string): Statement => db.prepare(sql).raw(true);
  const live = LIVE.replace('@now', '?');
  return {
    selBucket: db.prepare('SELECT id, type FROM buckets WHERE domain = ? AND name = ?'),
    insBucket: db.prepare('INSERT INTO buckets (domain, name, type, spec) VALUES (?, ?, ?, ?)'),
    updBucket: db.prepare('UPDATE buckets SET spec = ? WHERE id = ?'),

    kvCur: raw(`SELECT tid, tid_order, hash FROM kv WHERE bucket = ? AND key = ? AND ${live}`),
    // The WHERE of DO UPDATE is the coherency rule: replace only with a newer (or the same)
    // tid, or over an expired row.
    kvUpsert: db.prepare(`
      INSERT INTO kv (bucket, key, tid_order, tid, hash, expires_at, written_at, content_type, headers, encoding, body)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (bucket, key) DO UPDATE SET
        tid_order = excluded.tid_order, tid = excluded.tid, hash = excluded.hash, expires_at = excluded.expires_at,
        written_at = excluded.written_at, content_type = excluded.content_type, headers = excluded.headers,
        encoding = excluded.encoding, body = excluded.body
      WHERE excluded.tid_order >= kv.tid_order OR (kv.expires_at IS NOT NULL AND kv.expires_at <= excluded.written_at)`),
    kvGet: raw(`SELECT ${COLS} FROM kv WHERE bucket = ? AND key = ? AND ${live}`),
    kvKeys: raw(`SELECT key FROM kv WHERE bucket = ? AND key > ? AND ${live} ORDER BY key LIMIT ?`),
    kvDelete: db.prepare('DELETE FROM kv WHERE bucket = ? AND key = ?'),
    kvPurge: db.prepare('DELETE FROM kv WHERE rowid IN (SELECT rowid FROM kv WHERE expires_at <= ? LIMIT ?)'),

    krvCur: raw(`SELECT tid, tid_order, hash FROM krv WHERE bucket = ? AND key = ? AND rev = ? AND ${live} AND base_only = 0 ORDER BY tid_order DESC LIMIT 1`),
    krvUpsert: db.prepare(`
      INSERT INTO krv (bucket, key, rev, tid_order, tid, hash, expires_at, written_at, content_type, headers, encoding, body)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (bucket, key, rev, tid_order) DO UPDATE SET
        tid = excluded.tid, hash = excluded.hash, expires_at = excluded.expires_at, written_at = excluded.written_at,
        content_type = excluded.content_type, headers = excluded.headers, encoding = excluded.encoding, body = excluded.body`),
    // `latest` retention: renders older than the N newest start their grace period now.
    krvSupersede: db.prepare(`
      UPDATE krv SET expires_at = @exp WHERE bucket = @b AND key = @key AND expires_at IS NULL
        AND (rev, tid_order) < (SELECT rev, tid_order FROM krv WHERE bucket = @b AND key = @key ORDER BY rev DESC, tid_order DESC LIMIT 1 OFFSET @off)`),
    krvLatest: raw(`SELECT ${REV_COLS} FROM krv WHERE bucket = ? AND key = ? AND ${live} AND base_only = 0 ORDER BY rev DESC, tid_order DESC LIMIT 1`),
    krvRev: raw(`SELECT ${REV_COLS} FROM krv WHERE bucket = ? AND key = ? AND rev = ? AND ${live} AND base_only = 0 ORDER BY tid_order DESC LIMIT 1`),
    krvRevTid: raw(`SELECT ${REV_COLS} FROM krv WHERE bucket = ? AND key = ? AND rev = ? AND tid_order = ? AND ${live} AND base_only = 0`),
    krvList: raw(`SELECT rev, tid, tid_order, content_type FROM krv WHERE bucket = @b AND key = @key AND ${LIVE} AND base_only = 0 ORDER BY rev DESC, tid_order DESC LIMIT @n`),
    krvListAfter: raw(`
      SELECT rev, tid, tid_order, content_type FROM krv WHERE bucket = @b AND key = @key AND ${LIVE} AND base_only = 0
        AND (rev, tid_order) < (@rev, @t) ORDER BY rev DESC, tid_order DESC LIMIT @n`),
    krvKeys: raw(`SELECT DISTINCT key FROM krv WHERE bucket = ? AND key > ? AND ${live} AND base_only = 0 ORDER BY key LIMIT ?`),
    krvDelete: db.prepare('DELETE FROM krv WHERE bucket = ? AND key = ?'),
    // History rows (h_kind set) are purged key by key below, never by this chunked delete.
    krvPurge: db.prepare('DELETE FROM krv WHERE rowid IN (SELECT rowid FROM krv WHERE expires_at <= ? AND h_kind IS NULL LIMIT ?)'),

    // ----- compression: history (see history/README.md) -----
    hLatest: raw(`SELECT ${LATEST_COLS} FROM krv_latest WHERE bucket = ? AND key = ? AND ${live}`),
    hCopyAt: raw('SELECT encoding, stored FROM krv_latest WHERE bucket = ? AND key = ? AND rev = ? AND tid_order = ?'),
    hCopy: raw('SELECT rev, tid_order, encoding, stored FROM krv_latest WHERE bucket = ? AND key = ?'),
    hLatestMeta: raw(`
      SELECT rev, tid_order, h_kind, base_rev, base_tid_order, h_depth, h_run, hash FROM krv
       WHERE bucket = ? AND key = ? AND ${live} AND base_only = 0 ORDER BY rev DESC, tid_order DESC LIMIT 1`),
    hRow: raw(`SELECT rev, tid_order, h_kind, base_rev, base_tid_order, h_depth, h_run, hash, body, expires_at FROM krv WHERE bucket = ? AND key = ? AND rev = ? AND tid_order = ?`),
    hChildren: raw(`
      SELECT rev, tid_order, h_kind, base_rev, base_tid_order, h_depth, h_run, hash, body FROM krv
       WHERE bucket = ? AND key = ? AND base_rev = ? AND base_tid_order = ?`),
    hChain: raw(`
      WITH RECURSIVE c (rev, tid_order, h_kind, base_rev, base_tid_order, h_depth, h_run, hash, body) AS (
        SELECT rev, tid_order, h_kind, base_rev, base_tid_order, h_depth, h_run, hash, body FROM krv
         WHERE bucket = @b AND key = @key AND rev = @rev AND tid_order = @t
        UNION ALL
        SELECT k.rev, k.tid_order, k.h_kind, k.base_rev, k.base_tid_order, k.h_depth, k.h_run, k.hash, k.body
          -- CROSS JOIN fixes c as the outer loop: one primary-key lookup per step (a plain join
          -- let the planner scan every row of the key at each step: 3 ms for 9 steps).
          FROM c CROSS JOIN krv k ON k.bucket = @b AND k.key = @key AND k.rev = c.base_rev AND k.tid_order = c.base_tid_order
      ) SELECT * FROM c`),
    hInsert: db.prepare(`
      INSERT INTO krv (bucket, key, rev, tid_order, tid, hash, expires_at, written_at, content_type, headers, encoding,
                       h_kind, base_rev, base_tid_order, h_depth, h_run, body)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'history', ?, ?, ?, ?, ?, ?)`),
    hUpdate: db.prepare(`
      UPDATE krv SET tid = ?, hash = ?, expires_at = ?, written_at = ?, content_type = ?, headers = ?, body = ?
       WHERE bucket = ? AND key = ? AND rev = ? AND tid_order = ?`),
    hDeleteRow: db.prepare('DELETE FROM krv WHERE bucket = ? AND key = ? AND rev = ? AND tid_order = ?'),
    hUpdatePayload: db.prepare('UPDATE krv SET body = ? WHERE bucket = ? AND key = ? AND rev = ? AND tid_order = ?'),
    // The copy mirrors the newest row only: an older render never replaces it.
    hCopyUpsert: db.prepare(`
      INSERT INTO krv_latest (bucket, key, rev, tid_order, tid, expires_at, written_at, content_type, headers, encoding, stored)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (bucket, key) DO UPDATE SET
        rev = excluded.rev, tid_order = excluded.tid_order, tid = excluded.tid, expires_at = excluded.expires_at,
        written_at = excluded.written_at, content_type = excluded.content_type, headers = excluded.headers,
        encoding = excluded.encoding, stored = excluded.stored
      WHERE (excluded.rev, excluded.tid_order) >= (krv_latest.rev, krv_latest.tid_order)`),
    hPurgeCandidates: raw('SELECT bucket, key FROM krv WHERE expires_at <= ? AND h_kind IS NOT NULL AND base_only = 0 LIMIT ?'),
    hPurgeKey: db.prepare(`
      WITH RECURSIVE needed (rev, tid_order) AS (
        SELECT base_rev, base_tid_order FROM krv
         WHERE bucket = @b AND key = @key AND base_rev IS NOT NULL AND (expires_at IS NULL OR expires_at > @now)
        UNION
        SELECT k.base_rev, k.base_tid_order FROM needed n CROSS JOIN krv k ON k.bucket = @b AND k.key = @key AND k.rev = n.rev AND k.tid_order = n.tid_order
         WHERE k.base_rev IS NOT NULL
      )
      DELETE FROM krv WHERE bucket = @b AND key = @key AND expires_at <= @now AND (rev, tid_order) NOT IN (SELECT rev, tid_order FROM needed)`),
    hHideKey: db.prepare('UPDATE krv SET base_only = 1 WHERE bucket = @b AND key = @key AND expires_at <= @now AND base_only = 0'),
    hDropCopy: db.prepare('DELETE FROM krv_latest WHERE bucket = @b AND key = @key AND expires_at <= @now'),
  };
}
