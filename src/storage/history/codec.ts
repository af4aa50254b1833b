// Cross-revision compression for key_rev_value buckets (`compression: history`, issue 6).
//
// Every stored render of a key is one APPEND-ONLY history row: either a brotli snapshot of the
// whole body, or a brotli-compressed copy/insert delta (delta.ts) against one earlier row, its
// `base`. The rows of a key form a tree (racing writers may add siblings on the same base, that
// is harmless); a row is rebuilt by applying the deltas on the path from its snapshot root.
//
// Shape of the tree (two levels, bounded depth M = max_chain, run length F = max(1, ⌊M/2⌋)):
//   snapshot ─ K1 ─ K2 ─ … ─ Kj            keyframes: delta against the previous keyframe
//       └ l l l  └ l l l   └ l l l          leaves: delta against the previous revision,
//                                           at most F-1 after their keyframe
// A leaf is cheap (diff of neighbours: ~0.4 KB on the parser-tests history); a keyframe is a
// diff across F revisions (~9 KB); a snapshot (~100 KB) is only needed every ~F·(M-F+2)
// revisions instead of every M. Each row stores its `depth` (deltas from the snapshot) and `run`
// (leaf steps since its keyframe; 0 for keyframes and snapshots), so a writer plans the next row
// from the metadata of the latest row alone, and depth ≤ M holds by construction.
//
// Columns a backend stores per history row (besides key, rev, tid, content type, headers):
//   kind      'snapshot' | 'delta' (equivalently: base_tid IS NULL)
//   base_rev  integer | null      base_tid  tid | null   — the row this delta applies to
//   depth     integer 0..M         run       integer 0..F-1
//   payload   bytes                — brotli(body) for a snapshot, brotli(delta) for a delta
//   base_only boolean             — retention removed it, but a kept row still builds on it:
//                                    never returned by reads or listings, only used in chains
// plus one mutable "latest copy" per key (rev, tid, brotli(body)), rewritten on every newer
// write and rebuilt from the chain when missing. See README.md for the SQL recipe.
import { brotliCompressSync, brotliDecompressSync, constants as Z } from 'node:zlib';
import { applyDelta, createDelta, DeltaFormatError, parseDelta, type ParsedDelta } from './delta.ts';
import { BoundedMap } from '../../util/bounded-map.ts';

export interface RowRef {
  rev: number;
  tid: string;
}

/** Chain metadata of a stored history row. */
export interface ChainMeta extends RowRef {
  kind: 'snapshot' | 'delta';
  baseRev: number | null;
  baseTid: string | null;
  depth: number;
  run: number;
}

export interface HistoryRow extends ChainMeta {
  payload: Buffer;
}

export interface HistoryOptions {
  /** Most delta steps needed to rebuild any revision (bucket config `history.max_chain`). */
  maxChain: number;
  /** Brotli quality of snapshots and of the latest copy (default 4, as `compression: brotli`: q5+ is 1.5-2x slower). */
  snapshotQuality?: number;
  /** Brotli quality of deltas (default 9: as small as 11 on leaf deltas, ~20x faster). */
  deltaQuality?: number;
}

/** What the next row of a key will be, decided from the latest row's metadata only. */
export type RevisionPlan =
  | { kind: 'snapshot'; depth: 0; run: 0 }
  | {
      kind: 'delta';
      depth: number;
      run: number;
      /** The base is an ancestor (or the row itself) of `chainOf`, at depth `baseDepth`. */
      chainOf: RowRef;
      baseDepth: number;
      /** True when the base is `chainOf` itself, so the latest copy can serve as base body. */
      baseIsLatest: boolean;
    };

/** A row ready to insert: the plan resolved against its actual base. */
export interface EncodedRevision {
  kind: 'snapshot' | 'delta';
  baseRev: number | null;
  baseTid: string | null;
  depth: number;
  run: number;
  payload: Buffer;
}

export class HistoryChainError extends Error {
  constructor(msg: string, options?: { cause?: unknown }) {
    super(`history chain: ${msg}`, options);
    this.name = 'HistoryChainError';
  }
}

export function runLength(maxChain: number): number {
  return Math.max(1, Math.floor(maxChain / 2));
}

function checkMaxChain(m: number): void {
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`max_chain must be a positive integer, got ${m}`);
}

