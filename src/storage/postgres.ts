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
import { tidOrderKey } from '../util/tid.ts';
import { StorageErrors } from './errors.ts';
import { BucketTable, conditionalOutcome, latestRetention, preparePut, readRev, validateKey, validateSpec, validateTid, type PreparedPut, type StoredRow } from './common.ts';
import { COLS, LATEST_COLS, REV_COLS, bucketSizesSql, isHistoryRow, keyListArgs, keyPage, kvRecord, kvRevisionPage, revRecord, revisionListArgs, revisionPage, type ListRow, type RevRow, type Row } from './sql-rows.ts';
import type { BucketSize, BucketSpec, ContentStore, ListOptions, Page, PutRequest, PutResult, RevisionInfo, StoredEncoding, StoredRecord } from './types.ts';
import { HistoryWriter, historyRowId, type ChainRowSql, type CopySql, type LatestMetaSql } from './history-sql.ts';
import { BodyCache, decodeCached, HistoryChainError, orderChain, type RowRef, type StoredChainRow } from './history/index.ts';
import { systemClock, type Clock } from '../util/clock.ts';

export interface PostgresOptions {
  url: string;
  schema: string;
  poolSize?: number;
  /** Bytes of decoded history bodies (keyframes, latest bodies) kept in memory; default 32 MB. */
  historyCacheBytes?: number;
  /** Time for ttl and retention decisions (tests advance it). */
  clock?: Clock;
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
    {
      version: 2,
      name: 'compression history: chain columns with a self-referencing foreign key, latest copy table',
      // NO ACTION (checked at the end of each statement): deleting a whole key, or a whole dead
      // subtree, in one statement works; deleting a row a kept row builds on fails, and so does
      // inserting a row whose base a purge removed meanwhile (the writer then plans again).
      sql: `
        ALTER TABLE ${s}.krv
          ADD COLUMN h_kind smallint,
          ADD COLUMN base_rev bigint,
          ADD COLUMN base_tid_order text COLLATE "C",
          ADD COLUMN h_depth integer,
          ADD COLUMN h_run integer,
          ADD COLUMN base_only boolean NOT NULL DEFAULT false;
        ALTER TABLE ${s}.krv ADD CONSTRAINT krv_base_fk FOREIGN KEY (bucket, key, base_rev, base_tid_order)
          REFERENCES ${s}.krv (bucket, key, rev, tid_order);
        CREATE INDEX krv_base ON ${s}.krv (bucket, key, base_rev, base_tid_order) WHERE base_rev IS NOT NULL;
        CREATE TABLE ${s}.krv_latest (
          bucket integer NOT NULL,
          key text COLLATE "C" NOT NULL,
          rev bigint NOT NULL,
          tid_order text COLLATE "C" NOT NULL,
          tid text NOT NULL,
          expires_at bigint,
          written_at bigint NOT NULL,
          content_type text,
          headers text,
          encoding text NOT NULL,
          stored bytea NOT NULL,
          PRIMARY KEY (bucket, key),
          FOREIGN KEY (bucket, key, rev, tid_order) REFERENCES ${s}.krv (bucket, key, rev, tid_order) ON DELETE CASCADE
        );
        ALTER TABLE ${s}.krv_latest ALTER COLUMN stored SET STORAGE EXTERNAL;
      `,
    },
    {
      version: 3,
      name: 'krv_latest: vacuum after a fixed number of rewrites',
      // Every history put rewrites its key's latest copy, a TOASTed value: the old versions are
      // dead space until a vacuum makes it reusable. The default trigger (20 % of a table of one
      // row per key) lets a busy key pile up thousands of dead copies; a fixed threshold does not.
      sql: `
        ALTER TABLE ${s}.krv_latest SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 200,
          toast.autovacuum_vacuum_scale_factor = 0, toast.autovacuum_vacuum_threshold = 200);
      `,
    },
  ];
}

