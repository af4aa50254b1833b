// The embedded event log on SQLite (WAL). Every write — appends, fetches (leases), acks,
// releases, trims — goes through one queue and is applied in ONE transaction per turn of the
// event loop (group commit, src/sqlite): many producers share one commit (and one fsync with
// synchronous=full, done off the event loop: see WalSync), and each promise resolves only
// after that commit. Leases live in the database, so consumers of one group may run in several
// processes sharing the file. Tables: sqlite-schema.ts.
//
// Layout: an append is stored as few rows as possible — a chunk of consecutive offsets
// [start, start + n) in one row (ids, keys, value ends, values packed), so the cost per event
// is a memcpy, not a B-tree insert. A chunk's rowid is `topic_id * 2^40 + start`, so a topic is
// one contiguous rowid range. Limits: 8191 topics, 2^40 offsets each. Chunks are immutable;
// retention moves the topic's first_offset (a partly expired chunk stays until all of it is).
//
// Dedup: an in-memory window per topic (53-bit id hash → offset), loaded from the file on
// first use and brought up to date inside the append's write transaction whenever the topic's
// next_offset shows that another connection appended (so it stays correct with several
// processes on one file). A hash hit is confirmed against the stored id.
import type { Database as Db, Statement } from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { CascadeError } from '../../errors/index.ts';
import { GroupCommit, WalSync, migrate, openSqlite } from '../../sqlite/index.ts';
import { CHUNK_RECORDS, LOG_MIGRATIONS, SHIFT, logBaseline } from './sqlite-schema.ts';
import { LOG_DEFAULTS, type SqliteLogConfig } from './config.ts';
import { LogErrors } from './errors.ts';
import type { AppendResult, Consumer, ConsumerOptions, EventLog, LogEvent, LogRecord, RetentionOptions } from './types.ts';
import { checkConsumer, checkEvents, checkTopic } from './validate.ts';
import { BoundedMap } from '../../util/bounded-map.ts';
import { systemClock, type Clock } from '../../util/clock.ts';

const MAX_TOPICS = 8191;
/** Records skipped for a blocked ordering key that one group may hold before fetch stops scanning. */
const MAX_PENDING = 10_000;
const DEFAULT_ACK_WAIT_MS = 30_000;
/** Records one trim step removes at most (bounds how long a trim blocks appends). */
const TRIM_CHUNK = 20_000;
/** A chunk holds at most this many value bytes (and CHUNK_RECORDS records; an append larger is split). */
const CHUNK_BYTES = 4 * 1024 * 1024;
/** Decoded chunks kept in memory (consumers usually read what was just appended). */
const CACHE_BYTES = 32 * 1024 * 1024;

interface TopicRow {
  topic_id: number;
  name: string;
  next_offset: number;
  first_offset: number;
  bytes: number;
  max_age_ms: number | null;
  max_bytes: number | null;
}
interface GroupRow {
  gid: number;
  committed: number;
  dispatched: number;
}
interface LeaseRow {
  off: number;
  end: number;
  key: string | null;
  member: string | null;
  expires: number;
  deliveries: number;
}
interface ChunkMetaRow {
  rid: number;
  n: number;
  ts: number;
  ids: string;
  keys: string | null;
  ends: Buffer;
}
interface ChunkRow extends ChunkMetaRow {
  data: Buffer;
}
/** A decoded chunk. */
interface Chunk {
  rid: number;
  start: number;
  n: number;
  ts: number;
  ids: string[];
  keys: (string | null)[] | null;
  values: Buffer[];
  bytes: number;
}
/** One record as read from a chunk. */
interface Rec {
  off: number;
  id: string;
  key: string | null;
  value: Buffer;
  ts: number;
}

/** The dedup window of one topic: id hash → offset, with a FIFO of what to forget when. */
class DedupWindow {
  readonly map = new Map<number, number>();
  private hashes: number[] = [];
  private offsets: number[] = [];
  private times: number[] = [];
  private head = 0;
  /** Every record below this offset has been taken in (or is older than the window). */
  known = 0;

  add(hash: number, offset: number, ts: number): void {
    this.map.set(hash, offset);
    this.hashes.push(hash);
    this.offsets.push(offset);
    this.times.push(ts);
  }

  /** Forgets ids appended before `cutoff`, and the oldest beyond `maxIds`. */
  expire(cutoff: number, maxIds: number): void {
    const len = this.hashes.length;
    let h = this.head;
    while (h < len && (this.times[h] < cutoff || len - h > maxIds)) {
      if (this.map.get(this.hashes[h]) === this.offsets[h]) this.map.delete(this.hashes[h]);
      h++;
    }
    this.head = h;
    if (h > 4096 && h * 2 > len) {
      this.hashes = this.hashes.slice(h);
      this.offsets = this.offsets.slice(h);
      this.times = this.times.slice(h);
      this.head = 0;
    }
  }
}

function recordSize(id: string, key: string | null | undefined, value: Buffer): number {
  return value.length + id.length + (key ? key.length : 0);
}