/**
 * Plans the row for a new revision given the key's latest row (by rev, then tid), or undefined
 * for a key without a usable row (none yet, or the latest is expired/base_only: start afresh).
 */
export function planRevision(latest: ChainMeta | undefined, opts: HistoryOptions): RevisionPlan {
  const m = opts.maxChain;
  checkMaxChain(m);
  if (!latest) return { kind: 'snapshot', depth: 0, run: 0 };
  const f = runLength(m);
  if (latest.run + 1 <= f - 1 && latest.depth + 1 <= m) {
    return { kind: 'delta', depth: latest.depth + 1, run: latest.run + 1, chainOf: ref(latest), baseDepth: latest.depth, baseIsLatest: true };
  }
  // Next keyframe: against the keyframe (or snapshot) the latest row hangs off, if its leaves fit.
  const anchorDepth = latest.depth - latest.run;
  if (anchorDepth >= 0 && anchorDepth + 1 + (f - 1) <= m) {
    return { kind: 'delta', depth: anchorDepth + 1, run: 0, chainOf: ref(latest), baseDepth: anchorDepth, baseIsLatest: latest.run === 0 };
  }
  return { kind: 'snapshot', depth: 0, run: 0 };
}

function ref(r: RowRef): RowRef {
  return { rev: r.rev, tid: r.tid };
}

function lgwinFor(len: number): number {
  let w = 16;
  while (w < 24 && 1 << w < len + 16) w++;
  return w;
}

function brotli(buf: Buffer, quality: number, maxLgwin = 24): Buffer {
  return brotliCompressSync(buf, {
    params: {
      [Z.BROTLI_PARAM_QUALITY]: quality,
      [Z.BROTLI_PARAM_LGWIN]: Math.min(maxLgwin, lgwinFor(buf.length)),
      [Z.BROTLI_PARAM_SIZE_HINT]: buf.length,
    },
  });
}

function unbrotli(buf: Buffer, what: string): Buffer {
  try {
    return brotliDecompressSync(buf);
  } catch (e) {
    throw new HistoryChainError(`${what}: payload is not valid brotli`, { cause: e });
  }
}

/**
 * The latest copy's stored bytes (HTTP content-coding `br`), servable as they are. A snapshot
 * row's payload has the same format, so a snapshot write compresses the body only once.
 */
export function compressLatest(body: Buffer, opts?: Pick<HistoryOptions, 'snapshotQuality'>): Buffer {
  return brotli(body, opts?.snapshotQuality ?? 4);
}

export function decompressLatest(stored: Buffer): Buffer {
  return unbrotli(stored, 'latest copy');
}

/**
 * Encodes `body` as planned. `base` is the row at `plan.baseDepth` on the chain of
 * `plan.chainOf` and `baseBody` its content (required for a delta plan). `latestStored`, when
 * given for a snapshot plan, is reused as payload (it is brotli(body) already).
 */
export function encodeRevision(
  plan: RevisionPlan,
  body: Buffer,
  base: { row: ChainMeta; body: Buffer } | undefined,
  opts: HistoryOptions,
  latestStored?: Buffer,
): EncodedRevision {
  if (plan.kind === 'snapshot') {
    return { kind: 'snapshot', baseRev: null, baseTid: null, depth: 0, run: 0, payload: latestStored ?? compressLatest(body, opts) };
  }
  if (!base) throw new HistoryChainError('a delta plan needs its base row and body');
  if (base.row.depth !== plan.baseDepth) {
    throw new HistoryChainError(`base row is at depth ${base.row.depth}, the plan expects ${plan.baseDepth}`);
  }
  const delta = createDelta(base.body, body);
  // A delta that is mostly literals (an unrelated revision) is worse than a snapshot, and a
  // snapshot also cuts the chain short.
  if (delta.length > body.length / 2 + 64) {
    return { kind: 'snapshot', baseRev: null, baseTid: null, depth: 0, run: 0, payload: latestStored ?? compressLatest(body, opts) };
  }
  return {
    kind: 'delta',
    baseRev: base.row.rev,
    baseTid: base.row.tid,
    depth: plan.depth,
    run: plan.run,
    // Quality 9 in a 64 KB window: on the parser-tests history a leaf delta comes out as small
    // as at 10/11 (195 vs 215 B) in 0.06 ms instead of 1.1 ms, a 9 KB keyframe delta 8 % larger
    // in 0.3 ms instead of 13 ms (write p99 is the target this buys).
    payload: brotli(delta, opts.deltaQuality ?? 9, 16),
  };
}

