// The hot path's state: a servable render with its response headers computed once, and a
// byte-bounded LRU of them. Entries are replaced by this process's own writes at once (so
// the LRU never serves a render older than one we stored) and re-read from the store after
// `ttlMs`, which bounds staleness when other instances write to a shared store.
import type { OutgoingHttpHeaders } from 'node:http';
import { brotliDecompress, gunzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { StoredEncoding, StoredRecord } from '../storage/types.ts';
import { tidTime } from '../util/tid.ts';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const brotliDecompressAsync = promisify(brotliDecompress);

export interface EntryOptions {
  cacheControl: string;
  surrogateKey: string;
  contentType: string;
}

/** One render, ready to send. */
export class ServedEntry {
  readonly rev: number;
  readonly tid: string;
  readonly etag: string;
  /** ms since epoch of the render (the time in its tid). */
  readonly renderedAt: number;
  /** Target of a redirect page (prefixed DB key), from the stored headers. */
  readonly redirect: string | undefined;
  readonly storedHeaders: Record<string, string>;
  loadedAt: number;
  private variants: Partial<Record<StoredEncoding, Buffer>> = {};
  private pending: Partial<Record<StoredEncoding, Promise<Buffer>>> = {};
  private headerCache: Partial<Record<StoredEncoding, OutgoingHttpHeaders>> = {};
  size: number;
  /** Keys this entry is cached under (HotCache bookkeeping). */
  readonly cacheKeys = new Set<string>();

  constructor(
    readonly record: StoredRecord,
    private readonly opts: EntryOptions,
  ) {
    this.rev = record.rev ?? 0;
    this.tid = record.tid;
    this.etag = `"${this.rev}/${this.tid}"`;
    this.renderedAt = tidTime(record.tid);
    this.storedHeaders = record.headers ?? {};
    this.redirect = this.storedHeaders['x-cascade-redirect'] || undefined;
    this.variants[record.encoding] = record.stored;
    this.size = record.stored.length + 1024;
    this.loadedAt = Date.now();
  }

  get storedEncoding(): StoredEncoding {
    return this.record.encoding;
  }

  /** The variant already in memory for a client's Accept-Encoding, if any (sync: the hot path). */
  variantFor(acceptEncoding: string | undefined): { enc: StoredEncoding; body: Buffer } | { enc: StoredEncoding; body?: undefined } {
    const stored = this.record.encoding;
    const accepts = (e: StoredEncoding) => e === 'identity' || (acceptEncoding !== undefined && acceptEncoding.includes(e));
    if (accepts(stored)) return { enc: stored, body: this.variants[stored]! };
    // Clients (and CDNs) that do not take the stored coding get gzip when they accept it,
    // computed once per render, not per request.
    const enc: StoredEncoding = accepts('gzip') ? 'gzip' : 'identity';
    const body = this.variants[enc];
    return body ? { enc, body } : { enc };
  }

  /** Computes (once) a variant for another coding. */
  async materialize(enc: StoredEncoding): Promise<Buffer> {
    const have = this.variants[enc];
    if (have) return have;
    let p = this.pending[enc];
    if (!p) {
      p = (async () => {
        const identity = this.variants.identity ?? (await decode(this.record));
        if (enc === 'identity') return identity;
        return gzipAsync(identity, { level: 6 });
      })();
      this.pending[enc] = p;
    }
    const body = await p;
    if (!this.variants[enc]) {
      this.variants[enc] = body;
      this.size += body.length;
    }
    delete this.pending[enc];
    return body;
  }

  /** The decoded body (for deriving content). */
  async text(): Promise<string> {
    return (await this.materialize('identity')).toString('utf8');
  }

  headers(enc: StoredEncoding, length: number): OutgoingHttpHeaders {
    let h = this.headerCache[enc];
    if (!h) {
      h = {
        'content-type': this.opts.contentType,
        etag: this.etag,
        'cache-control': this.opts.cacheControl,
        'surrogate-key': this.opts.surrogateKey,
        vary: 'Accept-Encoding',
        'last-modified': new Date(this.renderedAt).toUTCString(),
        'content-length': length,
      };
      if (enc !== 'identity') h['content-encoding'] = enc;
      this.headerCache[enc] = h;
    }
    return h;
  }
}

async function decode(r: StoredRecord): Promise<Buffer> {
  switch (r.encoding) {
    case 'identity':
      return r.stored;
    case 'gzip':
      return gunzipAsync(r.stored);
    case 'br':
      return brotliDecompressAsync(r.stored);
    default:
      return r.body();
  }
}

/** Byte-bounded LRU of ServedEntry, by key. */
export class HotCache {
  private map = new Map<string, ServedEntry>();
  /** Size of each entry as accounted when it was (re)counted under a key. */
  private sizes = new Map<string, number>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly ttlMs: number,
  ) {}

  get(key: string, now = Date.now()): ServedEntry | undefined {
    const e = this.map.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    if (now - e.loadedAt > this.ttlMs) {
      this.delete(key);
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Move to the most recent end (Map keeps insertion order).
    this.map.delete(key);
    this.map.set(key, e);
    return e;
  }

  /** Looks without touching recency or expiry (for write paths). */
  peek(key: string): ServedEntry | undefined {
    return this.map.get(key);
  }

  set(key: string, e: ServedEntry): void {
    if (e.size > this.maxBytes / 4) {
      // Too big to be worth caching: it would push out many others.
      this.delete(key);
      return;
    }
    this.delete(key);
    this.map.set(key, e);
    this.sizes.set(key, e.size);
    e.cacheKeys.add(key);
    this.bytes += e.size;
    this.evict();
  }

  /** Re-accounts an entry whose size grew (a variant was added). */
  grew(e: ServedEntry): void {
    for (const k of e.cacheKeys) {
      if (this.map.get(k) !== e) continue;
      this.bytes += e.size - (this.sizes.get(k) ?? 0);
      this.sizes.set(k, e.size);
    }
    this.evict();
  }

  delete(key: string): void {
    const e = this.map.get(key);
    if (e) {
      this.bytes -= this.sizes.get(key) ?? e.size;
      this.sizes.delete(key);
      e.cacheKeys.delete(key);
      this.map.delete(key);
    }
  }

  /** Drops every entry whose key starts with `prefix`. */
  deletePrefix(prefix: string): void {
    for (const k of [...this.map.keys()]) if (k.startsWith(prefix)) this.delete(k);
  }

  private evict(): void {
    for (const [k] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.delete(k);
    }
  }

  get totalBytes(): number {
    return this.bytes;
  }

  get count(): number {
    return this.map.size;
  }
}