/** How long one attempt to take the write lock may block the event loop. */
const BUSY_ATTEMPT_MS = 50;
/** Pause between attempts while another connection holds the write lock. */
const BUSY_RETRY_MS = 25;
/** After this long without the write lock, the queued writes fail (callers answer 503 much sooner). */
const BUSY_GIVE_UP_MS = 10_000;

export class SqliteEventLog implements EventLog {
  readonly backend = 'sqlite';
  readonly path: string;
  private readonly db: Db;
  private readonly cfg: Required<Pick<SqliteLogConfig, 'dedup_window_ms' | 'trim_interval_ms' | 'poll_interval_ms' | 'max_batch'>>;
  private readonly defaultRetention: { max_age_ms: number; max_bytes: number };
  private readonly writes: GroupCommit;
  private closed = false;
  private readonly topicIds = new Map<string, number>();
  private readonly groupIds = new Map<string, number>();
  private readonly trimTimer: NodeJS.Timeout;
  /** Signals waiting fetches of this process that records or leases changed. */
  readonly changes = new EventEmitter();
  /** Bumped on each commit that may give a waiting fetch work (appends, acks, releases). */
  version = 0;
  private dirty = false;
  private readonly consumers = new Set<SqliteConsumer>();
  private readonly st: ReturnType<SqliteEventLog['prepare']>;
  /** Dedup windows by topic id. */
  private readonly windows = new Map<number, DedupWindow>();
  private readonly dedupMaxIds: number;
  /** synchronous=full: the WAL is fsynced off the event loop before durable writes resolve. */
  private readonly walSync: WalSync | undefined;
  /** Decoded chunks by rid (chunks never change, so entries never go stale). */
  private readonly cache = new BoundedMap<number, Chunk>({ maxEntries: Number.MAX_SAFE_INTEGER, maxBytes: CACHE_BYTES });

  /** Time of appends, leases and retention (tests advance it); long-poll waits stay real time. */
  readonly clock: Clock;

  constructor(cfg: SqliteLogConfig, opts: { clock?: Clock } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.path = cfg.path;
    this.cfg = {
      dedup_window_ms: cfg.dedup_window_ms ?? LOG_DEFAULTS.dedup_window_ms,
      trim_interval_ms: cfg.trim_interval_ms ?? LOG_DEFAULTS.trim_interval_ms,
      poll_interval_ms: cfg.poll_interval_ms ?? LOG_DEFAULTS.poll_interval_ms,
      max_batch: cfg.max_batch ?? LOG_DEFAULTS.max_batch,
    };
    this.defaultRetention = {
      max_age_ms: cfg.retention?.max_age_ms ?? LOG_DEFAULTS.retention.max_age_ms,
      max_bytes: cfg.retention?.max_bytes ?? LOG_DEFAULTS.retention.max_bytes,
    };
    this.changes.setMaxListeners(0);
    let db: Db | undefined;
    try {
      db = openSqlite(cfg.path, {
        // synchronous=full is served by WalSync (an fsync off the event loop), not by SQLite.
        synchronous: 'normal',
        // 16 KB pages: a chunk spans 4x fewer overflow pages and WAL frames (about a third less
        // system time per appended event than 4 KB).
        pageSize: 16384,
        cacheSize: 64 * 1024 * 1024,
        // Several processes may append to one file: a longer wait than the store's.
        busyTimeout: 10_000,
      });
      migrate(db, LOG_MIGRATIONS, { table: 'cascade_migrations', baseline: logBaseline });
    } catch (e) {
      db?.close();
      throw new CascadeError(LogErrors.unavailable, `cannot open the event log ${cfg.path}: ${(e as Error).message}`, { cause: e });
    }
    this.db = db;
    this.walSync = (cfg.synchronous ?? LOG_DEFAULTS.synchronous) === 'full' ? new WalSync(cfg.path) : undefined;
    const walSync = this.walSync;
    this.writes = new GroupCommit(db, {
      maxWeight: this.cfg.max_batch,
      closedError: () => new CascadeError(LogErrors.closed, 'the event log is closed'),
      commitError: (e) => new CascadeError(LogErrors.unavailable, `event log commit failed: ${(e as Error).message}`, { cause: e }),
      onRollback: () => this.forgetUncommitted(),
      // Another connection's write lock is waited for off the event loop, in order.
      busy: { retryMs: BUSY_RETRY_MS, giveUpMs: BUSY_GIVE_UP_MS },
      onCommit: () => {
        if (!this.dirty) return;
        this.dirty = false;
        this.version++;
        this.changes.emit('change');
      },
      sync:
        walSync &&
        (() =>
          walSync.sync().catch((e: unknown) => {
            throw new CascadeError(LogErrors.unavailable, `event log fsync failed: ${(e as Error).message}`, { cause: e });
          })),
    });
    this.st = this.prepare();
    this.dedupMaxIds = cfg.dedup_max_ids ?? LOG_DEFAULTS.dedup_max_ids;
    // From now on every write goes through the group commit, which waits for another connection's write
    // lock off the event loop (BUSY → retry on a timer) instead of blocking it for seconds.
    this.db.pragma(`busy_timeout = ${BUSY_ATTEMPT_MS}`);
    this.trimTimer = setInterval(() => {
      this.trim().catch(() => {});
    }, this.cfg.trim_interval_ms);
    this.trimTimer.unref();
  }

