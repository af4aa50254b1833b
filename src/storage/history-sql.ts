// `compression: history` on a SQL backend: the decisions of a put (plan, base, encoding, which
// rows to write), shared by sqlite.ts and postgres.ts. The backends only fetch what a step asks
// for and run the statements; see history/README.md for the schema and the transaction rules.
import type { PreparedPut } from './common.ts';
import { decodeBody } from './common.ts';
import {
  compressLatest,
  decodeCached,
  encodeDeltaPayload,
  encodeRevision,
  orderChain,
  planRevision,
  type BodyCache,
  type ChainMeta,
  type HistoryOptions,
  type RevisionPlan,
  type RowRef,
  type StoredChainRow,
} from './history/index.ts';
import type { BucketSpec } from './types.ts';

/** `h_kind, base_rev, …` of the newest live row of a key, as selected by the backends. */
export type LatestMetaSql = [rev: number, tidOrder: string, hKind: number | null, baseRev: number | null, baseTidOrder: string | null, depth: number | null, run: number | null, hash: Buffer];
/** A chain row: the meta columns and the payload. */
export type ChainRowSql = [...LatestMetaSql, body: Buffer];
/** `rev, tid_order, encoding, stored` of a key's latest copy. */
export type CopySql = [rev: number, tidOrder: string, encoding: string, stored: Buffer];

/** Default bound on delta steps per read: F = 8 leaves per keyframe, a snapshot every ~80 revisions. */
export const DEFAULT_MAX_CHAIN = 16;

/**
 * Snapshots are brotli 2, not the latest copy's brotli 1: every cold read decodes one, and
 * brotli 1 output decodes ~1.5x slower (3.5 vs 2.3 ms per MB); only every ~80th put pays it.
 */
export function historyOptions(spec: BucketSpec): HistoryOptions {
  return { maxChain: spec.history?.max_chain ?? DEFAULT_MAX_CHAIN, snapshotQuality: 2 };
}

export function historyRowId(bucket: number, key: string, r: RowRef): string {
  return `${bucket}\u0000${key}\u0000${r.rev}\u0000${r.tid}`;
}

// Inside history rows `tid` is the tid order key (what the foreign key references).
function metaOf(r: LatestMetaSql | ChainRowSql): ChainMeta & { hash: Buffer } {
  return {
    rev: r[0],
    tid: r[1],
    kind: r[2] === 0 ? 'snapshot' : 'delta',
    baseRev: r[3],
    baseTid: r[4],
    depth: r[5] ?? 0,
    run: r[6] ?? 0,
    hash: r[7],
  };
}

function newer(rev: number, tidOrder: string, than: RowRef): boolean {
  return rev !== than.rev ? rev > than.rev : tidOrder > than.tid;
}

export interface PendingPut {
  plan: RevisionPlan;
  latest: (ChainMeta & { hash: Buffer }) | undefined;
  /** What the backend must fetch next: nothing, the latest copy, or the chain of `latest`. */
  need: 'none' | 'copy' | 'chain';
  base?: { row: ChainMeta; body: Buffer };
}

export interface EncodedPut {
  /** bucket, key, rev, tid_order, tid, hash, expires_at, written_at, content_type, headers, h_kind, base_rev, base_tid_order, h_depth, h_run, body */
  row: unknown[];
  /** bucket, key, rev, tid_order, tid, expires_at, written_at, content_type, headers, encoding, stored — when the new row is the newest */
  copy?: unknown[];
}

export class HistoryWriter {
  readonly opts: HistoryOptions;
  constructor(
    readonly bucket: number,
    spec: BucketSpec,
    readonly cache: BodyCache,
  ) {
    this.opts = historyOptions(spec);
  }

  private id = (key: string) => (r: RowRef) => historyRowId(this.bucket, key, r);

  /** Step 1: plan against the key's newest live row (undefined: none, or a row from before history). */
  start(key: string, latestRow: LatestMetaSql | undefined): PendingPut {
    const latest = latestRow && latestRow[2] !== null ? metaOf(latestRow) : undefined;
    const plan = planRevision(latest, this.opts);
    if (plan.kind === 'snapshot' || !latest) return { plan, latest, need: 'none' };
    if (plan.baseIsLatest) {
      const body = this.cache.get(this.id(key)(latest), latest.hash);
      if (body) return { plan, latest, need: 'none', base: { row: latest, body } };
      return { plan, latest, need: 'copy' };
    }
    return { plan, latest, need: 'chain' };
  }

