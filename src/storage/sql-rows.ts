// What the SQL backends (sqlite.ts, postgres.ts) read back, by position, and the one mapping
// from those rows to records and pages: both select the same columns in the same order, so a
// row means the same thing whichever database returned it.
import { StoredRow, keyToken, pageArgs, parseKeyToken, parseRevToken, revToken, type RevCursor } from './common.ts';
import type { ListOptions, Page, RevisionInfo, StoredEncoding } from './types.ts';

/** The columns of a key_value row, in the order of `Row`. */
export const COLS = 'tid, content_type, headers, encoding, body, written_at';
/** The columns of a key_rev_value row (or a latest copy), in the order of `RevRow`. */
export const REV_COLS = `rev, ${COLS}`;
/** The columns of a key's latest copy (history buckets), read as a `RevRow`. */
export const LATEST_COLS = 'rev, tid, content_type, headers, encoding, stored, written_at';

export type Row = [tid: string, contentType: string | null, headers: string | null, encoding: StoredEncoding, body: Buffer, writtenAt: number];
export type RevRow = [rev: number, ...Row];
/** `rev, tid, tid_order, content_type`: a revision listing's row. */
export type ListRow = [rev: number, tid: string, tidOrder: string, contentType: string | null];

export function kvRecord(key: string, r: Row): StoredRow {
  return new StoredRow(key, undefined, r[0], r[1], r[2], r[3], r[4], r[5]);
}

/**
 * A key_rev_value row as a record; `encoding` and `stored` replace the row's own when its bytes
 * come from elsewhere (the latest copy, or a history body rebuilt from its chain).
 */
export function revRecord(key: string, r: RevRow, encoding: StoredEncoding = r[4], stored: Buffer = r[5]): StoredRow {
  return new StoredRow(key, r[0], r[1], r[2], r[3], encoding, stored, r[6]);
}

/** A history row's bytes are a delta or snapshot payload, never servable as they are. */
export function isHistoryRow(r: RevRow): boolean {
  return (r[4] as string) === 'history';
}

/** A revision listing's limit and the cursor its page token carries (validated before any read). */
export function revisionListArgs(opts: ListOptions | undefined): { limit: number; after: RevCursor | undefined } {
  const { limit, token } = pageArgs(opts);
  return { limit, after: token ? parseRevToken(token) : undefined };
}

/** A key listing's limit and the key its page token carries ('' on the first page). */
export function keyListArgs(opts: ListOptions | undefined): { limit: number; after: string } {
  const { limit, token } = pageArgs(opts);
  return { limit, after: token ? parseKeyToken(token) : '' };
}

/** The revisions of a key_value key: its one row (rev 0) on the first page, nothing after. */
export function kvRevisionPage(r: Row | undefined, after: RevCursor | undefined): Page<RevisionInfo> {
  return { items: r && !after ? [{ rev: 0, tid: r[0], contentType: r[1] }] : [] };
}

/** A page of revisions from `limit + 1` listed rows: the extra row only says there is more. */
export function revisionPage(rows: ListRow[], limit: number): Page<RevisionInfo> {
  const more = rows.length > limit;
  if (more) rows.length = limit;
  const items = rows.map((r) => ({ rev: r[0], tid: r[1], contentType: r[3] }));
  const last = rows[rows.length - 1];
  return more ? { items, next: revToken({ rev: last[0], tidOrder: last[2] }) } : { items };
}

/** A page of keys from `limit + 1` listed keys. */
export function keyPage(keys: string[], limit: number): Page<string> {
  const more = keys.length > limit;
  if (more) keys.length = limit;
  return more ? { items: keys, next: keyToken(keys[keys.length - 1]) } : { items: keys };
}

/**
 * Rows and bytes per bucket (`domain, name, n_rows, n_bytes`); `prefix` qualifies the tables
 * (a PostgreSQL schema), `length` is the dialect's byte length of a blob.
 */
export function bucketSizesSql(prefix: string, length: 'LENGTH' | 'OCTET_LENGTH'): string {
  return `SELECT b.domain, b.name, COALESCE(SUM(t.n), 0) AS n_rows, COALESCE(SUM(t.bytes), 0) AS n_bytes FROM ${prefix}buckets b LEFT JOIN (
        SELECT bucket, COUNT(*) AS n, SUM(${length}(body)) AS bytes FROM ${prefix}kv GROUP BY bucket
        UNION ALL SELECT bucket, COUNT(*), SUM(${length}(body)) FROM ${prefix}krv GROUP BY bucket
        UNION ALL SELECT bucket, 0, SUM(${length}(stored)) FROM ${prefix}krv_latest GROUP BY bucket
      ) t ON t.bucket = b.id GROUP BY b.domain, b.name ORDER BY b.domain, b.name`;
}
