// The embedded content store: SQLite through better-sqlite3, WAL journal.
//
// Durability and throughput come from GROUP COMMIT: every write (put, delete, purge chunk) is
// queued; one setImmediate later the whole queue runs in a single transaction and each
// promise resolves only after COMMIT returned. SQLite's commit cost (a WAL write, plus an
// fsync with synchronous=full) is paid once per batch instead of once per put. Reads run
// directly on prepared statements between batches (better-sqlite3 is synchronous, so a read
// never sees a half-applied batch).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import { CascadeError } from '../errors/index.ts';
import { tidTime } from '../util/tid.ts';
import { StorageErrors } from './errors.ts';
import {
  BucketTable,
  StoredRow,
  keyToken,
  latestRetention,
  pageArgs,
  parseKeyToken,
  parseRevToken,
  preparePut,
  readRev,
  revToken,
  validateKey,
  validateSpec,
  validateTid,
  type PreparedPut,
} from './common.ts';
import type { BucketSpec, ContentStore, ListOptions, Page, PutRequest, PutResult, RevisionInfo, StoredEncoding, StoredRecord } from './types.ts';
import { tidOrderKey } from '../util/tid.ts';

export interface SqliteOptions {
  path: string;
  /** `normal` survives a process crash (SIGKILL); `full` also a power loss (fsync per batch). */
  synchronous?: 'full' | 'normal';
}

const MIGRATIONS: { version: number; name: string; sql: string }[] = [
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
];

interface SqliteBucket {
  id: number;
  spec: BucketSpec;
}

type Row = [tid: string, contentType: string | null, headers: string | null, encoding: StoredEncoding, body: Buffer, writtenAt: number];
type RevRow = [rev: number, tid: string, contentType: string | null, headers: string | null, encoding: StoredEncoding, body: Buffer, writtenAt: number];

interface Op {
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const LIVE = '(expires_at IS NULL OR expires_at > @now)';
const PURGE_CHUNK = 1000;

export class SqliteStore implements ContentStore {
  readonly backend = 'sqlite';
  private buckets = new BucketTable<SqliteBucket>();
  private queue: Op[] = [];
  private scheduled = false;
  private closed = false;
  private s: ReturnType<typeof prepareStatements>;

  private constructor(private readonly db: Db) {
    this.s = prepareStatements(db);
  }