  /** Step 2a: the latest copy, usable as base when it is the latest row's. */
  withCopy(pend: PendingPut, copy: CopySql | undefined): void {
    const l = pend.latest as ChainMeta;
    if (copy && copy[0] === l.rev && copy[1] === l.tid) {
      pend.base = { row: l, body: decodeBody(copy[2], copy[3]) };
      pend.need = 'none';
    } else pend.need = 'chain';
  }

  /** Step 2b: the rows of the latest row's chain; the base is the ancestor at the planned depth. */
  withChain(key: string, pend: PendingPut, rows: ChainRowSql[]): void {
    const plan = pend.plan as RevisionPlan & { kind: 'delta' };
    const chain = orderChain(HistoryWriter.chainRows(rows), plan.chainOf) as StoredChainRow[];
    const upTo = chain.slice(0, plan.baseDepth + 1);
    const row = upTo[upTo.length - 1];
    pend.base = { row, body: decodeCached(upTo, row, this.cache, this.id(key)) };
    pend.need = 'none';
  }

  /** Step 3: the row to insert and, when it is the newest, the latest copy to upsert. */
  finish(p: PreparedPut, pend: PendingPut): EncodedPut {
    const enc = encodeRevision(pend.plan, p.body, pend.base, this.opts);
    const row = [
      this.bucket, p.key, p.rev, p.tidOrder, p.tid, p.hash, p.expiresAt, p.writtenAt, p.contentType, p.headersJson,
      enc.kind === 'snapshot' ? 0 : 1, enc.baseRev, enc.baseTid, enc.depth, enc.run, enc.payload,
    ];
    this.remember(p);
    const isNewest = !pend.latest || newer(p.rev, p.tidOrder, pend.latest);
    return isNewest ? { row, copy: this.copyParams(p) } : { row };
  }

  /** The next put of this key uses this body as its base (a copy: the caller owns p.body). */
  private remember(p: PreparedPut): void {
    if (p.body.length <= this.cache.maxBytes / 4) this.cache.set(this.id(p.key)({ rev: p.rev, tid: p.tidOrder }), p.hash, Buffer.from(p.body));
  }

  copyParams(p: PreparedPut): unknown[] {
    return [this.bucket, p.key, p.rev, p.tidOrder, p.tid, p.expiresAt, p.writtenAt, p.contentType, p.headersJson, p.encoding, p.stored];
  }

  /**
   * A render written again under its own (rev, tid) with another body. Rows are immutable for
   * their dependants, so the row keeps its place (base, depth) and gets a payload for the new
   * body, and each direct dependant is re-encoded against the new body (their own bodies do not
   * change, so nothing deeper is touched). `chain` fetches a row's chain.
   */
  rewrite(
    p: PreparedPut,
    same: ChainRowSql,
    children: ChainRowSql[],
    latestRow: LatestMetaSql | undefined,
    chain: (r: RowRef) => ChainRowSql[],
  ): { row: unknown[]; children: { rev: number; tidOrder: string; payload: Buffer }[]; copy?: unknown[] } {
    const id = this.id(p.key);
    const bodyOf = (r: RowRef) => decodeCached(HistoryWriter.chainRows(chain(r)), r, this.cache, id);
    const childBodies = children.map((c) => ({ rev: c[0], tidOrder: c[1], body: bodyOf({ rev: c[0], tid: c[1] }) }));
    const payload =
      same[2] === 0 || same[3] === null || same[4] === null
        ? compressLatest(p.body, this.opts)
        : encodeDeltaPayload(bodyOf({ rev: same[3], tid: same[4] }), p.body, this.opts);
    const row = [p.tid, p.hash, p.expiresAt, p.writtenAt, p.contentType, p.headersJson, payload, this.bucket, p.key, p.rev, p.tidOrder];
    const kids = childBodies.map((c) => ({ rev: c.rev, tidOrder: c.tidOrder, payload: encodeDeltaPayload(p.body, c.body, this.opts) }));
    this.remember(p);
    const latest = latestRow && metaOf(latestRow);
    const isNewest = !latest || (latest.rev === p.rev && latest.tid === p.tidOrder) || newer(p.rev, p.tidOrder, latest);
    return isNewest ? { row, children: kids, copy: this.copyParams(p) } : { row, children: kids };
  }

  static chainRows(rows: ChainRowSql[]): StoredChainRow[] {
    return rows.map((r) => ({ ...metaOf(r), payload: r[8] }));
  }
}
