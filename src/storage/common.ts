// Logic shared by every storage backend: input validation (typed errors), compression codecs,
// opaque paging tokens, retention helpers and the StoredRecord implementation. Backends only
// translate these decisions into SQL.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CascadeError, Errors } from '../errors/index.ts';
import { isTid, newTid, tidOrderKey, tidTime } from '../util/tid.ts';
import { StorageErrors } from './errors.ts';
import {
  STORAGE_LIMITS,
  type BucketSpec,
  type Compression,
  type ListOptions,
  type PutRequest,
  type PutResult,
  type StoredEncoding,
  type StoredRecord,
} from './types.ts';

// ---------------------------------------------------------------------------------------------
// Validation

export function validateKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new CascadeError(StorageErrors.badKey, 'key must be a non-empty string');
  // Fast path: a short string cannot exceed the byte limit (a UTF-16 unit is at most 3 UTF-8 bytes).
  if (key.length * 3 > STORAGE_LIMITS.maxKeyBytes && Buffer.byteLength(key) > STORAGE_LIMITS.maxKeyBytes) {
    throw new CascadeError(StorageErrors.keyTooLong, `key is ${Buffer.byteLength(key)} bytes; the limit is ${STORAGE_LIMITS.maxKeyBytes}`);
  }
  if (key.indexOf('\u0000') !== -1) throw new CascadeError(StorageErrors.badKey, 'key must not contain NUL');
  // Lone surrogates would not survive a UTF-8 round trip, so the key read back would differ.
  if (LONE_SURROGATE.test(key)) throw new CascadeError(StorageErrors.badKey, 'key is not well-formed Unicode');
  return key;
}

const LONE_SURROGATE = /\p{Cs}/u;

export function validateRev(rev: unknown): number {
  if (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 0 || rev > STORAGE_LIMITS.maxRev) {
    throw new CascadeError(StorageErrors.badRev, `rev must be a non-negative integer, got ${String(rev)}`);
  }
  return rev;
}

/** Parses a revision from a URL segment: digits only. */
export function parseRev(s: string): number {
  if (!/^\d{1,16}$/.test(s)) throw new CascadeError(StorageErrors.badRev, `rev must be a non-negative integer, got ${JSON.stringify(s.slice(0, 40))}`);
  return validateRev(Number(s));
}

export function validateTid(tid: unknown): string {
  if (typeof tid !== 'string' || !isTid(tid)) throw new CascadeError(StorageErrors.badTid, `tid must be a time-based (v1) UUID, got ${JSON.stringify(String(tid).slice(0, 60))}`);
  return tid.toLowerCase();
}

export function validateLimit(limit: number | undefined): number {
  if (limit === undefined) return 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > STORAGE_LIMITS.maxPageSize) {
    throw new CascadeError(StorageErrors.badPageToken, `limit must be an integer in 1..${STORAGE_LIMITS.maxPageSize}`);
  }
  return limit;
}

const BAD_SPEC = (d: string) => new CascadeError(StorageErrors.badBucketSpec, d);