/**
 * Rebuilds the body of the last row of a chain. `rows` are the target and all its ancestors
 * up to the snapshot, in any order (e.g. as a recursive SQL query returns them); the links
 * (base_rev/base_tid) and depths are verified, so a broken chain fails loudly.
 */
export function decodeChain(rows: readonly HistoryRow[], target?: RowRef): Buffer {
  const chain = orderChain(rows, target);
  const snap = chain[0];
  const body = unbrotli(snap.payload, `snapshot ${snap.rev}/${snap.tid}`);
  if (chain.length === 1) return body;
  return applyParsed(body, chain.slice(1));
}

/** A stored chain row with the sha256 of its decoded body (all zeros: unknown, never cached). */
export interface StoredChainRow extends HistoryRow {
  hash: Buffer | null;
}

/**
 * Rebuilds the body of `target` from its chain rows like decodeChain, but starts from the
 * deepest ancestor whose body `cache` holds (checked against the row's body hash, so a stale
 * entry can never be used), and caches the target's anchor (its keyframe or snapshot): a later
 * read of any leaf of that keyframe then costs at most F-1 small deltas.
 */
export function decodeCached(rows: readonly StoredChainRow[], target: RowRef, cache: BodyCache | undefined, idOf: (r: RowRef) => string): Buffer {
  const chain = orderChain(rows, target) as StoredChainRow[];
  let start = -1;
  let body: Buffer | undefined;
  if (cache) {
    for (let i = chain.length - 1; i >= 0 && !body; i--) {
      body = cache.get(idOf(chain[i]), chain[i].hash);
      if (body) start = i;
    }
  }
  if (!body) {
    start = 0;
    body = unbrotli(chain[0].payload, `snapshot ${chain[0].rev}/${chain[0].tid}`);
    cache?.set(idOf(chain[0]), chain[0].hash, body);
  } else if (start === chain.length - 1) {
    return Buffer.from(body); // a copy: callers own what they get, the cache keeps its entry
  }
  let anchor = start;
  for (let i = chain.length - 1; i > start; i--) {
    if (chain[i].run === 0) {
      anchor = i;
      break;
    }
  }
  if (anchor > start) {
    body = applyParsed(body, chain.slice(start + 1, anchor + 1));
    cache?.set(idOf(chain[anchor]), chain[anchor].hash, body);
  }
  if (anchor < chain.length - 1) return applyParsed(body, chain.slice(anchor + 1));
  return cache ? Buffer.from(body) : body; // the target is the cached anchor itself
}

function applyParsed(base: Buffer, rows: readonly HistoryRow[]): Buffer {
  const deltas: ParsedDelta[] = [];
  for (const r of rows) {
    try {
      deltas.push(parseDelta(unbrotli(r.payload, `delta ${r.rev}/${r.tid}`)));
    } catch (e) {
      if (e instanceof DeltaFormatError) throw new HistoryChainError(`row ${r.rev}/${r.tid}: ${e.message}`, { cause: e });
      throw e;
    }
  }
  try {
    return applyChain(base, deltas);
  } catch (e) {
    if (e instanceof DeltaFormatError) throw new HistoryChainError(e.message, { cause: e });
    throw e;
  }
}

/**
 * The payload of a delta row turning `base` into `body` (used when a row is re-encoded in
 * place: its depth is fixed by its dependants, so it must stay a delta whatever its size).
 */
export function encodeDeltaPayload(base: Buffer, body: Buffer, opts: HistoryOptions): Buffer {
  const delta = createDelta(base, body);
  return brotli(delta, opts.deltaQuality ?? 9, 16);
}

/**
 * A bounded LRU of decoded bodies of history rows (keyframes, snapshots and the latest body
 * of recently written keys), keyed by row identity and validated by the row's body hash.
 */
export class BodyCache {
  private readonly map: BoundedMap<string, { hash: Buffer; body: Buffer }>;
  constructor(readonly maxBytes: number) {
    this.map = new BoundedMap({ maxEntries: Number.MAX_SAFE_INTEGER, maxBytes });
  }

