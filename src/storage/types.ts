// The content store contract. Every backend (SQLite, PostgreSQL) implements ContentStore
// and passes the same conformance suite (test/storage/conformance.test.ts).

export type BucketType = 'key_value' | 'key_rev_value';

/**
 * Compression at rest. `history` (issue 6) compresses a key_rev_value revision against its
 * neighbours; the others compress each value alone.
 */
export type Compression = 'none' | 'gzip' | 'brotli' | 'history';

/** HTTP content-coding of stored bytes, so the HTTP layer can send them as they are. */
export type StoredEncoding = 'identity' | 'gzip' | 'br';

export type RetentionPolicy =
  | { policy: 'all' }
  /** Keep the `count` newest revisions (by rev, then tid); older ones go after `grace_seconds`. */
  | { policy: 'latest'; count: number; grace_seconds: number }
  /** Rows expire `ttl_seconds` after they were written. */
  | { policy: 'ttl'; ttl_seconds: number };

export interface BucketSpec {
  domain: string;
  name: string;
  type: BucketType;
  compression: Compression;
  retention: RetentionPolicy;
  /** For compression `history`: most delta steps to rebuild any revision. */
  history?: { max_chain: number };
}

export interface PutRequest {
  domain: string;
  bucket: string;
  key: string;
  /** Required for key_rev_value, ignored for key_value. A non-negative integer. */
  rev?: number;
  /** Render id; generated (time-based UUID v1, now) when absent. */
  tid?: string;
  contentType?: string;
  /** Stored response headers (lower-case names). */
  headers?: Record<string, string>;
  body: Buffer | string;
  /**
   * Conditional put: fail with status `conflict` when the stored latest (for this key, and
   * for key_rev_value this rev) has a tid newer than this time (ms since epoch).
   */
  ifUnmodifiedSince?: number;
  /** Conditional put: fail with status `conflict` when the key (and rev) already exists. */
  ifNotExists?: boolean;
  /**
   * When true (the default), a body byte-identical to the stored latest of the same key
   * (and rev) is not written again: status `unchanged`, the old tid is returned.
   */
  skipUnchanged?: boolean;
}

export type PutStatus = 'created' | 'unchanged' | 'conflict';

export interface PutResult {
  status: PutStatus;
  /** The tid now current for the key/rev: the new one, or the stored one when unchanged/conflict. */
  tid: string;
  rev?: number;
}

export interface StoredRecord {
  key: string;
  /** key_rev_value only. */
  rev?: number;
  tid: string;
  contentType: string | null;
  headers: Record<string, string>;
  /** Encoding of `stored`. */
  encoding: StoredEncoding;
  /** The bytes as they are at rest (compressed with `encoding`), for zero-recompression serving. */
  stored: Buffer;
  /** Decoded body (cached after first call). */
  body(): Buffer;
  /** ms since epoch when the row was written. */
  writtenAt: number;
}

export interface RevisionInfo {
  rev: number;
  tid: string;
  contentType: string | null;
}

export interface Page<T> {
  items: T[];
  /** Opaque token for the next page; absent on the last page. */
  next?: string;
}

export interface ListOptions {
  /** Page size, 1..1000 (default 100). */
  limit?: number;
  pageToken?: string;
}

export interface ContentStore {
  /** Backend name, e.g. 'sqlite' | 'postgres'. */
  readonly backend: string;
  /** Creates tables as needed. Idempotent. */
  declareBucket(spec: BucketSpec): Promise<void>;
  bucket(domain: string, name: string): BucketSpec | undefined;
  put(req: PutRequest): Promise<PutResult>;
  /** Latest value: for key_rev_value the highest rev, and its newest tid. */
  getLatest(domain: string, bucket: string, key: string): Promise<StoredRecord | undefined>;
  /** Newest tid of one revision (key_rev_value). */
  getRev(domain: string, bucket: string, key: string, rev: number): Promise<StoredRecord | undefined>;
  /** One exact render. For key_value, `rev` is ignored. */
  getRevTid(domain: string, bucket: string, key: string, rev: number, tid: string): Promise<StoredRecord | undefined>;
  /** A key's stored renders, newest first (rev desc, tid desc). */
  listRevisions(domain: string, bucket: string, key: string, opts?: ListOptions): Promise<Page<RevisionInfo>>;
  /** Keys in a bucket, in ascending key order. */
  listKeys(domain: string, bucket: string, opts?: ListOptions): Promise<Page<string>>;
  /** Deletes every value of a key; returns whether anything was deleted. */
  deleteKey(domain: string, bucket: string, key: string): Promise<boolean>;
  /** Removes expired rows and revisions past their retention grace; returns rows removed. */
  purgeExpired(now?: number): Promise<number>;
  /** Rows and stored (compressed) body bytes per bucket, expired rows included (a scan: call rarely). */
  bucketSizes(): Promise<BucketSize[]>;
  close(): Promise<void>;
}

export interface BucketSize {
  domain: string;
  bucket: string;
  rows: number;
  bytes: number;
}

/** Limits enforced by every backend (answered with typed errors). */
export const STORAGE_LIMITS = {
  maxKeyBytes: 2048,
  maxBodyBytes: 64 * 1024 * 1024,
  maxRev: Number.MAX_SAFE_INTEGER,
  maxPageSize: 1000,
} as const;