export function validateSpec(spec: BucketSpec): BucketSpec {
  if (!spec || typeof spec.domain !== 'string' || spec.domain === '' || typeof spec.name !== 'string' || spec.name === '') throw BAD_SPEC('bucket needs a domain and a name');
  if (spec.type !== 'key_value' && spec.type !== 'key_rev_value') throw BAD_SPEC(`unknown bucket type ${String(spec.type)}`);
  if (!(spec.compression in CODECS)) throw BAD_SPEC(`unknown compression ${String(spec.compression)}`);
  const r = spec.retention;
  if (r.policy === 'latest') {
    if (!Number.isInteger(r.count) || r.count < 1) throw BAD_SPEC('retention latest needs count >= 1');
    if (!Number.isInteger(r.grace_seconds ?? 0) || (r.grace_seconds ?? 0) < 0) throw BAD_SPEC('retention grace_seconds must be >= 0');
    if (spec.type === 'key_value') throw BAD_SPEC('retention latest applies to key_rev_value buckets');
  } else if (r.policy === 'ttl') {
    if (!(r.ttl_seconds > 0)) throw BAD_SPEC('retention ttl needs ttl_seconds > 0');
  } else if (r.policy !== 'all') throw BAD_SPEC(`unknown retention policy ${String((r as { policy: unknown }).policy)}`);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Compression. Stored bytes keep their HTTP content-coding so they can be served as they are.

export interface Codec {
  encoding: StoredEncoding;
  encodeSync(b: Buffer): Buffer;
  encode(b: Buffer): Promise<Buffer>;
}

const gzipAsync = promisify(zlib.gzip);
const brotliAsync = promisify(zlib.brotliCompress);
// Levels chosen for put throughput on 50 KB HTML (corpus pages, measured per CPU-second):
// gzip 3 is ~1.8x faster than gzip 6 for 6 % more bytes; brotli 2 is ~2.6x faster than
// brotli 4 for 5 % more bytes and still smaller than gzip 6. Brotli's default, 11, would be
// ~100x slower than brotli 2 and cap puts far below the throughput target.
const GZIP_OPTS: zlib.ZlibOptions = { level: 3 };
const BROTLI_SMALL: zlib.BrotliOptions = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 2, [zlib.constants.BROTLI_PARAM_LGWIN]: 18 } };
const BROTLI_LARGE: zlib.BrotliOptions = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 2 } };
// A 256 KB window covers a typical render whole and makes each call ~20 % cheaper than the
// default 4 MB window, whose buffers are set up per call.
const brotliOpts = (b: Buffer) => (b.length <= 1 << 18 ? BROTLI_SMALL : BROTLI_LARGE);

const identity: Codec = { encoding: 'identity', encodeSync: (b) => b, encode: (b) => Promise.resolve(b) };
const gzip: Codec = { encoding: 'gzip', encodeSync: (b) => zlib.gzipSync(b, GZIP_OPTS), encode: (b) => gzipAsync(b, GZIP_OPTS) };
const brotli: Codec = {
  encoding: 'br',
  encodeSync: (b) => zlib.brotliCompressSync(b, brotliOpts(b)),
  encode: (b) => brotliAsync(b, brotliOpts(b)),
};

// The latest copy of a `history` bucket (issue 6) is rewritten on every put and stored once per
// key (plus as the payload of a snapshot every ~80 revisions), so it favours speed: brotli 1 is
// ~1.5x faster than brotli 2 on 1 MB of wikitext (4.3 vs 6.7 ms) for ~10 % more bytes.
const BROTLI_FAST_SMALL: zlib.BrotliOptions = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1, [zlib.constants.BROTLI_PARAM_LGWIN]: 18 } };
const BROTLI_FAST_LARGE: zlib.BrotliOptions = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } };
const brotliFastOpts = (b: Buffer) => (b.length <= 1 << 18 ? BROTLI_FAST_SMALL : BROTLI_FAST_LARGE);
const brotliFast: Codec = {
  encoding: 'br',
  encodeSync: (b) => zlib.brotliCompressSync(b, brotliFastOpts(b)),
  encode: (b) => brotliAsync(b, brotliFastOpts(b)),
};

/**
 * The codec lookup. For `history` this is the codec of the per-key latest copy (the servable
 * bytes of the newest render); its rows are deltas, see history/README.md.
 */
const CODECS: Record<Compression, Codec> = { none: identity, gzip, brotli, history: brotliFast };

export function codecFor(c: Compression): Codec {
  return CODECS[c];
}

// Bodies above this are compressed on the libuv thread pool, so one huge body does not block
// the event loop for long. Below it, compression is synchronous: zlib's async path builds a
// stream per call and cost ~1.8x the CPU per 50 KB put (brotli, 64 in flight) for no more
// throughput on this 2-core machine.
const ASYNC_COMPRESS_BYTES = 256 * 1024;

/** Compresses a body for storage; falls back to identity when compression does not help. */
export async function encodeBody(codec: Codec, body: Buffer): Promise<{ encoding: StoredEncoding; stored: Buffer }> {
  if (codec === identity || body.length === 0) return { encoding: 'identity', stored: body };
  const out = body.length > ASYNC_COMPRESS_BYTES ? await codec.encode(body) : codec.encodeSync(body);
  if (out.length >= body.length) return { encoding: 'identity', stored: body };
  return { encoding: codec.encoding, stored: out };
}