  get(id: string, hash: Buffer | null | undefined): Buffer | undefined {
    if (!usableHash(hash)) return undefined;
    const e = this.map.get(id);
    if (!e) return undefined;
    if (!e.hash.equals(hash)) {
      this.map.delete(id);
      return undefined;
    }
    return e.body;
  }

  set(id: string, hash: Buffer | null | undefined, body: Buffer): void {
    if (!usableHash(hash) || body.length > this.maxBytes / 4) return;
    this.map.set(id, { hash: Buffer.from(hash), body }, body.length);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}

// Rows written without a body hash (skipUnchanged: false outside history buckets) store zeros.
function usableHash(h: Buffer | null | undefined): h is Buffer {
  if (!h || h.length !== 32) return false;
  for (let i = 0; i < 32; i++) if (h[i] !== 0) return true;
  return false;
}

/** Orders chain rows from the snapshot to the target and checks every link. */
export function orderChain(rows: readonly HistoryRow[], target?: RowRef): HistoryRow[] {
  if (rows.length === 0) throw new HistoryChainError('no rows');
  const byId = new Map<string, HistoryRow>();
  for (const r of rows) byId.set(idOf(r.rev, r.tid), r);
  let cur: HistoryRow | undefined;
  if (target) {
    cur = byId.get(idOf(target.rev, target.tid));
    if (!cur) throw new HistoryChainError(`target ${target.rev}/${target.tid} is not among the rows`);
  } else {
    cur = rows.reduce((a, b) => (b.depth > a.depth ? b : a));
  }
  const out: HistoryRow[] = [];
  for (;;) {
    out.push(cur);
    if (out.length > rows.length) throw new HistoryChainError('cycle in base links');
    if (cur.kind === 'snapshot' || cur.baseTid === null) {
      if (cur.depth !== 0) throw new HistoryChainError(`snapshot ${cur.rev}/${cur.tid} has depth ${cur.depth}`);
      break;
    }
    const base: HistoryRow | undefined = byId.get(idOf(cur.baseRev as number, cur.baseTid));
    if (!base) throw new HistoryChainError(`base ${cur.baseRev}/${cur.baseTid} of ${cur.rev}/${cur.tid} is missing`);
    if (base.depth !== cur.depth - 1) throw new HistoryChainError(`depth of ${cur.rev}/${cur.tid} does not follow its base`);
    cur = base;
  }
  return out.reverse();
}

function idOf(rev: number, tid: string): string {
  return `${rev}\u0000${tid.toLowerCase()}`;
}

/**
 * Appends to a piece table of `m` pieces the piece `len` bytes long read at `from` of source
 * `s`, placed at `pos`: merged into the last piece when it continues it. Returns the new count.
 */
function appendPiece(src: Int32Array, start: Float64Array, ends: Float64Array, m: number, s: number, from: number, pos: number, len: number): number {
  if (m > 0 && src[m - 1] === s && start[m - 1] + (ends[m - 1] - (m > 1 ? ends[m - 2] : 0)) === from) {
    ends[m - 1] += len;
    return m;
  }
  src[m] = s;
  start[m] = from;
  ends[m] = pos + len;
  return m + 1;
}

/**
 * Applies several deltas in a row without materialising the intermediate bodies: the document
 * is kept as a piece table over the snapshot and the deltas' literal bytes, and only the final
 * body is copied out. Costs O(ops · log pieces) per step instead of O(body size).
 */
export function applyChain(snapshot: Buffer, deltas: readonly ParsedDelta[]): Buffer {
  if (deltas.length === 0) return snapshot;
  if (deltas.length === 1) return applyDelta(snapshot, deltas[0]);
  const bufs: Buffer[] = [snapshot];
  // Piece i covers document bytes [ends[i-1], ends[i]) and reads them from bufs[src[i]] at start[i].
  let cap = 1024;
  let src = new Int32Array(cap);
  let start = new Float64Array(cap);
  let ends = new Float64Array(cap);
  let n = 1;
  ends[0] = snapshot.length;
  let total = snapshot.length;
  let nSrc = new Int32Array(cap);
  let nStart = new Float64Array(cap);
  let nEnds = new Float64Array(cap);
  for (const d of deltas) {
    if (d.baseLen !== total) throw new DeltaFormatError(`base length ${total} != ${d.baseLen}`);
    const bi = bufs.push(d.data) - 1;
    let m = 0;
    let pos = 0;
    const ops = d.ops;
    for (let k = 0; k < d.opCount; k++) {
      const kind = ops[k * 3];
      const a = ops[k * 3 + 1];
      const len = ops[k * 3 + 2];
      // Worst case this op adds as many pieces as the current document has, plus one.
      if (m + (kind === 0 ? 1 : n) + 1 > nSrc.length) {
        const grow = Math.max(nSrc.length * 2, m + n + 2);
        const s2 = new Int32Array(grow);
        s2.set(nSrc.subarray(0, m));
        const st2 = new Float64Array(grow);
        st2.set(nStart.subarray(0, m));
        const e2 = new Float64Array(grow);
        e2.set(nEnds.subarray(0, m));
        nSrc = s2;
        nStart = st2;
        nEnds = e2;
      }
      if (kind === 0) {
        m = appendPiece(nSrc, nStart, nEnds, m, bi, a, pos, len);
        pos += len;
        continue;
      }
      // Copy [a, a+len) of the current document: find the first piece ending after a.
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ends[mid] > a) hi = mid;
        else lo = mid + 1;
      }
      let at = a;
      let left = len;
      for (let j = lo; left > 0; j++) {
        const pStart = j > 0 ? ends[j - 1] : 0;
        const take = Math.min(left, ends[j] - at);
        const s = src[j];
        const from = start[j] + (at - pStart);
        m = appendPiece(nSrc, nStart, nEnds, m, s, from, pos, take);
        pos += take;
        at += take;
        left -= take;
      }
    }
    // Swap the buffers: the new table becomes current, the old one is reused next step.
    [src, nSrc] = [nSrc, src];
    [start, nStart] = [nStart, start];
    [ends, nEnds] = [nEnds, ends];
    n = m;
    total = d.targetLen;
    cap = Math.max(cap, src.length);
  }
  const out = Buffer.allocUnsafe(total);
  let prev = 0;
  for (let j = 0; j < n; j++) {
    bufs[src[j]].copy(out, prev, start[j], start[j] + ends[j] - prev);
    prev = ends[j];
  }
  return out;
}