  private prepare() {
    const db = this.db;
    return {
      topicByName: db.prepare<[string], TopicRow>('SELECT * FROM topics WHERE name = ?'),
      topicById: db.prepare<[number], TopicRow>('SELECT * FROM topics WHERE topic_id = ?'),
      allTopics: db.prepare<[], TopicRow>('SELECT * FROM topics'),
      insertTopic: db.prepare<[string]>('INSERT OR IGNORE INTO topics (name) VALUES (?)'),
      appendDone: db.prepare<[number, number, number]>('UPDATE topics SET next_offset = ?, bytes = bytes + ? WHERE topic_id = ?'),
      setRetention: db.prepare<[number | null, number | null, number]>('UPDATE topics SET max_age_ms = ?, max_bytes = ? WHERE topic_id = ?'),
      insertChunk: db.prepare<[number, number, number, string, string | null, Buffer, Buffer]>(
        'INSERT INTO chunks (rid, n, ts, ids, keys, ends, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      /** Chunk starts in [from, to), ascending. */
      chunkSpans: db.prepare<[number, number, number], { rid: number; n: number }>('SELECT rid, n FROM chunks WHERE rid >= ? AND rid < ? ORDER BY rid LIMIT ?'),
      /** The last chunk starting in [lo, at]: the one holding `at` if any does. */
      chunkAt: db.prepare<[number, number], { rid: number; n: number }>('SELECT rid, n FROM chunks WHERE rid >= ? AND rid <= ? ORDER BY rid DESC LIMIT 1'),
      chunk: db.prepare<[number], ChunkRow>('SELECT rid, n, ts, ids, keys, ends, data FROM chunks WHERE rid = ?'),
      chunkMeta: db.prepare<[number], ChunkMetaRow>('SELECT rid, n, ts, ids, keys, ends FROM chunks WHERE rid = ?'),
      idsAsc: db.prepare<[number, number, number], { rid: number; n: number; ts: number; ids: string }>(
        'SELECT rid, n, ts, ids FROM chunks WHERE rid >= ? AND rid < ? ORDER BY rid LIMIT ?',
      ),
      idsDesc: db.prepare<[number, number, number], { rid: number; n: number; ts: number; ids: string }>(
        'SELECT rid, n, ts, ids FROM chunks WHERE rid >= ? AND rid < ? ORDER BY rid DESC LIMIT ?',
      ),
      deleteChunks: db.prepare<[number, number]>('DELETE FROM chunks WHERE rid >= ? AND rid < ?'),
      trimDone: db.prepare<[number, number, number]>('UPDATE topics SET first_offset = ?, bytes = max(0, bytes - ?) WHERE topic_id = ?'),
      group: db.prepare<[string, number], GroupRow>('SELECT gid, committed, dispatched FROM cgroups WHERE name = ? AND topic_id = ?'),
      groupById: db.prepare<[number], GroupRow>('SELECT gid, committed, dispatched FROM cgroups WHERE gid = ?'),
      insertGroup: db.prepare<[string, number, number, number]>(
        'INSERT OR IGNORE INTO cgroups (name, topic_id, committed, dispatched) VALUES (?, ?, ?, ?)',
      ),
      setDispatched: db.prepare<[number, number, number]>('UPDATE cgroups SET dispatched = ?, committed = max(committed, ?) WHERE gid = ?'),
      setCommitted: db.prepare<[number, number]>('UPDATE cgroups SET committed = ? WHERE gid = ?'),
      leases: db.prepare<[number], LeaseRow>('SELECT off, end, key, member, expires, deliveries FROM lease_ranges WHERE gid = ? ORDER BY off'),
      leaseCount: db.prepare<[number, number, number], { n: number }>(
        'SELECT ifnull(sum(end - max(off, ?)), 0) AS n FROM lease_ranges WHERE gid = ? AND end > ?',
      ),
      minLease: db.prepare<[number], { m: number | null }>('SELECT min(off) AS m FROM lease_ranges WHERE gid = ?'),
      insertLease: db.prepare<[number, number, number, string | null, string | null, number, number]>(
        'INSERT INTO lease_ranges (gid, off, end, key, member, expires, deliveries) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      relLease: db.prepare<[string, number, number, number]>(
        'UPDATE lease_ranges SET member = ?, expires = ?, deliveries = deliveries + 1 WHERE gid = ? AND off = ?',
      ),
      deleteLease: db.prepare<[number, number]>('DELETE FROM lease_ranges WHERE gid = ? AND off = ?'),
      deleteLeasesBelow: db.prepare<[number, number]>('DELETE FROM lease_ranges WHERE gid = ? AND end <= ?'),
      release: db.prepare<[string]>('UPDATE lease_ranges SET member = NULL, expires = 0 WHERE member = ?'),
    };
  }

  // ---- the write queue (group commit) ----

  private enqueue<T>(run: () => T, weight = 1, durable = true): Promise<T> {
    if (this.closed) return Promise.reject(new CascadeError(LogErrors.closed, 'the event log is closed'));
    return this.writes.run(run, { weight, durable });
  }

  /**
   * After a rollback: the dedup windows, the chunk cache and the topic and group ids may hold
   * what was never committed (offsets and ids that will be reused), so they are read again from
   * the file.
   */
  private forgetUncommitted(): void {
    this.topicIds.clear();
    this.groupIds.clear();
    this.windows.clear();
    this.cache.clear();
  }

  // ---- helpers run inside the transaction ----

  private topic(name: string): TopicRow {
    const id = this.topicIds.get(name);
    let row = id === undefined ? this.st.topicByName.get(name) : this.st.topicById.get(id);
    if (!row) {
      this.st.insertTopic.run(name);
      row = this.st.topicByName.get(name)!;
      if (row.topic_id > MAX_TOPICS) throw new CascadeError(LogErrors.badTopic, `the SQLite log holds at most ${MAX_TOPICS} topics`);
    }
    this.topicIds.set(name, row.topic_id);
    return row;
  }

  private group(name: string, t: TopicRow, startAt: 'earliest' | 'latest'): GroupRow {
    const k = `${name}\u0000${t.topic_id}`;
    const gid = this.groupIds.get(k);
    let g = gid === undefined ? this.st.group.get(name, t.topic_id) : this.st.groupById.get(gid);
    if (!g) {
      const start = startAt === 'latest' ? t.next_offset : t.first_offset;
      this.st.insertGroup.run(name, t.topic_id, start, start);
      g = this.st.group.get(name, t.topic_id)!;
    }
    this.groupIds.set(k, g.gid);
    return g;
  }

  private appendNow(topic: string, events: LogEvent[], now: number): AppendResult[] {
    const t = this.topic(topic);
    const lo = t.topic_id * SHIFT;
    const windowMs = this.cfg.dedup_window_ms;
    const win = windowMs > 0 ? this.window(t, now) : undefined;
    const start = t.next_offset;
    let next = start;
    let bytes = 0;
    const out: AppendResult[] = new Array(events.length);
    const kept: LogEvent[] = [];
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      if (win) {
        const h = hash53(ev.id);
        const seen = win.map.get(h);
        if (seen !== undefined && seen >= t.first_offset && this.idAt(t, seen, start, kept) === ev.id) {
          out[i] = { offset: seen, duplicate: true };
          continue;
        }
        win.add(h, next, now);
      }
      kept.push(ev);
      out[i] = { offset: next, duplicate: false };
      bytes += recordSize(ev.id, ev.key, ev.value);
      next++;
    }
    if (win) win.known = next;
    // Chunks of at most CHUNK_RECORDS records / CHUNK_BYTES of values.
    for (let i = 0; i < kept.length; ) {
      let j = i;
      let size = 0;
      while (j < kept.length && j - i < CHUNK_RECORDS && (j === i || size + kept[j].value.length <= CHUNK_BYTES)) size += kept[j++].value.length;
      this.writeChunk(lo, start + i, kept.slice(i, j), now);
      i = j;
    }
    if (next !== start) {
      this.st.appendDone.run(next, bytes, t.topic_id);
      this.dirty = true;
    }
    return out;
  }