export function decodeBody(encoding: StoredEncoding | string, stored: Buffer): Buffer {
  switch (encoding) {
    case 'identity':
      return stored;
    case 'gzip':
      return zlib.gunzipSync(stored);
    case 'br':
      return zlib.brotliDecompressSync(stored);
    default:
      throw new Error(`unknown stored encoding ${encoding}`);
  }
}

/** Content hash for skip-unchanged comparisons (of the decoded body). */
export function bodyHash(body: Buffer): Buffer {
  return createHash('sha256').update(body).digest();
}

// ---------------------------------------------------------------------------------------------
// Records

/** A StoredRecord whose headers and body are decoded lazily: the get hot path touches neither. */
export class StoredRow implements StoredRecord {
  private _body: Buffer | undefined;
  private _headers: Record<string, string> | undefined;
  constructor(
    readonly key: string,
    readonly rev: number | undefined,
    readonly tid: string,
    readonly contentType: string | null,
    private readonly headersJson: string | null,
    readonly encoding: StoredEncoding,
    readonly stored: Buffer,
    readonly writtenAt: number,
  ) {}
  get headers(): Record<string, string> {
    return (this._headers ??= this.headersJson ? (JSON.parse(this.headersJson) as Record<string, string>) : {});
  }
  body(): Buffer {
    return (this._body ??= decodeBody(this.encoding, this.stored));
  }
}

// ---------------------------------------------------------------------------------------------
// Puts: everything a backend needs, computed once before it touches the database.

export interface PreparedPut {
  key: string;
  rev: number;
  tid: string;
  tidOrder: string;
  contentType: string | null;
  headersJson: string | null;
  encoding: StoredEncoding;
  stored: Buffer;
  /** The decoded body (history buckets encode it against its base inside the write). */
  body: Buffer;
  hash: Buffer;
  writtenAt: number;
  expiresAt: number | null;
  skipUnchanged: boolean;
  ifNotExists: boolean;
  /** ms since epoch, or null. */
  ifUnmodifiedSince: number | null;
}

export function checkBody(body: unknown): Buffer {
  let b: Buffer;
  if (Buffer.isBuffer(body)) b = body;
  else if (typeof body === 'string') b = Buffer.from(body, 'utf8');
  else throw new CascadeError(Errors.badRequest, 'body must be a Buffer or a string');
  if (b.length > STORAGE_LIMITS.maxBodyBytes) throw new CascadeError(StorageErrors.bodyTooLarge, `body is ${b.length} bytes; the limit is ${STORAGE_LIMITS.maxBodyBytes}`);
  return b;
}

/** Validates a put against its bucket and encodes the body. */
export async function preparePut(spec: BucketSpec, req: PutRequest, now: number = Date.now()): Promise<PreparedPut> {
  const key = validateKey(req.key);
  const rev = spec.type === 'key_rev_value' ? validateRev(req.rev) : 0;
  const tid = req.tid === undefined ? newTid() : validateTid(req.tid);
  const body = checkBody(req.body);
  if (req.ifUnmodifiedSince !== undefined && !Number.isFinite(req.ifUnmodifiedSince)) {
    throw new CascadeError(StorageErrors.badRev, 'ifUnmodifiedSince must be a time in ms');
  }
  const { encoding, stored } = await encodeBody(codecFor(spec.compression), body);
  const skipUnchanged = req.skipUnchanged !== false;
  return {
    key,
    rev,
    tid,
    tidOrder: tidOrderKey(tid),
    contentType: req.contentType ?? null,
    headersJson: req.headers && Object.keys(req.headers).length > 0 ? JSON.stringify(req.headers) : null,
    encoding,
    stored,
    body,
    // History rows always carry the real hash: it validates cached bodies of the row.
    hash: skipUnchanged || spec.compression === 'history' ? bodyHash(body) : EMPTY_HASH,
    writtenAt: now,
    expiresAt: expiresAt(spec, now),
    skipUnchanged,
    ifNotExists: req.ifNotExists === true,
    ifUnmodifiedSince: req.ifUnmodifiedSince ?? null,
  };
}

// A put that does not compare bodies stores no real hash; no body hashes to 32 zero bytes.
const EMPTY_HASH = Buffer.alloc(32);

// ---------------------------------------------------------------------------------------------
// Retention