/**
 * Retention over a key's rows: which expired rows can be deleted now, and which must stay
 * (marked base_only) because a kept row still builds on them. Kept rows are never touched.
 */
export function planPurge(
  rows: readonly ChainMeta[],
  expired: (r: ChainMeta) => boolean,
): { remove: RowRef[]; keepAsBase: RowRef[] } {
  const byId = new Map<string, ChainMeta>();
  for (const r of rows) byId.set(idOf(r.rev, r.tid), r);
  const needed = new Set<string>();
  for (const r of rows) {
    if (expired(r)) continue;
    let cur: ChainMeta | undefined = r;
    while (cur && cur.baseTid !== null) {
      const id = idOf(cur.baseRev as number, cur.baseTid);
      if (needed.has(id)) break;
      needed.add(id);
      cur = byId.get(id);
    }
  }
  const remove: RowRef[] = [];
  const keepAsBase: RowRef[] = [];
  for (const r of rows) {
    if (!expired(r)) continue;
    (needed.has(idOf(r.rev, r.tid)) ? keepAsBase : remove).push(ref(r));
  }
  return { remove, keepAsBase };
}

/**
 * The base of a delta plan, from the rows of `plan.chainOf`'s chain (snapshot … chainOf, in any
 * order): the ancestor at `plan.baseDepth` and its rebuilt body.
 */
export function baseFromChain(rows: readonly HistoryRow[], plan: RevisionPlan & { kind: 'delta' }): { row: ChainMeta; body: Buffer } {
  const chain = orderChain(rows, plan.chainOf);
  const upTo = chain.slice(0, plan.baseDepth + 1);
  const row = upTo[upTo.length - 1];
  if (!row || row.depth !== plan.baseDepth) throw new HistoryChainError(`no row at depth ${plan.baseDepth} on the chain`);
  return { row, body: decodeChain(upTo, row) };
}