  static open(opts: SqliteOptions): SqliteStore {
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    const db = new Database(opts.path);
    try {
      // 16 KB pages (effective for new files only): a 50 KB body spans 4 overflow pages
      // instead of 13, which made large gets ~1.6x cheaper. mmap serves checkpointed pages
      // without a copy through SQLite's page cache.
      db.pragma('page_size = 16384');
      db.pragma('journal_mode = WAL');
      db.pragma('mmap_size = 268435456');
      db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      db.pragma('busy_timeout = 5000');
      migrate(db);
    } catch (e) {
      db.close();
      throw new CascadeError(StorageErrors.backendUnavailable, `cannot open SQLite store ${opts.path}: ${(e as Error).message}`, { cause: e });
    }
    return new SqliteStore(db);
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
    const p = await preparePut(b.spec, req);
    return this.enqueue(() => (b.spec.type === 'key_value' ? this.putKv(b, p) : this.putKrv(b, p)));
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

  private putKrv(b: SqliteBucket, p: PreparedPut): PutResult {
    const now = p.writtenAt;
    const cur = this.s.krvCur.get(b.id, p.key, p.rev, now) as [string, string, Buffer] | undefined;
    if (cur) {
      const c = conditionalOutcome(cur[0], cur[2], p);
      if (c) return { ...c, rev: p.rev };
    }
    // Both renders of a race are kept; reads order by (rev, tid), so the newest tid wins.
    this.s.krvUpsert.run(b.id, p.key, p.rev, p.tidOrder, p.tid, p.hash, p.expiresAt, now, p.contentType, p.headersJson, p.encoding, p.stored);
    const keep = latestRetention(b.spec, now);
    if (keep) this.s.krvSupersede.run({ exp: keep.expiresAt, b: b.id, key: p.key, off: keep.keep - 1 });
    return { status: 'created', tid: p.tid, rev: p.rev };
  }

  getLatest(domain: string, bucket: string, key: string): Promise<StoredRecord | undefined> {
    try {
      const b = this.buckets.require(domain, bucket);
      validateKey(key);
      const now = Date.now();
      if (b.spec.type === 'key_value') {
        const r = this.s.kvGet.get(b.id, key, now) as Row | undefined;
        return Promise.resolve(r && new StoredRow(key, undefined, r[0], r[1], r[2], r[3], r[4], r[5]));
      }
      const r = this.s.krvLatest.get(b.id, key, now) as RevRow | undefined;
      return Promise.resolve(r && new StoredRow(key, r[0], r[1], r[2], r[3], r[4], r[5], r[6]));
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
      const r = this.s.krvRev.get(b.id, key, rev, Date.now()) as RevRow | undefined;
      return Promise.resolve(r && new StoredRow(key, r[0], r[1], r[2], r[3], r[4], r[5], r[6]));
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
      const now = Date.now();
      if (b.spec.type === 'key_value') {
        const r = this.s.kvGet.get(b.id, key, now) as Row | undefined;
        return Promise.resolve(r && r[0] === t ? new StoredRow(key, undefined, r[0], r[1], r[2], r[3], r[4], r[5]) : undefined);
      }
      const r = this.s.krvRevTid.get(b.id, key, rev, tidOrderKey(t), now) as RevRow | undefined;
      return Promise.resolve(r && new StoredRow(key, r[0], r[1], r[2], r[3], r[4], r[5], r[6]));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async listRevisions(domain: string, bucket: string, key: string, opts?: ListOptions): Promise<Page<RevisionInfo>> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    const { limit, token } = pageArgs(opts);
    const now = Date.now();
    if (b.spec.type === 'key_value') {
      if (token) parseRevToken(token);
      const r = this.s.kvGet.get(b.id, key, now) as Row | undefined;
      return { items: r && !token ? [{ rev: 0, tid: r[0], contentType: r[1] }] : [] };
    }
    const rows = (
      token
        ? (() => {
            const c = parseRevToken(token);
            return this.s.krvListAfter.all({ b: b.id, key, now, rev: c.rev, t: c.tidOrder, n: limit + 1 });
          })()
        : this.s.krvList.all({ b: b.id, key, now, n: limit + 1 })
    ) as [number, string, string, string | null][];
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const items = rows.map((r) => ({ rev: r[0], tid: r[1], contentType: r[3] }));
    const last = rows[rows.length - 1];
    return more ? { items, next: revToken({ rev: last[0], tidOrder: last[2] }) } : { items };
  }

  async listKeys(domain: string, bucket: string, opts?: ListOptions): Promise<Page<string>> {
    const b = this.buckets.require(domain, bucket);
    const { limit, token } = pageArgs(opts);
    const after = token ? parseKeyToken(token) : '';
    const stmt = b.spec.type === 'key_value' ? this.s.kvKeys : this.s.krvKeys;
    const keys = stmt.all(b.id, after, Date.now(), limit + 1).map((r) => (r as [string])[0]);
    const more = keys.length > limit;
    if (more) keys.length = limit;
    return more ? { items: keys, next: keyToken(keys[keys.length - 1]) } : { items: keys };
  }

  async deleteKey(domain: string, bucket: string, key: string): Promise<boolean> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    const stmt = b.spec.type === 'key_value' ? this.s.kvDelete : this.s.krvDelete;
    return this.enqueue(() => stmt.run(b.id, key).changes > 0);
  }

  async purgeExpired(now: number = Date.now()): Promise<number> {
    let total = 0;
    // Chunks go through the write queue one by one, so puts interleave with a long purge.
    for (const stmt of [this.s.kvPurge, this.s.krvPurge]) {
      for (;;) {
        const n = await this.enqueue(() => stmt.run(now, PURGE_CHUNK).changes);
        total += n;
        if (n < PURGE_CHUNK) break;
      }
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.enqueue(() => undefined); // drains every write queued before
    this.closed = true;
    this.db.close();
  }

  // -------------------------------------------------------------------------------------------
  // Group commit

  private enqueue<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new CascadeError(StorageErrors.backendUnavailable, 'store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private flush = (): void => {
    this.scheduled = false;
    const ops = this.queue;
    this.queue = [];
    const results: unknown[] = new Array(ops.length);
    try {
      this.s.begin.run();
      for (let i = 0; i < ops.length; i++) results[i] = ops[i].run();
      this.s.commit.run();
    } catch {
      if (this.db.inTransaction) this.s.rollback.run();
      // One op failed (or the commit did): run each alone so only the failing ones reject.
      for (const op of ops) {
        try {
          this.s.begin.run();
          const r = op.run();
          this.s.commit.run();
          op.resolve(r);
        } catch (e) {
          if (this.db.inTransaction) this.s.rollback.run();
          op.reject(e);
        }
      }
      return;
    }
    for (let i = 0; i < ops.length; i++) ops[i].resolve(results[i]);
  };
}

/** Outcome of the conditions of a put against the stored current render, or null to write. */
function conditionalOutcome(curTid: string, curHash: Buffer, p: PreparedPut): PutResult | null {
  if (p.ifNotExists) return { status: 'conflict', tid: curTid };
  if (p.ifUnmodifiedSince !== null && tidTime(curTid) > p.ifUnmodifiedSince) return { status: 'conflict', tid: curTid };
  if (p.skipUnchanged && curHash.equals(p.hash)) return { status: 'unchanged', tid: curTid };
  return null;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS cascade_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM cascade_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO cascade_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }).immediate();
  }
}