  private writeChunk(lo: number, start: number, evs: LogEvent[], now: number): void {
    const n = evs.length;
    const ends = Buffer.allocUnsafe(4 * n);
    const ids: string[] = new Array(n);
    let keys: (string | null)[] | null = null;
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const ev = evs[i];
      ids[i] = ev.id;
      if (ev.key !== undefined) (keys ??= new Array<string | null>(n).fill(null))[i] = ev.key;
      pos += ev.value.length;
      ends.writeUInt32LE(pos, 4 * i);
    }
    const data = n === 1 ? evs[0].value : (adjacent(evs) ?? Buffer.concat(evs.map((e) => e.value), pos));
    this.st.insertChunk.run(lo + start, n, now, JSON.stringify(ids), keys ? JSON.stringify(keys) : null, ends, data);
    // Consumers usually read what was just appended: keep it decoded (uncommitted until the
    // transaction is, but chunks are only ever read inside this process's own later turns).
    const values: Buffer[] = new Array(n);
    let from = 0;
    for (let i = 0; i < n; i++) {
      const end = ends.readUInt32LE(4 * i);
      values[i] = data.subarray(from, end);
      from = end;
    }
    this.remember({ rid: lo + start, start, n, ts: now, ids, keys, values, bytes: pos });
  }

  /** The topic's dedup window, loaded on first use and caught up with other connections' appends. */
  private window(t: TopicRow, now: number): DedupWindow {
    const lo = t.topic_id * SHIFT;
    const cutoff = now - this.cfg.dedup_window_ms;
    let win = this.windows.get(t.topic_id);
    if (!win) {
      win = new DedupWindow();
      // Newest chunks first, back to the window's start (or the id cap), then taken in oldest first.
      const rows: { rid: number; n: number; ts: number; ids: string }[] = [];
      let count = 0;
      let below = lo + t.next_offset;
      load: for (;;) {
        const page = this.st.idsDesc.all(lo, below, 64);
        if (page.length === 0) break;
        for (const r of page) {
          if (r.ts < cutoff || count >= this.dedupMaxIds) break load;
          rows.push(r);
          count += r.n;
        }
        below = page[page.length - 1].rid;
      }
      for (let i = rows.length - 1; i >= 0; i--) this.takeIn(win, lo, rows[i]);
      win.known = t.next_offset;
      this.windows.set(t.topic_id, win);
    } else if (win.known < t.next_offset) {
      // Another connection appended since: take its ids in.
      for (;;) {
        const page = this.st.idsAsc.all(lo + win.known, lo + t.next_offset, 64);
        for (const r of page) this.takeIn(win, lo, r);
        if (page.length < 64) break;
        const last = page[page.length - 1];
        win.known = last.rid - lo + last.n;
      }
      win.known = t.next_offset;
    }
    win.expire(cutoff, this.dedupMaxIds);
    return win;
  }

  private takeIn(win: DedupWindow, lo: number, r: { rid: number; ts: number; ids: string }): void {
    const ids = JSON.parse(r.ids) as string[];
    const start = r.rid - lo;
    for (let i = 0; i < ids.length; i++) win.add(hash53(ids[i]), start + i, r.ts);
  }

  /** The id stored at `off` (`pending`: this append's records from `pendingStart`, not yet written). */
  private idAt(t: TopicRow, off: number, pendingStart: number, pending: LogEvent[]): string | undefined {
    if (off >= pendingStart) return pending[off - pendingStart]?.id;
    const c = this.chunkHolding(t, off);
    return c ? c.ids[off - c.start] : undefined;
  }

  private chunkHolding(t: TopicRow, off: number): Chunk | undefined {
    const lo = t.topic_id * SHIFT;
    const span = this.st.chunkAt.get(lo, lo + off);
    if (!span || span.rid - lo + span.n <= off) return undefined;
    return this.chunkByRid(lo, span.rid);
  }

  private chunkByRid(lo: number, rid: number): Chunk | undefined {
    const hit = this.cache.get(rid);
    if (hit) return hit;
    const row = this.st.chunk.get(rid);
    if (!row) return undefined;
    const c = decodeChunk(lo, row);
    this.remember(c);
    return c;
  }

  private remember(c: Chunk): void {
    this.cache.set(c.rid, c, c.bytes);
  }

  /** Records of `t` with offsets in [from, end), at most `limit`, oldest first. */
  private recordsIn(t: TopicRow, from: number, end: number, limit: number): Rec[] {
    const out: Rec[] = [];
    from = Math.max(from, t.first_offset, 1);
    end = Math.min(end, t.next_offset);
    if (from >= end || limit <= 0) return out;
    const lo = t.topic_id * SHIFT;
    const holding = this.st.chunkAt.get(lo, lo + from);
    let at = holding ? holding.rid : lo + from;
    for (;;) {
      const spans = this.st.chunkSpans.all(at, lo + end, 16);
      if (spans.length === 0) return out;
      for (const sp of spans) {
        const c = this.chunkByRid(lo, sp.rid);
        if (!c) continue;
        for (let i = Math.max(0, from - c.start); i < c.n; i++) {
          const off = c.start + i;
          if (off >= end || out.length >= limit) return out;
          out.push({ off, id: c.ids[i], key: c.keys ? c.keys[i] : null, value: c.values[i], ts: c.ts });
        }
      }
      at = spans[spans.length - 1].rid + 1;
    }
  }

  /** Leases up to `max` records of `topics` to `member`; see the `lease_ranges` table. */
  fetchNow(member: string, group: string, topics: string[], max: number, ackWaitMs: number, startAt: 'earliest' | 'latest', now: number): LogRecord[] {
    const out: LogRecord[] = [];
    const expires = now + ackWaitMs;
    for (const topic of topics) {
      if (out.length >= max) break;
      const t = this.topic(topic);
      const g = this.group(group, t, startAt);
      const first = t.first_offset;
      let rows = this.st.leases.all(g.gid);
      if (rows.length > 0 && rows[0].off < first) {
        // Retention removed records under some ranges: cut those ranges to what is left.
        this.st.deleteLeasesBelow.run(g.gid, first);
        for (const r of rows) {
          if (r.off < first && r.end > first) {
            this.st.deleteLease.run(g.gid, r.off);
            this.st.insertLease.run(g.gid, first, r.end, r.key, r.member, r.expires, r.deliveries);
            r.off = first;
          }
        }
        rows = rows.filter((r) => r.end > first);
      }
      let dispatched = Math.max(g.dispatched, first);
      const blocked = new Set<string>();
      let pending = 0;
      // 1. Free or expired ranges, in offset order (redeliveries come first).
      for (const r of rows) {
        if (r.member === null) pending += r.end - r.off;
        if (r.key !== null && blocked.has(r.key)) continue;
        const available = r.member === null || r.expires <= now;
        if (available && out.length < max) {
          const take = Math.min(max - out.length, r.end - r.off);
          const recs = this.recordsIn(t, r.off, r.off + take, take);
          if (take < r.end - r.off) {
            // Split: the rest of the range stays free for others.
            this.st.deleteLease.run(g.gid, r.off);
            this.st.insertLease.run(g.gid, r.off, r.off + take, r.key, member, expires, r.deliveries + 1);
            this.st.insertLease.run(g.gid, r.off + take, r.end, r.key, null, 0, r.deliveries);
          } else {
            this.st.relLease.run(member, expires, g.gid, r.off);
          }
          if (r.member === null) pending -= take;
          for (const rec of recs) out.push(toRecord(topic, rec, r.deliveries + 1));
        }
        if (r.key !== null) blocked.add(r.key);
      }
      // 2. Records never delivered to this group, in offset order; unkeyed runs become one range.
      let runStart = -1;
      let runEnd = -1;
      const flushRun = () => {
        if (runStart >= 0) this.st.insertLease.run(g.gid, runStart, runEnd, null, member, expires, 1);
        runStart = -1;
      };
      scan: while (out.length < max && pending < MAX_PENDING) {
        const batch = this.recordsIn(t, dispatched, t.next_offset, max - out.length + 64);
        if (batch.length === 0) break;
        for (const rec of batch) {
          if (out.length >= max || pending >= MAX_PENDING) break scan;
          const off = rec.off;
          if (rec.key === null) {
            if (runStart >= 0 && off === runEnd) runEnd++;
            else {
              flushRun();
              runStart = off;
              runEnd = off + 1;
            }
            out.push(toRecord(topic, rec, 1));
          } else {
            flushRun();
            if (blocked.has(rec.key)) {
              // An earlier record of this key is unacked: park this one until it is.
              this.st.insertLease.run(g.gid, off, off + 1, rec.key, null, 0, 0);
              pending++;
            } else {
              this.st.insertLease.run(g.gid, off, off + 1, rec.key, member, expires, 1);
              out.push(toRecord(topic, rec, 1));
              blocked.add(rec.key);
            }
          }
          dispatched = off + 1;
        }
      }
      flushRun();
      if (dispatched !== g.dispatched || g.committed < first) this.st.setDispatched.run(dispatched, first, g.gid);
    }
    return out;
  }

  ackNow(group: string, records: LogRecord[]): void {
    const byTopic = new Map<string, number[]>();
    for (const r of records) {
      let l = byTopic.get(r.topic);
      if (!l) byTopic.set(r.topic, (l = []));
      l.push(r.offset);
    }
    for (const [topic, offs] of byTopic) {
      const t = this.topic(topic);
      const g = this.st.group.get(group, t.topic_id);
      if (!g) continue;
      offs.sort((a, b) => a - b);
      for (const r of this.st.leases.all(g.gid)) {
        // The acked offsets inside [r.off, r.end), by binary search.
        let i = lowerBound(offs, r.off);
        if (i >= offs.length || offs[i] >= r.end) continue;
        this.st.deleteLease.run(g.gid, r.off);
        let from = r.off;
        for (; i < offs.length && offs[i] < r.end; i++) {
          if (offs[i] > from) this.st.insertLease.run(g.gid, from, offs[i], r.key, r.member, r.expires, r.deliveries);
          from = Math.max(from, offs[i] + 1);
        }
        if (from < r.end) this.st.insertLease.run(g.gid, from, r.end, r.key, r.member, r.expires, r.deliveries);
      }
      const m = this.st.minLease.get(g.gid)?.m ?? null;
      const committed = m ?? Math.max(g.dispatched, t.first_offset);
      if (committed !== g.committed) this.st.setCommitted.run(committed, g.gid);
    }
    this.dirty = true;
  }

  releaseNow(member: string): void {
    if (this.st.release.run(member).changes > 0) this.dirty = true;
  }

  /** Applies retention to one topic (a bounded step); returns records removed. */
  private trimNow(topicId: number, now: number): number {
    const t = this.st.topicById.get(topicId);
    if (!t) return 0;
    const maxAge = t.max_age_ms ?? this.defaultRetention.max_age_ms;
    const maxBytes = t.max_bytes ?? this.defaultRetention.max_bytes;
    if (!(maxAge > 0) && !(maxBytes > 0)) return 0;
    const lo = t.topic_id * SHIFT;
    const cutoff = maxAge > 0 ? now - maxAge : -Infinity;
    let bytes = t.bytes;
    let removedBytes = 0;
    let removed = 0;
    let firstOff = t.first_offset;
    const holding = this.st.chunkAt.get(lo, lo + firstOff);
    let at = holding ? holding.rid : lo + firstOff;
    outer: while (removed < TRIM_CHUNK) {
      const spans = this.st.chunkSpans.all(at, lo + t.next_offset, 16);
      if (spans.length === 0) break;
      for (const sp of spans) {
        const start = sp.rid - lo;
        if (start + sp.n <= firstOff) continue;
        if (this.chunkTs(sp.rid) < cutoff) {
          // All of the chunk was appended at once: the rest of it is past its age.
          const sizes = this.chunkSizes(sp.rid);
          for (let i = firstOff - start; i < sp.n; i++) {
            bytes -= sizes[i];
            removedBytes += sizes[i];
          }
          removed += start + sp.n - firstOff;
          firstOff = start + sp.n;
          continue;
        }
        if (!(maxBytes > 0 && bytes > maxBytes)) break outer;
        const sizes = this.chunkSizes(sp.rid);
        for (let i = firstOff - start; i < sp.n; i++) {
          if (!(bytes > maxBytes)) break outer;
          bytes -= sizes[i];
          removedBytes += sizes[i];
          removed++;
          firstOff = start + i + 1;
        }
      }
      at = spans[spans.length - 1].rid + 1;
    }
    if (removed === 0) return 0;
    // Chunks wholly below the new first offset go; one partly below stays (its head is unreadable).
    const keep = this.st.chunkAt.get(lo, lo + firstOff);
    const cut = keep && keep.rid - lo + keep.n > firstOff ? keep.rid : lo + firstOff;
    this.st.deleteChunks.run(lo, cut);
    for (const rid of [...this.cache.keys()]) if (rid >= lo && rid < cut) this.cache.delete(rid);
    this.st.trimDone.run(firstOff, removedBytes, t.topic_id);
    return removed;
  }

  private chunkTs(rid: number): number {
    return this.cache.peek(rid)?.ts ?? this.st.chunkMeta.get(rid)!.ts;
  }

  /** Each record's size as `recordSize` counts it. */
  private chunkSizes(rid: number): number[] {
    const c = this.cache.get(rid);
    if (c) return c.values.map((v, i) => recordSize(c.ids[i], c.keys?.[i], v));
    const m = this.st.chunkMeta.get(rid)!;
    const { ids, keys } = chunkIdsKeys(m);
    const out: number[] = new Array(m.n);
    forEachRecord(m, (i, from, end) => (out[i] = end - from + ids[i].length + (keys?.[i]?.length ?? 0)));
    return out;
  }

  // ---- the EventLog contract ----

  // async: a refused append rejects like any other failure (the enqueue still happens in the
  // caller's tick, so appends keep their call order).
  async append(topic: string, events: LogEvent[]): Promise<AppendResult[]> {
    checkTopic(topic);
    checkEvents(events);
    if (events.length === 0) return [];
    return this.enqueue(() => this.appendNow(topic, events, this.clock.now()), events.length);
  }

  async read(topic: string, fromOffset: number, max: number): Promise<LogRecord[]> {
    checkTopic(topic);
    if (this.closed) throw new CascadeError(LogErrors.closed, 'the event log is closed');
    const t = this.st.topicByName.get(topic);
    if (!t || max <= 0) return [];
    return this.recordsIn(t, fromOffset, t.next_offset, max).map((r) => toRecord(topic, r, 0));
  }

  async consumer(group: string, topics: string[], opts: ConsumerOptions = {}): Promise<Consumer> {
    checkConsumer(group, topics);
    const c = new SqliteConsumer(this, group, [...topics], opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS, opts.startAt ?? 'earliest');
    // Creates the group (fixing its start position) now rather than at the first fetch.
    await this.enqueue(() => {
      for (const t of topics) this.group(group, this.topic(t), c.startAt);
    });
    this.consumers.add(c);
    return c;
  }

  async lag(group: string, topic: string): Promise<number> {
    checkTopic(topic);
    const t = this.st.topicByName.get(topic);
    if (!t) return 0;
    const g = this.st.group.get(group, t.topic_id);
    if (!g) return t.next_offset - t.first_offset;
    const from = Math.max(g.dispatched, t.first_offset);
    return Math.max(0, t.next_offset - from) + this.st.leaseCount.get(t.first_offset, g.gid, t.first_offset)!.n;
  }

  async setRetention(topic: string, opts: RetentionOptions): Promise<void> {
    checkTopic(topic);
    await this.enqueue(() => {
      const t = this.topic(topic);
      this.st.setRetention.run(opts.maxAgeMs ?? null, opts.maxBytes ?? null, t.topic_id);
    });
  }

  /** Applies retention to every topic now (also runs every `trim_interval_ms`). Returns records removed. */
  async trim(): Promise<number> {
    if (this.closed) return 0;
    let total = 0;
    for (const t of this.st.allTopics.all()) {
      for (;;) {
        const n = await this.enqueue(() => this.trimNow(t.topic_id, this.clock.now()), 1, false);
        total += n;
        if (n < TRIM_CHUNK || this.closed) break;
      }
    }
    return total;
  }

  /** Internal: used by consumers. */
  run<T>(f: () => T, weight = 1, durable = true): Promise<T> {
    return this.enqueue(f, weight, durable);
  }

  /**
   * Resolves on the next change that may give a waiting fetch work, or after `ms`.
   * This process's commits signal at once; commits of other processes are noticed by one
   * poller per log (not one per consumer), which reads `PRAGMA data_version` every
   * poll_interval_ms while any fetch waits.
   */
  awaitChange(ms: number): Promise<void> {
    if (this.waiting++ === 0) {
      this.dataVersion ??= this.db.prepare('PRAGMA data_version').pluck();
      this.seenDataVersion = this.dataVersion.get() as number;
      this.poller = setInterval(() => {
        if (this.closed) return;
        const v = this.dataVersion!.get() as number;
        if (v !== this.seenDataVersion) {
          this.seenDataVersion = v;
          this.changes.emit('change');
        }
      }, this.cfg.poll_interval_ms);
      this.poller.unref();
    }
    return waitForChange(this.changes, ms).finally(() => {
      if (--this.waiting === 0) clearInterval(this.poller);
    });
  }
  private waiting = 0;
  private poller: NodeJS.Timeout | undefined;
  private dataVersion: Statement | undefined;
  private seenDataVersion = 0;

  forget(c: SqliteConsumer): void {
    this.consumers.delete(c);
  }

  isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const c of [...this.consumers]) await c.close();
    clearInterval(this.trimTimer);
    // Let queued writes commit before closing.
    await this.writes.close();
    this.closed = true;
    this.changes.emit('change');
    await this.walSync?.close();
    this.db.close();
  }
}

