// The scale-out content store: PostgreSQL through a `pg` Pool. Tables live in one schema
// (config `storage.postgres.schema`), created and migrated at start under an advisory lock,
// with applied steps recorded in `cascade_migrations`.
//
// Coherency is enforced inside single SQL statements, never read-then-write across round
// trips: key_value puts are an upsert whose DO UPDATE ... WHERE refuses an older tid (the
// conflicting row is locked and re-checked by PostgreSQL), key_rev_value puts insert a new
// render keyed by (rev, tid) and reads order by (rev, tid). Conditional puts that must be
// exact under concurrency (ifNotExists, ifUnmodifiedSince) take a per-key advisory lock.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { CascadeError } from '../errors/index.ts';
import { tidOrderKey, tidTime } from '../util/tid.ts';
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

export interface PostgresOptions {
  url: string;
  schema: string;
  poolSize?: number;
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]*$/;

// bigint columns (rev, times) come back as JS numbers; every value we store is a safe integer.
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

function migrations(s: string): { version: number; name: string; sql: string }[] {
  return [
    {
      version: 1,
      name: 'buckets, key_value and key_rev_value tables',
      // COLLATE "C": keys and tid order keys sort by bytes, as in SQLite. Bodies are already
      // compressed, so TOAST is told not to try again (STORAGE EXTERNAL).
      sql: `
        CREATE TABLE ${s}.buckets (
          id serial PRIMARY KEY,
          domain text NOT NULL,
          name text NOT NULL,
          type text NOT NULL,
          spec jsonb NOT NULL,
          UNIQUE (domain, name)
        );
        CREATE TABLE ${s}.kv (
          bucket integer NOT NULL,
          key text COLLATE "C" NOT NULL,
          tid_order text COLLATE "C" NOT NULL,
          tid text NOT NULL,
          hash bytea NOT NULL,
          expires_at bigint,
          written_at bigint NOT NULL,
          content_type text,
          headers text,
          encoding text NOT NULL,
          body bytea NOT NULL,
          PRIMARY KEY (bucket, key)
        );
        ALTER TABLE ${s}.kv ALTER COLUMN body SET STORAGE EXTERNAL;
        CREATE INDEX kv_expires ON ${s}.kv (expires_at) WHERE expires_at IS NOT NULL;
        CREATE TABLE ${s}.krv (
          bucket integer NOT NULL,
          key text COLLATE "C" NOT NULL,
          rev bigint NOT NULL,
          tid_order text COLLATE "C" NOT NULL,
          tid text NOT NULL,
          hash bytea NOT NULL,
          expires_at bigint,
          written_at bigint NOT NULL,
          content_type text,
          headers text,
          encoding text NOT NULL,
          body bytea NOT NULL,
          PRIMARY KEY (bucket, key, rev, tid_order)
        );
        ALTER TABLE ${s}.krv ALTER COLUMN body SET STORAGE EXTERNAL;
        CREATE INDEX krv_expires ON ${s}.krv (expires_at) WHERE expires_at IS NOT NULL;
      `,
    },
  ];
}

interface PgBucket {
  id: number;
  spec: BucketSpec;
}

type Row = [tid: string, contentType: string | null, headers: string | null, encoding: StoredEncoding, body: Buffer, writtenAt: number];
type RevRow = [rev: number, tid: string, contentType: string | null, headers: string | null, encoding: StoredEncoding, body: Buffer, writtenAt: number];

const LIVE = (n: number) => `(expires_at IS NULL OR expires_at > $${n})`;
const GREGORIAN_OFFSET = 122192928000000000n;

/** The tid order key prefix from which a tid's time is after `ms` (for ifUnmodifiedSince in SQL). */
function ticksAfter(ms: number): string {
  return (BigInt(Math.floor(ms) + 1) * 10000n + GREGORIAN_OFFSET).toString(16).padStart(15, '0');
}