const COLS = 'tid, content_type, headers, encoding, body, written_at';
const REV_COLS = 'rev, tid, content_type, headers, encoding, body, written_at';

function prepareStatements(db: Db) {
  const raw = (sql: string): Statement => db.prepare(sql).raw(true);
  const live = LIVE.replace('@now', '?');
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
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

    krvCur: raw(`SELECT tid, tid_order, hash FROM krv WHERE bucket = ? AND key = ? AND rev = ? AND ${live} ORDER BY tid_order DESC LIMIT 1`),
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
    krvLatest: raw(`SELECT ${REV_COLS} FROM krv WHERE bucket = ? AND key = ? AND ${live} ORDER BY rev DESC, tid_order DESC LIMIT 1`),
    krvRev: raw(`SELECT ${REV_COLS} FROM krv WHERE bucket = ? AND key = ? AND rev = ? AND ${live} ORDER BY tid_order DESC LIMIT 1`),
    krvRevTid: raw(`SELECT ${REV_COLS} FROM krv WHERE bucket = ? AND key = ? AND rev = ? AND tid_order = ? AND ${live}`),
    krvList: raw(`SELECT rev, tid, tid_order, content_type FROM krv WHERE bucket = @b AND key = @key AND ${LIVE} ORDER BY rev DESC, tid_order DESC LIMIT @n`),
    krvListAfter: raw(`
      SELECT rev, tid, tid_order, content_type FROM krv WHERE bucket = @b AND key = @key AND ${LIVE}
        AND (rev, tid_order) < (@rev, @t) ORDER BY rev DESC, tid_order DESC LIMIT @n`),
    krvKeys: raw(`SELECT DISTINCT key FROM krv WHERE bucket = ? AND key > ? AND ${live} ORDER BY key LIMIT ?`),
    krvDelete: db.prepare('DELETE FROM krv WHERE bucket = ? AND key = ?'),
    krvPurge: db.prepare('DELETE FROM krv WHERE rowid IN (SELECT rowid FROM krv WHERE expires_at <= ? LIMIT ?)'),
  };
}