/** cyrb53: a fast 53-bit string hash (public domain, bryc). */
function hash53(str: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function toRecord(topic: string, r: Rec, deliveries: number): LogRecord {
  const rec: LogRecord = { topic, offset: r.off, id: r.id, value: r.value, timestamp: r.ts, deliveries };
  if (r.key !== null) rec.key = r.key;
  return rec;
}

/** The values as one buffer when they already lie back to back in memory (no copy needed). */
function adjacent(evs: LogEvent[]): Buffer | undefined {
  const first = evs[0].value;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < evs.length; i++) {
    const v = evs[i].value;
    if (v.buffer !== first.buffer || v.byteOffset !== end) return undefined;
    end += v.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}

/** A chunk's record ids and keys (null when no record of the chunk has a key). */
function chunkIdsKeys(row: ChunkMetaRow): { ids: string[]; keys: (string | null)[] | null } {
  return { ids: JSON.parse(row.ids) as string[], keys: row.keys === null ? null : (JSON.parse(row.keys) as (string | null)[]) };
}

/** Each record's byte range [from, end) in the chunk's data (`ends`: one u32 LE end offset per record). */
function forEachRecord(row: ChunkMetaRow, each: (i: number, from: number, end: number) => void): void {
  let from = 0;
  for (let i = 0; i < row.n; i++) {
    const end = row.ends.readUInt32LE(4 * i);
    each(i, from, end);
    from = end;
  }
}

function decodeChunk(lo: number, row: ChunkRow): Chunk {
  const { ids, keys } = chunkIdsKeys(row);
  const values: Buffer[] = new Array(row.n);
  forEachRecord(row, (i, from, end) => (values[i] = row.data.subarray(from, end)));
  return { rid: row.rid, start: row.rid - lo, n: row.n, ts: row.ts, ids, keys, values, bytes: row.data.length };
}

class SqliteConsumer implements Consumer {
  readonly member = randomUUID();
  private closed = false;
  private rotate = 0;

  constructor(
    private readonly log: SqliteEventLog,
    readonly group: string,
    readonly topics: string[],
    readonly ackWaitMs: number,
    readonly startAt: 'earliest' | 'latest',
  ) {}

  async fetch(max: number, waitMs: number): Promise<LogRecord[]> {
    if (this.closed) throw new CascadeError(LogErrors.closed, 'the consumer is closed');
    if (!(max > 0)) return [];
    const deadline = Date.now() + Math.max(0, waitMs);
    for (;;) {
      const seen = this.log.version;
      // Start at a different topic each time so one busy topic does not starve the others.
      const order = this.topics.length > 1 ? [...this.topics.slice(this.rotate), ...this.topics.slice(0, this.rotate)] : this.topics;
      this.rotate = (this.rotate + 1) % this.topics.length;
      // Leases need not wait for the fsync: one lost with the machine only means a redelivery.
      const recs = await this.log.run(() => this.log.fetchNow(this.member, this.group, order, max, this.ackWaitMs, this.startAt, this.log.clock.now()), 1, false);
      const left = deadline - Date.now();
      if (recs.length > 0 || left <= 0 || this.closed || this.log.isClosed()) return recs;
      if (this.log.version !== seen) continue;
      // Idle: wake on a commit of this or another process, or when a lease may have run
      // out (redelivery), so an idle consumer costs no transaction per poll tick.
      await this.log.awaitChange(Math.min(left, LEASE_RECHECK_MS, this.ackWaitMs));
    }
  }

  async ack(records: LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.log.run(() => this.log.ackNow(this.group, records), records.length);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.log.forget(this);
    if (!this.log.isClosed()) await this.log.run(() => this.log.releaseNow(this.member), 1, false);
  }
}

/** How often an idle fetch looks for leases that ran out (at most its consumer's ack wait). */
const LEASE_RECHECK_MS = 1000;

function waitForChange(em: EventEmitter, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      em.off('change', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    em.on('change', done);
  });
}