export class PostgresStore implements ContentStore {
  readonly backend = 'postgres';
  private buckets = new BucketTable<PgBucket>();
  private q: ReturnType<typeof statements>;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
  ) {
    this.q = statements(`"${schema}"`, createHash('sha1').update(schema).digest('hex').slice(0, 10));
  }

  static async open(opts: PostgresOptions): Promise<PostgresStore> {
    if (!SCHEMA_RE.test(opts.schema)) throw new CascadeError(StorageErrors.badBucketSpec, `invalid PostgreSQL schema name ${JSON.stringify(opts.schema)}`);
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, types: TYPES });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    try {
      await migrate(pool, opts.schema);
    } catch (e) {
      await pool.end();
      throw new CascadeError(StorageErrors.backendUnavailable, `cannot open PostgreSQL store (schema ${opts.schema}): ${(e as Error).message}`, { cause: e });
    }
    return new PostgresStore(pool, opts.schema);
  }

  bucket(domain: string, name: string): BucketSpec | undefined {
    return this.buckets.get(domain, name)?.spec;
  }

  async declareBucket(input: BucketSpec): Promise<void> {
    const spec = validateSpec({ ...input });
    const r = await this.pool.query<{ id: number; type: string }>(this.q.declareBucket, [spec.domain, spec.name, spec.type, JSON.stringify(spec)]);
    if (r.rows.length === 0) {
      const cur = await this.pool.query<{ type: string }>(this.q.bucketType, [spec.domain, spec.name]);
      throw new CascadeError(StorageErrors.badBucketSpec, `bucket ${spec.domain}/${spec.name} exists with type ${cur.rows[0]?.type}, not ${spec.type}`);
    }
    this.buckets.set(spec.domain, spec.name, { id: r.rows[0].id, spec });
  }

  private async exec(text: { name: string; text: string }, values: unknown[], client: pg.Pool | pg.PoolClient = this.pool): Promise<unknown[][]> {
    try {
      const r = await client.query({ name: text.name, text: text.text, values, rowMode: 'array' });
      return r.rows as unknown[][];
    } catch (e) {
      if (e instanceof CascadeError) throw e;
      const code = (e as { code?: string }).code;
      // Connection-level failures (no SQLSTATE, or class 08 / 57P) mean the backend is away.
      if (!code || code.startsWith('08') || code.startsWith('57P')) {
        throw new CascadeError(StorageErrors.backendUnavailable, `PostgreSQL: ${(e as Error).message}`, { cause: e });
      }
      throw e;
    }
  }

  async put(req: PutRequest): Promise<PutResult> {
    const b = this.buckets.require(req.domain, req.bucket);
    const p = await preparePut(b.spec, req);
    const ius = p.ifUnmodifiedSince === null ? null : ticksAfter(p.ifUnmodifiedSince);
    if (b.spec.type === 'key_value') return this.putKv(b, p, ius);
    if (!p.ifNotExists && ius === null) return this.putKrv(b, p, ius, this.pool);
    // Exact conditions under concurrency: serialize puts of this key for one transaction.
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await this.exec(this.q.lockKey, [b.id, p.key], client);
      const r = await this.putKrv(b, p, ius, client);
      await client.query('COMMIT');
      return r;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  private async putKv(b: PgBucket, p: PreparedPut, ius: string | null): Promise<PutResult> {
    const rows = await this.exec(this.q.kvUpsert, [
      b.id, p.key, p.tidOrder, p.tid, p.hash, p.expiresAt, p.writtenAt, p.contentType, p.headersJson, p.encoding, p.stored,
      p.ifNotExists, ius, p.skipUnchanged,
    ]);
    if (rows.length > 0) return { status: 'created', tid: p.tid };
    // Not written: tell why from the stored row (only the status report reads after the write).
    const cur = await this.exec(this.q.kvCur, [b.id, p.key, p.writtenAt]);
    if (cur.length === 0) return { status: 'conflict', tid: p.tid };
    const [tid, hash] = cur[0] as [string, Buffer];
    return { status: outcome(tid, hash, p), tid };
  }

  private async putKrv(b: PgBucket, p: PreparedPut, ius: string | null, client: pg.Pool | pg.PoolClient): Promise<PutResult> {
    const rows = await this.exec(
      this.q.krvInsert,
      [b.id, p.key, p.rev, p.tidOrder, p.tid, p.hash, p.expiresAt, p.writtenAt, p.contentType, p.headersJson, p.encoding, p.stored, p.ifNotExists, ius, p.skipUnchanged],
      client,
    );
    const [curTid, curHash, inserted] = rows[0] as [string | null, Buffer | null, boolean];
    if (!inserted && curTid !== null && curHash !== null) return { status: outcome(curTid, curHash, p), tid: curTid, rev: p.rev };
    const keep = latestRetention(b.spec, p.writtenAt);
    if (keep) await this.exec(this.q.krvSupersede, [keep.expiresAt, b.id, p.key, keep.keep - 1], client);
    return { status: 'created', tid: p.tid, rev: p.rev };
  }

  async getLatest(domain: string, bucket: string, key: string): Promise<StoredRecord | undefined> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    if (b.spec.type === 'key_value') {
      const r = (await this.exec(this.q.kvGet, [b.id, key, Date.now()]))[0] as Row | undefined;
      return r && new StoredRow(key, undefined, r[0], r[1], r[2], r[3], r[4], r[5]);
    }
    const r = (await this.exec(this.q.krvLatest, [b.id, key, Date.now()]))[0] as RevRow | undefined;
    return r && new StoredRow(key, r[0], r[1], r[2], r[3], r[4], r[5], r[6]);
  }

  async getRev(domain: string, bucket: string, key: string, rev: number): Promise<StoredRecord | undefined> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    readRev(b.spec, rev);
    if (b.spec.type === 'key_value') return this.getLatest(domain, bucket, key);
    const r = (await this.exec(this.q.krvRev, [b.id, key, rev, Date.now()]))[0] as RevRow | undefined;
    return r && new StoredRow(key, r[0], r[1], r[2], r[3], r[4], r[5], r[6]);
  }

  async getRevTid(domain: string, bucket: string, key: string, rev: number, tid: string): Promise<StoredRecord | undefined> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    readRev(b.spec, rev);
    const t = validateTid(tid);
    if (b.spec.type === 'key_value') {
      const r = (await this.exec(this.q.kvGet, [b.id, key, Date.now()]))[0] as Row | undefined;
      return r && r[0] === t ? new StoredRow(key, undefined, r[0], r[1], r[2], r[3], r[4], r[5]) : undefined;
    }
    const r = (await this.exec(this.q.krvRevTid, [b.id, key, rev, tidOrderKey(t), Date.now()]))[0] as RevRow | undefined;
    return r && new StoredRow(key, r[0], r[1], r[2], r[3], r[4], r[5], r[6]);
  }

  async listRevisions(domain: string, bucket: string, key: string, opts?: ListOptions): Promise<Page<RevisionInfo>> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    const { limit, token } = pageArgs(opts);
    const now = Date.now();
    if (b.spec.type === 'key_value') {
      if (token) parseRevToken(token);
      const r = (await this.exec(this.q.kvGet, [b.id, key, now]))[0] as Row | undefined;
      return { items: r && !token ? [{ rev: 0, tid: r[0], contentType: r[1] }] : [] };
    }
    const c = token ? parseRevToken(token) : null;
    const rows = (
      c ? await this.exec(this.q.krvListAfter, [b.id, key, now, limit + 1, c.rev, c.tidOrder]) : await this.exec(this.q.krvList, [b.id, key, now, limit + 1])
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
    const rows = await this.exec(b.spec.type === 'key_value' ? this.q.kvKeys : this.q.krvKeys, [b.id, after, Date.now(), limit + 1]);
    const keys = rows.map((r) => r[0] as string);
    const more = keys.length > limit;
    if (more) keys.length = limit;
    return more ? { items: keys, next: keyToken(keys[keys.length - 1]) } : { items: keys };
  }

  async deleteKey(domain: string, bucket: string, key: string): Promise<boolean> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    const rows = await this.exec(b.spec.type === 'key_value' ? this.q.kvDelete : this.q.krvDelete, [b.id, key]);
    return (rows[0][0] as number) > 0;
  }

  async purgeExpired(now: number = Date.now()): Promise<number> {
    let total = 0;
    for (const q of [this.q.kvPurge, this.q.krvPurge]) {
      // Chunks keep each DELETE short, so it never holds many row locks for long.
      for (;;) {
        const n = (await this.exec(q, [now, 1000]))[0][0] as number;
        total += n;
        if (n < 1000) break;
      }
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

function outcome(curTid: string, curHash: Buffer, p: PreparedPut): 'conflict' | 'unchanged' {
  if (p.ifNotExists) return 'conflict';
  if (p.ifUnmodifiedSince !== null && tidTime(curTid) > p.ifUnmodifiedSince) return 'conflict';
  if (p.skipUnchanged && curHash.equals(p.hash)) return 'unchanged';
  return 'conflict'; // a newer tid is stored (key_value)
}

async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const s = `"${schema}"`;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Several processes may start at once: one migrates, the others wait and find it done.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cascade_migrations:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.cascade_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const applied = new Set((await client.query<{ version: number }>(`SELECT version FROM ${s}.cascade_migrations`)).rows.map((r) => r.version));
    for (const m of migrations(s)) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query(`INSERT INTO ${s}.cascade_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

function statements(s: string, tag: string) {
  const q = (name: string, text: string) => ({ name: `cascade_${tag}_${name}`, text });
  const COLS = 'tid, content_type, headers, encoding, body, written_at';
  const REV_COLS = 'rev, tid, content_type, headers, encoding, body, written_at';
  return {
    declareBucket: `
      INSERT INTO ${s}.buckets (domain, name, type, spec) VALUES ($1, $2, $3, $4)
      ON CONFLICT (domain, name) DO UPDATE SET spec = EXCLUDED.spec WHERE buckets.type = EXCLUDED.type
      RETURNING id, type`,
    bucketType: `SELECT type FROM ${s}.buckets WHERE domain = $1 AND name = $2`,
    lockKey: q('lock', 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))'),

    // One statement: the conflicting row is locked and the WHERE re-checked against its
    // latest committed version, so an older tid can never replace a newer one.
    kvUpsert: q(
      'kv_upsert',
      `INSERT INTO ${s}.kv AS t (bucket, key, tid_order, tid, hash, expires_at, written_at, content_type, headers, encoding, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (bucket, key) DO UPDATE SET
         tid_order = EXCLUDED.tid_order, tid = EXCLUDED.tid, hash = EXCLUDED.hash, expires_at = EXCLUDED.expires_at,
         written_at = EXCLUDED.written_at, content_type = EXCLUDED.content_type, headers = EXCLUDED.headers,
         encoding = EXCLUDED.encoding, body = EXCLUDED.body
       WHERE (t.expires_at IS NOT NULL AND t.expires_at <= EXCLUDED.written_at)
          OR (NOT $12::boolean
              AND ($13::text IS NULL OR substr(t.tid_order, 1, 15) < $13::text)
              AND NOT ($14::boolean AND t.hash = EXCLUDED.hash)
              AND EXCLUDED.tid_order >= t.tid_order)
       RETURNING 1`,
    ),
    kvCur: q('kv_cur', `SELECT tid, hash FROM ${s}.kv WHERE bucket = $1 AND key = $2 AND ${LIVE(3)}`),
    kvGet: q('kv_get', `SELECT ${COLS} FROM ${s}.kv WHERE bucket = $1 AND key = $2 AND ${LIVE(3)}`),
    kvKeys: q('kv_keys', `SELECT key FROM ${s}.kv WHERE bucket = $1 AND key > $2 AND ${LIVE(3)} ORDER BY key LIMIT $4`),
    kvDelete: q('kv_del', `WITH d AS (DELETE FROM ${s}.kv WHERE bucket = $1 AND key = $2 RETURNING 1) SELECT count(*)::int FROM d`),
    kvPurge: q(
      'kv_purge',
      `WITH d AS (DELETE FROM ${s}.kv WHERE ctid IN (SELECT ctid FROM ${s}.kv WHERE expires_at <= $1 LIMIT $2) RETURNING 1) SELECT count(*)::int FROM d`,
    ),

    // The current render of this rev is read and the new one inserted in one statement; the
    // insert is skipped when a condition fails. Racing renders are all kept; reads pick the
    // newest (rev, tid).
    krvInsert: q(
      'krv_insert',
      `WITH cur AS (
         SELECT tid, tid_order, hash FROM ${s}.krv
          WHERE bucket = $1 AND key = $2 AND rev = $3 AND (expires_at IS NULL OR expires_at > $8)
          ORDER BY tid_order DESC LIMIT 1),
       ins AS (
         INSERT INTO ${s}.krv (bucket, key, rev, tid_order, tid, hash, expires_at, written_at, content_type, headers, encoding, body)
         SELECT $1::int, $2::text, $3::bigint, $4::text, $5::text, $6::bytea, $7::bigint, $8::bigint, $9::text, $10::text, $11::text, $12::bytea
          WHERE NOT EXISTS (SELECT 1 FROM cur WHERE $13::boolean
                              OR ($14::text IS NOT NULL AND substr(cur.tid_order, 1, 15) >= $14::text)
                              OR ($15::boolean AND cur.hash = $6::bytea))
         ON CONFLICT (bucket, key, rev, tid_order) DO UPDATE SET
           tid = EXCLUDED.tid, hash = EXCLUDED.hash, expires_at = EXCLUDED.expires_at, written_at = EXCLUDED.written_at,
           content_type = EXCLUDED.content_type, headers = EXCLUDED.headers, encoding = EXCLUDED.encoding, body = EXCLUDED.body
         RETURNING 1)
       SELECT (SELECT tid FROM cur), (SELECT hash FROM cur), EXISTS (SELECT 1 FROM ins)`,
    ),
    krvSupersede: q(
      'krv_supersede',
      `UPDATE ${s}.krv SET expires_at = $1 WHERE bucket = $2 AND key = $3 AND expires_at IS NULL
         AND (rev, tid_order) < (SELECT rev, tid_order FROM ${s}.krv WHERE bucket = $2 AND key = $3
                                  ORDER BY rev DESC, tid_order DESC OFFSET $4 LIMIT 1)`,
    ),
    krvLatest: q('krv_latest', `SELECT ${REV_COLS} FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND ${LIVE(3)} ORDER BY rev DESC, tid_order DESC LIMIT 1`),
    krvRev: q('krv_rev', `SELECT ${REV_COLS} FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND rev = $3 AND ${LIVE(4)} ORDER BY tid_order DESC LIMIT 1`),
    krvRevTid: q('krv_revtid', `SELECT ${REV_COLS} FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND rev = $3 AND tid_order = $4 AND ${LIVE(5)}`),
    krvList: q(
      'krv_list',
      `SELECT rev, tid, tid_order, content_type FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND ${LIVE(3)} ORDER BY rev DESC, tid_order DESC LIMIT $4`,
    ),
    krvListAfter: q(
      'krv_list_after',
      `SELECT rev, tid, tid_order, content_type FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND ${LIVE(3)}
         AND (rev, tid_order) < ($5::bigint, $6::text) ORDER BY rev DESC, tid_order DESC LIMIT $4`,
    ),
    krvKeys: q('krv_keys', `SELECT DISTINCT key FROM ${s}.krv WHERE bucket = $1 AND key > $2 AND ${LIVE(3)} ORDER BY key LIMIT $4`),
    krvDelete: q('krv_del', `WITH d AS (DELETE FROM ${s}.krv WHERE bucket = $1 AND key = $2 RETURNING 1) SELECT count(*)::int FROM d`),
    krvPurge: q(
      'krv_purge',
      `WITH d AS (DELETE FROM ${s}.krv WHERE ctid IN (SELECT ctid FROM ${s}.krv WHERE expires_at <= $1 LIMIT $2) RETURNING 1) SELECT count(*)::int FROM d`,
    ),
  };
}