/** When a freshly written row expires (ttl buckets), or null. */
export function expiresAt(spec: BucketSpec, now: number): number | null {
  return spec.retention.policy === 'ttl' ? now + spec.retention.ttl_seconds * 1000 : null;
}

/**
 * For `latest` buckets: how many newest renders of a key stay, and when the older ones expire
 * if superseded now (after the grace period, so readers holding an older tid still find it).
 */
export function latestRetention(spec: BucketSpec, now: number): { keep: number; expiresAt: number } | null {
  const r = spec.retention;
  if (r.policy !== 'latest') return null;
  return { keep: r.count, expiresAt: now + (r.grace_seconds ?? 0) * 1000 };
}

// ---------------------------------------------------------------------------------------------
// Paging tokens: opaque to clients (base64url JSON), validated on the way back in.

export interface RevCursor {
  rev: number;
  tidOrder: string;
}

export function encodeToken(v: unknown): string {
  return Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
}

function decodeToken(token: string): unknown {
  if (typeof token !== 'string' || token.length === 0 || token.length > 8192 || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw new CascadeError(StorageErrors.badPageToken, 'malformed page token');
  }
  try {
    return JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new CascadeError(StorageErrors.badPageToken, 'malformed page token');
  }
}

export function revToken(c: RevCursor): string {
  return encodeToken({ r: c.rev, t: c.tidOrder });
}

export function parseRevToken(token: string): RevCursor {
  const v = decodeToken(token) as { r?: unknown; t?: unknown } | null;
  if (!v || typeof v !== 'object' || typeof v.r !== 'number' || !Number.isSafeInteger(v.r) || v.r < 0 || typeof v.t !== 'string' || !/^[0-9a-f]{15}[0-9a-f]{4}-[0-9a-f]{12}$/.test(v.t)) {
    throw new CascadeError(StorageErrors.badPageToken, 'not a revision page token');
  }
  return { rev: v.r, tidOrder: v.t };
}

export function keyToken(key: string): string {
  return encodeToken({ k: key });
}

export function parseKeyToken(token: string): string {
  const v = decodeToken(token) as { k?: unknown } | null;
  if (!v || typeof v !== 'object' || typeof v.k !== 'string') throw new CascadeError(StorageErrors.badPageToken, 'not a key page token');
  return v.k;
}

export function pageArgs(opts: ListOptions | undefined): { limit: number; token: string | undefined } {
  return { limit: validateLimit(opts?.limit), token: opts?.pageToken };
}

// ---------------------------------------------------------------------------------------------
// Bucket registry in memory: nested maps so the hot path does not build a string per lookup.

export class BucketTable<T extends { spec: BucketSpec }> {
  private byDomain = new Map<string, Map<string, T>>();
  get(domain: string, name: string): T | undefined {
    return this.byDomain.get(domain)?.get(name);
  }
  set(domain: string, name: string, v: T): void {
    let m = this.byDomain.get(domain);
    if (!m) this.byDomain.set(domain, (m = new Map()));
    m.set(name, v);
  }
  /** The bucket or an `unknown bucket` error. */
  require(domain: string, name: string): T {
    const b = this.byDomain.get(domain)?.get(name);
    if (!b) throw new CascadeError(StorageErrors.unknownBucket, `no bucket ${JSON.stringify(name)} in domain ${JSON.stringify(domain)}`);
    return b;
  }
  *values(): IterableIterator<T> {
    for (const m of this.byDomain.values()) yield* m.values();
  }
}

/** Rejects a rev/tid for read paths (rev is ignored for key_value). */
export function readRev(spec: BucketSpec, rev: number): number {
  return spec.type === 'key_rev_value' ? validateRev(rev) : 0;
}

/** Outcome of the conditions of a put against the stored current render, or null to write (both stores). */
export function conditionalOutcome(curTid: string, curHash: Buffer, p: PreparedPut): PutResult | null {
  if (p.ifNotExists) return { status: 'conflict', tid: curTid };
  if (p.ifUnmodifiedSince !== null && tidTime(curTid) > p.ifUnmodifiedSince) return { status: 'conflict', tid: curTid };
  if (p.skipUnchanged && curHash.equals(p.hash)) return { status: 'unchanged', tid: curTid };
  return null;
}