interface PgBucket {
  id: number;
  spec: BucketSpec;
}

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
  private readonly cache: BodyCache;

  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
    cacheBytes: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.q = statements(`"${schema}"`, createHash('sha1').update(schema).digest('hex').slice(0, 10));
    this.cache = new BodyCache(cacheBytes);
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
    return new PostgresStore(pool, opts.schema, opts.historyCacheBytes ?? 32 * 1024 * 1024, opts.clock);
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
    const p = await preparePut(b.spec, req, this.clock.now());
    const ius = p.ifUnmodifiedSince === null ? null : ticksAfter(p.ifUnmodifiedSince);
    if (b.spec.type === 'key_value') return this.putKv(b, p, ius);
    if (b.spec.compression === 'history') return this.putHistory(b, p);
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

  // A history put reads the key's latest row, plans, encodes and writes in one transaction
  // under the key's advisory lock, so writers of a key never plan on the same latest. A purge
  // does not take the lock: if it removed the planned base meanwhile, the foreign key refuses
  // the insert and the put starts again.
  private async putHistory(b: PgBucket, p: PreparedPut): Promise<PutResult> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.connect();
      try {
        await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${historyLockId(b.id, p.key)})`);
        const r = await this.putHistoryTx(b, p, client);
        await client.query('COMMIT');
        return r;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        if ((e as { code?: string }).code === '23503' && attempt < 5) continue;
        throw e;
      } finally {
        client.release();
      }
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (e) {
      throw new CascadeError(StorageErrors.backendUnavailable, `PostgreSQL: ${(e as Error).message}`, { cause: e });
    }
  }

  private async putHistoryTx(b: PgBucket, p: PreparedPut, client: pg.PoolClient): Promise<PutResult> {
    const now = p.writtenAt;
    const m = (await this.exec(this.q.hPutMeta, [b.id, p.key, p.rev, now, p.tidOrder], client))[0];
    const [curTid, curHash, sameExists] = [m[8] as string | null, m[9] as Buffer | null, m[10] as boolean];
    if (curTid !== null && curHash !== null) {
      const c = conditionalOutcome(curTid, curHash, p);
      if (c) return { ...c, rev: p.rev };
    }
    const latest = m[0] === null ? undefined : (m.slice(0, 8) as LatestMetaSql);
    const w = new HistoryWriter(b.id, b.spec, this.cache);
    const chain = (r: RowRef) => this.exec(this.q.hChain, [b.id, p.key, r.rev, r.tid], client) as Promise<ChainRowSql[]>;
    if (sameExists) {
      const same = (await this.exec(this.q.hRow, [b.id, p.key, p.rev, p.tidOrder], client))[0] as ChainRowSql;
      if (same[2] !== null) {
        // A render written again under its own tid: re-encode it in place (see HistoryWriter.rewrite).
        const children = (await this.exec(this.q.hChildren, [b.id, p.key, p.rev, p.tidOrder], client)) as ChainRowSql[];
        const chains = new Map<string, ChainRowSql[]>();
        for (const r of [same, ...children]) {
          const refs: RowRef[] = [{ rev: r[0], tid: r[1] }];
          if (r === same && same[3] !== null && same[4] !== null) refs.push({ rev: same[3], tid: same[4] });
          for (const ref of refs) chains.set(`${ref.rev}/${ref.tid}`, await chain(ref));
        }
        const plan = w.rewrite(p, same, children, latest, (r) => chains.get(`${r.rev}/${r.tid}`) ?? []);
        await this.exec(this.q.hUpdate, plan.row, client);
        for (const c of plan.children) await this.exec(this.q.hUpdatePayload, [c.payload, b.id, p.key, c.rev, c.tidOrder], client);
        if (plan.copy) await this.exec(this.q.hCopyUpsert, plan.copy, client);
        return { status: 'created', tid: p.tid, rev: p.rev };
      }
      // A row from before the bucket used history (no dependants possible): replaced.
      await this.exec(this.q.hDeleteRow, [b.id, p.key, p.rev, p.tidOrder], client);
    }
    const pend = w.start(p.key, latest);
    if (pend.need === 'copy') w.withCopy(pend, (await this.exec(this.q.hCopy, [b.id, p.key], client))[0] as CopySql | undefined);
    if (pend.need === 'chain') w.withChain(p.key, pend, await chain(pend.latest as RowRef));
    const enc = w.finish(p, pend);
    await this.exec(this.q.hInsert, enc.row, client);
    if (enc.copy) await this.exec(this.q.hCopyUpsert, enc.copy, client);
    const keep = latestRetention(b.spec, now);
    if (keep) await this.exec(this.q.krvSupersede, [keep.expiresAt, b.id, p.key, keep.keep - 1], client);
    return { status: 'created', tid: p.tid, rev: p.rev };
  }

  /** A krv row as a record: history rows are rebuilt from their chain and returned decoded. */
  private async krvRecord(bucket: number, key: string, r: RevRow): Promise<StoredRow> {
    if (!isHistoryRow(r)) return revRecord(key, r);
    const ref = { rev: r[0], tid: tidOrderKey(r[1]) };
    const id = (x: RowRef) => historyRowId(bucket, key, x);
    // The chain with the leaves' payloads only (small); the keyframes' and the snapshot's (large,
    // TOASTed, sent as hex) are fetched only when the cache does not hold the anchor.
    const chain = orderChain(HistoryWriter.chainRows((await this.exec(this.q.hChainLeaves, [bucket, key, ref.rev, ref.tid])) as ChainRowSql[]), ref) as StoredChainRow[];
    let cached = -1;
    for (let i = chain.length - 1; i >= 0 && cached < 0; i--) if (this.cache.get(id(chain[i]), chain[i].hash)) cached = i;
    const missing = chain.filter((c, i) => i > cached && c.payload === null);
    if (missing.length > 0) {
      const got = await this.exec(this.q.hBodies, [bucket, key, missing.map((c) => c.rev), missing.map((c) => c.tid)]);
      if (got.length !== missing.length) throw new HistoryChainError(`${missing.length - got.length} chain rows vanished while reading`);
      missing.forEach((c, i) => (c.payload = got[i][0] as Buffer));
    }
    return revRecord(key, r, 'identity', decodeCached(chain, ref, this.cache, id));
  }

  /** A history bucket's row read by rev (+tid): [...RevRow, copy encoding, copy stored]. */
  private async histRevRecord(bucket: number, key: string, r: unknown[] | undefined): Promise<StoredRecord | undefined> {
    if (!r) return undefined;
    const row = r.slice(0, 7) as RevRow;
    if (r[7] !== null) return revRecord(key, row, r[7] as StoredEncoding, r[8] as Buffer);
    return this.krvRecord(bucket, key, row);
  }

  async getLatest(domain: string, bucket: string, key: string): Promise<StoredRecord | undefined> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    if (b.spec.type === 'key_value') {
      const r = (await this.exec(this.q.kvGet, [b.id, key, this.clock.now()]))[0] as Row | undefined;
      return r && kvRecord(key, r);
    }
    if (b.spec.compression === 'history') {
      // The hot path: the latest copy, one row whose stored bytes can be served as they are.
      const c = (await this.exec(this.q.hLatest, [b.id, key, this.clock.now()]))[0] as RevRow | undefined;
      if (c) return revRecord(key, c);
    }
    const r = (await this.exec(this.q.krvLatest, [b.id, key, this.clock.now()]))[0] as RevRow | undefined;
    return r && this.krvRecord(b.id, key, r);
  }

  async getRev(domain: string, bucket: string, key: string, rev: number): Promise<StoredRecord | undefined> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    readRev(b.spec, rev);
    if (b.spec.type === 'key_value') return this.getLatest(domain, bucket, key);
    if (b.spec.compression === 'history') return this.histRevRecord(b.id, key, (await this.exec(this.q.hRev, [b.id, key, rev, this.clock.now()]))[0]);
    const r = (await this.exec(this.q.krvRev, [b.id, key, rev, this.clock.now()]))[0] as RevRow | undefined;
    return r && this.krvRecord(b.id, key, r);
  }

  async getRevTid(domain: string, bucket: string, key: string, rev: number, tid: string): Promise<StoredRecord | undefined> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    readRev(b.spec, rev);
    const t = validateTid(tid);
    if (b.spec.type === 'key_value') {
      const r = (await this.exec(this.q.kvGet, [b.id, key, this.clock.now()]))[0] as Row | undefined;
      return r && r[0] === t ? kvRecord(key, r) : undefined;
    }
    if (b.spec.compression === 'history') {
      return this.histRevRecord(b.id, key, (await this.exec(this.q.hRevTid, [b.id, key, rev, tidOrderKey(t), this.clock.now()]))[0]);
    }
    const r = (await this.exec(this.q.krvRevTid, [b.id, key, rev, tidOrderKey(t), this.clock.now()]))[0] as RevRow | undefined;
    return r && this.krvRecord(b.id, key, r);
  }

  async listRevisions(domain: string, bucket: string, key: string, opts?: ListOptions): Promise<Page<RevisionInfo>> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    const { limit, after } = revisionListArgs(opts);
    const now = this.clock.now();
    if (b.spec.type === 'key_value') return kvRevisionPage((await this.exec(this.q.kvGet, [b.id, key, now]))[0] as Row | undefined, after);
    const rows = (
      after
        ? await this.exec(this.q.krvListAfter, [b.id, key, now, limit + 1, after.rev, after.tidOrder])
        : await this.exec(this.q.krvList, [b.id, key, now, limit + 1])
    ) as ListRow[];
    return revisionPage(rows, limit);
  }

  async listKeys(domain: string, bucket: string, opts?: ListOptions): Promise<Page<string>> {
    const b = this.buckets.require(domain, bucket);
    const { limit, after } = keyListArgs(opts);
    const rows = await this.exec(b.spec.type === 'key_value' ? this.q.kvKeys : this.q.krvKeys, [b.id, after, this.clock.now(), limit + 1]);
    return keyPage(rows.map((r) => r[0] as string), limit);
  }

  async deleteKey(domain: string, bucket: string, key: string): Promise<boolean> {
    const b = this.buckets.require(domain, bucket);
    validateKey(key);
    if (b.spec.compression === 'history' && b.spec.type === 'key_rev_value') {
      // Under the key's lock: a history put in flight must not insert a row on a deleted base.
      const client = await this.connect();
      try {
        await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${historyLockId(b.id, key)})`);
        const rows = await this.exec(this.q.krvDelete, [b.id, key], client);
        await client.query('COMMIT');
        return (rows[0][0] as number) > 0;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        client.release();
      }
    }
    const rows = await this.exec(b.spec.type === 'key_value' ? this.q.kvDelete : this.q.krvDelete, [b.id, key]);
    return (rows[0][0] as number) > 0;
  }

  async bucketSizes(): Promise<BucketSize[]> {
    const r = await this.pool.query<{ domain: string; name: string; n_rows: string; n_bytes: string }>(bucketSizesSql(`"${this.schema}".`, 'OCTET_LENGTH'));
    return r.rows.map((x) => ({ domain: x.domain, bucket: x.name, rows: Number(x.n_rows), bytes: Number(x.n_bytes) }));
  }

  async purgeExpired(now: number = this.clock.now()): Promise<number> {
    let total = 0;
    for (const q of [this.q.kvPurge, this.q.krvPurge]) {
      // Chunks keep each DELETE short, so it never holds many row locks for long.
      for (;;) {
        const n = (await this.exec(q, [now, 1000]))[0][0] as number;
        total += n;
        if (n < 1000) break;
      }
    }
    // History rows, by key: every expired row of a key that no kept row builds on is deleted,
    // the expired rows still needed are flagged base_only (not picked again until the key has
    // new expired rows). A put racing on a base being deleted makes one of the two statements
    // fail on the foreign key: the put retries; the purge stops here and goes on next time.
    for (;;) {
      let r: unknown[];
      try {
        r = (await this.exec(this.q.hPurge, [now, 1000]))[0];
      } catch (e) {
        if ((e as { code?: string }).code === '23503') break;
        throw e;
      }
      total += r[0] as number;
      if ((r[1] as number) < 1000) break;
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** A 64-bit advisory lock id per (bucket, key) for history writers (its own lock space). */
function historyLockId(bucket: number, key: string): string {
  const h = createHash('sha1').update(`history\u0000${bucket}\u0000${key}`).digest();
  return h.readBigInt64BE(0).toString();
}

function outcome(curTid: string, curHash: Buffer, p: PreparedPut): 'conflict' | 'unchanged' {
  return conditionalOutcome(curTid, curHash, p)?.status === 'unchanged' ? 'unchanged' : 'conflict'; // else a newer tid is stored (key_value)
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
          WHERE bucket = $1 AND key = $2 AND rev = $3 AND (expires_at IS NULL OR expires_at > $8) AND NOT base_only
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
    krvLatest: q('krv_latest', `SELECT ${REV_COLS} FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND ${LIVE(3)} AND NOT base_only ORDER BY rev DESC, tid_order DESC LIMIT 1`),
    krvRev: q('krv_rev', `SELECT ${REV_COLS} FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND rev = $3 AND ${LIVE(4)} AND NOT base_only ORDER BY tid_order DESC LIMIT 1`),
    krvRevTid: q('krv_revtid', `SELECT ${REV_COLS} FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND rev = $3 AND tid_order = $4 AND ${LIVE(5)} AND NOT base_only`),
    krvList: q(
      'krv_list',
      `SELECT rev, tid, tid_order, content_type FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND ${LIVE(3)} AND NOT base_only ORDER BY rev DESC, tid_order DESC LIMIT $4`,
    ),
    krvListAfter: q(
      'krv_list_after',
      `SELECT rev, tid, tid_order, content_type FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND ${LIVE(3)} AND NOT base_only
         AND (rev, tid_order) < ($5::bigint, $6::text) ORDER BY rev DESC, tid_order DESC LIMIT $4`,
    ),
    krvKeys: q('krv_keys', `SELECT DISTINCT key FROM ${s}.krv WHERE bucket = $1 AND key > $2 AND ${LIVE(3)} AND NOT base_only ORDER BY key LIMIT $4`),
    krvDelete: q('krv_del', `WITH d AS (DELETE FROM ${s}.krv WHERE bucket = $1 AND key = $2 RETURNING 1) SELECT count(*)::int FROM d`),
    krvPurge: q(
      'krv_purge',
      // History rows (h_kind set) are purged by hPurge, never by this chunked delete.
      `WITH d AS (DELETE FROM ${s}.krv WHERE ctid IN (SELECT ctid FROM ${s}.krv WHERE expires_at <= $1 AND h_kind IS NULL LIMIT $2) RETURNING 1) SELECT count(*)::int FROM d`,
    ),

    // ----- compression: history (see history/README.md) -----
    hLatest: q(
      'h_latest',
      `SELECT ${LATEST_COLS} FROM ${s}.krv_latest WHERE bucket = $1 AND key = $2 AND ${LIVE(3)}`,
    ),
    // The row by rev (+tid) and the latest copy when it is that row (a snapshot's payload is not
    // fetched: the chain query reads it if needed).
    hRev: q(
      'h_rev',
      `SELECT k.rev, k.tid, k.content_type, k.headers, k.encoding, CASE WHEN k.encoding = 'history' THEN NULL ELSE k.body END, k.written_at, l.encoding, l.stored
         FROM ${s}.krv k LEFT JOIN ${s}.krv_latest l ON l.bucket = k.bucket AND l.key = k.key AND l.rev = k.rev AND l.tid_order = k.tid_order
        WHERE k.bucket = $1 AND k.key = $2 AND k.rev = $3 AND (k.expires_at IS NULL OR k.expires_at > $4) AND NOT k.base_only ORDER BY k.tid_order DESC LIMIT 1`,
    ),
    hRevTid: q(
      'h_revtid',
      `SELECT k.rev, k.tid, k.content_type, k.headers, k.encoding, CASE WHEN k.encoding = 'history' THEN NULL ELSE k.body END, k.written_at, l.encoding, l.stored
         FROM ${s}.krv k LEFT JOIN ${s}.krv_latest l ON l.bucket = k.bucket AND l.key = k.key AND l.rev = k.rev AND l.tid_order = k.tid_order
        WHERE k.bucket = $1 AND k.key = $2 AND k.rev = $3 AND k.tid_order = $4 AND (k.expires_at IS NULL OR k.expires_at > $5) AND NOT k.base_only`,
    ),
    hCopy: q('h_copy', `SELECT rev, tid_order, encoding, stored FROM ${s}.krv_latest WHERE bucket = $1 AND key = $2`),
    // Everything a history put decides on, in one round trip: the key's newest live row (chain
    // meta), the newest live render of this rev (conditions), whether this exact row exists.
    hPutMeta: q(
      'h_put_meta',
      `SELECT l.rev, l.tid_order, l.h_kind, l.base_rev, l.base_tid_order, l.h_depth, l.h_run, l.hash, c.tid, c.hash,
              EXISTS (SELECT 1 FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND rev = $3 AND tid_order = $5)
         FROM (SELECT 1) d
         LEFT JOIN LATERAL (
           SELECT rev, tid_order, h_kind, base_rev, base_tid_order, h_depth, h_run, hash FROM ${s}.krv
            WHERE bucket = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $4) AND NOT base_only
            ORDER BY rev DESC, tid_order DESC LIMIT 1) l ON true
         LEFT JOIN LATERAL (
           SELECT tid, hash FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND rev = $3 AND (expires_at IS NULL OR expires_at > $4) AND NOT base_only
            ORDER BY tid_order DESC LIMIT 1) c ON true`,
    ),
    hRow: q('h_row', `SELECT rev, tid_order, h_kind, base_rev, base_tid_order, h_depth, h_run, hash, body FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND rev = $3 AND tid_order = $4`),
    hChildren: q(
      'h_children',
      `SELECT rev, tid_order, h_kind, base_rev, base_tid_order, h_depth, h_run, hash, body FROM ${s}.krv
        WHERE bucket = $1 AND key = $2 AND base_rev = $3 AND base_tid_order = $4`,
    ),
    hChain: q(
      'h_chain',
      `WITH RECURSIVE c AS (
         SELECT rev, tid_order, h_kind, base_rev, base_tid_order, h_depth, h_run, hash, body FROM ${s}.krv
          WHERE bucket = $1 AND key = $2 AND rev = $3 AND tid_order = $4
         UNION ALL
         -- LATERAL … OFFSET 0 (not pulled up): one primary-key probe per step. A plain join let
         -- the planner scan every row of the key at each step on a table without statistics.
         SELECT k.rev, k.tid_order, k.h_kind, k.base_rev, k.base_tid_order, k.h_depth, k.h_run, k.hash, k.body
           FROM c, LATERAL (SELECT * FROM ${s}.krv x WHERE x.bucket = $1 AND x.key = $2 AND x.rev = c.base_rev AND x.tid_order = c.base_tid_order OFFSET 0) k
       ) SELECT * FROM c`,
    ),
    hChainLeaves: q(
      'h_chain_leaves',
      `WITH RECURSIVE c AS (
         SELECT rev, tid_order, h_kind, base_rev, base_tid_order, h_depth, h_run, hash, CASE WHEN h_run > 0 THEN body END AS body FROM ${s}.krv
          WHERE bucket = $1 AND key = $2 AND rev = $3 AND tid_order = $4
         UNION ALL
         SELECT k.rev, k.tid_order, k.h_kind, k.base_rev, k.base_tid_order, k.h_depth, k.h_run, k.hash, CASE WHEN k.h_run > 0 THEN k.body END
           FROM c, LATERAL (SELECT * FROM ${s}.krv x WHERE x.bucket = $1 AND x.key = $2 AND x.rev = c.base_rev AND x.tid_order = c.base_tid_order OFFSET 0) k
       ) SELECT * FROM c`,
    ),
    // Payloads only, in the order asked. (Per-query binary results would halve the bytes of a
    // snapshot sent as hex, but pg decodes row fields as UTF-8 unless the whole client is binary.)
    hBodies: q(
      'h_bodies',
      `SELECT k.body FROM unnest($3::bigint[], $4::text[]) WITH ORDINALITY AS u (rev, tid_order, n)
         JOIN ${s}.krv k ON k.bucket = $1 AND k.key = $2 AND k.rev = u.rev AND k.tid_order = u.tid_order ORDER BY u.n`,
    ),
    hInsert: q(
      'h_insert',
      `INSERT INTO ${s}.krv (bucket, key, rev, tid_order, tid, hash, expires_at, written_at, content_type, headers, encoding,
                             h_kind, base_rev, base_tid_order, h_depth, h_run, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'history', $11, $12, $13, $14, $15, $16)`,
    ),
    hUpdate: q(
      'h_update',
      `UPDATE ${s}.krv SET tid = $1, hash = $2, expires_at = $3, written_at = $4, content_type = $5, headers = $6, body = $7
        WHERE bucket = $8 AND key = $9 AND rev = $10 AND tid_order = $11`,
    ),
    hUpdatePayload: q('h_update_payload', `UPDATE ${s}.krv SET body = $1 WHERE bucket = $2 AND key = $3 AND rev = $4 AND tid_order = $5`),
    hDeleteRow: q('h_delete_row', `DELETE FROM ${s}.krv WHERE bucket = $1 AND key = $2 AND rev = $3 AND tid_order = $4`),
    // The copy mirrors the newest row only: an older render never replaces it.
    hCopyUpsert: q(
      'h_copy_upsert',
      `INSERT INTO ${s}.krv_latest AS l (bucket, key, rev, tid_order, tid, expires_at, written_at, content_type, headers, encoding, stored)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (bucket, key) DO UPDATE SET
         rev = EXCLUDED.rev, tid_order = EXCLUDED.tid_order, tid = EXCLUDED.tid, expires_at = EXCLUDED.expires_at,
         written_at = EXCLUDED.written_at, content_type = EXCLUDED.content_type, headers = EXCLUDED.headers,
         encoding = EXCLUDED.encoding, stored = EXCLUDED.stored
       WHERE (EXCLUDED.rev, EXCLUDED.tid_order) >= (l.rev, l.tid_order)`,
    ),
    // Keys with expired history rows (a chunk of such rows), then per key: `needed` = the bases
    // of live rows, transitively; expired rows outside it go, the others become base_only.
    hPurge: q(
      'h_purge',
      `WITH RECURSIVE cand_rows AS (
         SELECT bucket, key FROM ${s}.krv WHERE expires_at <= $1 AND h_kind IS NOT NULL AND NOT base_only LIMIT $2),
       cand AS (SELECT DISTINCT bucket, key FROM cand_rows),
       needed (bucket, key, rev, tid_order) AS (
         SELECT k.bucket, k.key, k.base_rev, k.base_tid_order FROM ${s}.krv k JOIN cand c ON k.bucket = c.bucket AND k.key = c.key
          WHERE k.base_rev IS NOT NULL AND (k.expires_at IS NULL OR k.expires_at > $1)
         UNION
         SELECT k.bucket, k.key, k.base_rev, k.base_tid_order
           FROM needed n, LATERAL (SELECT * FROM ${s}.krv x WHERE x.bucket = n.bucket AND x.key = n.key AND x.rev = n.rev AND x.tid_order = n.tid_order OFFSET 0) k
          WHERE k.base_rev IS NOT NULL),
       del AS (
         DELETE FROM ${s}.krv k USING cand c WHERE k.bucket = c.bucket AND k.key = c.key AND k.expires_at <= $1
           AND NOT EXISTS (SELECT 1 FROM needed n WHERE n.bucket = k.bucket AND n.key = k.key AND n.rev = k.rev AND n.tid_order = k.tid_order)
         RETURNING 1),
       hide AS (
         UPDATE ${s}.krv k SET base_only = true FROM cand c WHERE k.bucket = c.bucket AND k.key = c.key AND k.expires_at <= $1 AND NOT k.base_only
           AND EXISTS (SELECT 1 FROM needed n WHERE n.bucket = k.bucket AND n.key = k.key AND n.rev = k.rev AND n.tid_order = k.tid_order)
         RETURNING 1),
       uncopy AS (
         DELETE FROM ${s}.krv_latest l USING cand c WHERE l.bucket = c.bucket AND l.key = c.key AND l.expires_at <= $1 RETURNING 1)
       SELECT (SELECT count(*)::int FROM del), (SELECT count(*)::int FROM cand_rows), (SELECT count(*)::int FROM hide), (SELECT count(*)::int FROM uncopy)`,
    ),
  };
}
