// A reference implementation of a history bucket over an in-memory row map: the exact steps a
// SQL backend performs (README.md, "Integration recipe"), used by the tests and the benchmark.
import {
  baseFromChain,
  compressLatest,
  decodeChain,
  decompressLatest,
  encodeRevision,
  planPurge,
  planRevision,
  type ChainMeta,
  type HistoryOptions,
  type HistoryRow,
  type RowRef,
} from './codec.ts';

interface LatestCopy extends RowRef {
  stored: Buffer;
}

export interface MemoryRow extends HistoryRow {
  baseOnly: boolean;
}

const id = (rev: number, tid: string): string => `${rev}\u0000${tid}`;

/** Orders rows like the store's "latest": rev, then tid (tids here compare as strings). */
function newer(a: RowRef, b: RowRef): boolean {
  return a.rev !== b.rev ? a.rev > b.rev : a.tid > b.tid;
}

export class MemoryHistoryStore {
  /** Rows by key, keyed by rev+tid: the append-only history table. */
  readonly rows = new Map<string, Map<string, MemoryRow>>();
  /** The mutable latest copy per key; dropping it loses nothing (see `dropLatestCopy`). */
  readonly latest = new Map<string, LatestCopy>();

  constructor(readonly opts: HistoryOptions) {}

  private keyRows(key: string): Map<string, MemoryRow> {
    let m = this.rows.get(key);
    if (!m) this.rows.set(key, (m = new Map()));
    return m;
  }

  /** Newest visible row by (rev, tid): the "latest" a writer plans against. */
  latestMeta(key: string): ChainMeta | undefined {
    let best: MemoryRow | undefined;
    for (const r of this.rows.get(key)?.values() ?? []) if (!r.baseOnly && (!best || newer(r, best))) best = r;
    return best;
  }

  /** The rows a read fetches: the target and its ancestors (a recursive query in SQL). */
  chain(key: string, target: RowRef): HistoryRow[] {
    const m = this.rows.get(key);
    const out: HistoryRow[] = [];
    let cur = m?.get(id(target.rev, target.tid));
    while (cur) {
      out.push(cur);
      cur = cur.baseTid === null ? undefined : m?.get(id(cur.baseRev as number, cur.baseTid));
    }
    return out;
  }

  put(key: string, rev: number, tid: string, body: Buffer): MemoryRow {
    const m = this.keyRows(key);
    if (m.has(id(rev, tid))) throw new Error(`row ${rev}/${tid} exists`);
    const latest = this.latestMeta(key);
    const plan = planRevision(latest, this.opts);
    let base: { row: ChainMeta; body: Buffer } | undefined;
    if (plan.kind === 'delta') {
      const copy = this.latest.get(key);
      if (plan.baseIsLatest && latest && copy && copy.rev === latest.rev && copy.tid === latest.tid) {
        base = { row: latest, body: decompressLatest(copy.stored) };
      } else {
        base = baseFromChain(this.chain(key, plan.chainOf), plan);
      }
    }
    const latestStored = compressLatest(body, this.opts);
    const enc = encodeRevision(plan, body, base, this.opts, latestStored);
    // One transaction in SQL: insert the row (its base must still exist), upsert the copy if newer.
    if (enc.baseTid !== null && !m.has(id(enc.baseRev as number, enc.baseTid))) throw new Error('base vanished');
    const row: MemoryRow = { rev, tid, ...enc, baseOnly: false };
    m.set(id(rev, tid), row);
    // The copy must mirror the newest row: a racing writer of an older tid must not install
    // its body even when the copy is missing (SQL: the upsert's WHERE also checks the rows).
    const copy = this.latest.get(key);
    if ((!copy || newer(row, copy)) && this.latestMeta(key) === row) this.latest.set(key, { rev, tid, stored: latestStored });
    return row;
  }

  get(key: string, rev: number, tid: string): Buffer | undefined {
    const row = this.rows.get(key)?.get(id(rev, tid));
    if (!row || row.baseOnly) return undefined;
    const copy = this.latest.get(key);
    if (copy && copy.rev === rev && copy.tid === tid) return decompressLatest(copy.stored);
    return decodeChain(this.chain(key, row), row);
  }

  /** The latest copy's stored (brotli) bytes, rebuilt from the chain when missing. */
  getLatestStored(key: string): Buffer | undefined {
    const copy = this.latest.get(key);
    if (copy) return copy.stored;
    const meta = this.latestMeta(key);
    if (!meta) return undefined;
    const stored = compressLatest(decodeChain(this.chain(key, meta), meta), this.opts);
    this.latest.set(key, { rev: meta.rev, tid: meta.tid, stored });
    return stored;
  }

  dropLatestCopy(key: string): void {
    this.latest.delete(key);
  }

  /** Applies retention: removes expired rows nobody builds on, hides the others. */
  purge(key: string, expired: (r: ChainMeta) => boolean): { removed: number; hidden: number } {
    const m = this.rows.get(key);
    if (!m) return { removed: 0, hidden: 0 };
    const plan = planPurge([...m.values()], expired);
    for (const r of plan.remove) m.delete(id(r.rev, r.tid));
    for (const r of plan.keepAsBase) (m.get(id(r.rev, r.tid)) as MemoryRow).baseOnly = true;
    const copy = this.latest.get(key);
    if (copy && !m.get(id(copy.rev, copy.tid))) this.latest.delete(key);
    else if (copy && m.get(id(copy.rev, copy.tid))?.baseOnly) this.latest.delete(key);
    return { removed: plan.remove.length, hidden: plan.keepAsBase.length };
  }

  storedBytes(key: string): number {
    let n = 0;
    for (const r of this.rows.get(key)?.values() ?? []) n += r.payload.length;
    return n;
  }
}
