// The hot path's state: a servable render with its response heads computed once, and a
// byte-bounded LRU of them. Entries are replaced by this process's own writes at once (so
// the LRU never serves a render older than one we stored) and revalidated against the store
// after `ttlMs`, which bounds staleness when other instances write to a shared store.
import { brotliDecompress, gunzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { metrics } from '../router/metrics.ts';
import { precomputeHeaders } from '../router/server.ts';
import type { StoredEncoding, StoredRecord } from '../storage/types.ts';
import { tidTime } from '../util/tid.ts';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const brotliDecompressAsync = promisify(brotliDecompress);

export interface EntryOptions {
  cacheControl: string;
  surrogateKey: string;
  contentType: string;
  /** Headers of the representation itself (e.g. content-language and the mobile security headers). */
  extraHeaders?: readonly (readonly [string, string])[];
}

// Read from the live caches at scrape time: the lookups themselves only bump two fields.
const hotLookups = metrics.sampled<HotCache>('cascade_content_hot_cache_lookups_total', 'Hot-cache lookups by result (hit: a fresh entry)', 'counter', ['result'], (c) => [
  [['hit'], c.hits],
  [['miss'], c.misses],
]);
const hotBytes = metrics.sampled<HotCache>('cascade_content_hot_cache_bytes', 'Bytes held by the hot cache (stored codings and computed variants)', 'gauge', [], (c) => [[[], c.totalBytes]]);
const hotEntries = metrics.sampled<HotCache>('cascade_content_hot_cache_entries', 'Keys in the hot cache', 'gauge', [], (c) => [[[], c.count]]);

/** Reports a cache's series until the returned function is called. */
export function trackHotCache(c: HotCache): () => void {
  const untrack = [hotLookups.track(c), hotBytes.track(c), hotEntries.track(c)];
  return () => untrack.forEach((f) => f());
}

/** Bookkeeping of an entry besides its bodies (heads, strings, the object itself). */
const ENTRY_OVERHEAD = 4096;

/** One render, ready to send: the stored bytes, and the other codings clients asked for. */
export class ServedEntry {
  readonly rev: number;
  readonly tid: string;
  readonly etag: string;
  /** ms since epoch of the render (the time in its tid). */
  readonly renderedAt: number;
  /** Target of a redirect page (prefixed DB key), from the stored headers. */
  readonly redirect: string | undefined;
  readonly storedHeaders: Record<string, string>;
  readonly storedEncoding: StoredEncoding;
  readonly cacheControl: string;
  loadedAt: number;
  /** Set while a revalidation against the store runs (one at a time). */
  revalidating: Promise<ServedEntry | undefined> | undefined = undefined;
  private readonly stored: Buffer;
  /** Variants for clients that do not accept the stored coding (gzip, identity), made on demand. */
  private readonly alts: Partial<Record<StoredEncoding, Buffer>> = {};
  private readonly pending: Partial<Record<StoredEncoding, Promise<Buffer>>> = {};
  private readonly heads: Partial<Record<StoredEncoding, string[]>> = {};
  private head304: string[] | undefined = undefined;
  size: number;
  /** HotCache bookkeeping: keys holding this entry, and the size accounted for it (once). */
  hotRefs = 0;
  hotBytes = 0;

  constructor(
    record: StoredRecord,
    private readonly opts: EntryOptions,
  ) {
    this.rev = record.rev ?? 0;
    this.tid = record.tid;
    this.etag = `"${this.rev}/${this.tid}"`;
    this.renderedAt = tidTime(record.tid);
    this.storedHeaders = record.headers ?? {};
    this.redirect = this.storedHeaders['x-cascade-redirect'] || undefined;
    // Only the stored bytes are kept, not the record (which may cache a decoded copy).
    this.stored = record.stored;
    this.storedEncoding = record.encoding;
    this.cacheControl = opts.cacheControl;
    this.size = record.stored.length + ENTRY_OVERHEAD;
    this.loadedAt = Date.now();
  }

  /** The coding to send to a client with this Accept-Encoding (sync, no allocation). */
  pick(acceptEncoding: string | undefined): StoredEncoding {
    const stored = this.storedEncoding;
    if (stored === 'identity' || (acceptEncoding !== undefined && acceptEncoding.includes(stored))) return stored;
    // Clients (and CDNs) that do not take the stored coding get gzip when they accept it,
    // computed once per render, not per request.
    return acceptEncoding !== undefined && acceptEncoding.includes('gzip') ? 'gzip' : 'identity';
  }

  /** The body in coding `enc` if it is in memory. */
  variant(enc: StoredEncoding): Buffer | undefined {
    return enc === this.storedEncoding ? this.stored : this.alts[enc];
  }

  /** Computes (once, shared by concurrent callers) the body in another coding, and keeps it. */
  materialize(enc: StoredEncoding): Promise<Buffer> {
    const have = this.variant(enc);
    if (have) return Promise.resolve(have);
    let p = this.pending[enc];
    if (!p) {
      p = this.encode(enc).then(
        (body) => {
          delete this.pending[enc];
          this.alts[enc] = body;
          this.size += body.length;
          return body;
        },
        (e: unknown) => {
          delete this.pending[enc];
          throw e;
        },
      );
      this.pending[enc] = p;
    }
    return p;
  }

  private async encode(enc: StoredEncoding): Promise<Buffer> {
    const identity = await this.decoded();
    if (enc === 'identity') return identity;
    if (enc === 'gzip') return gzipAsync(identity, { level: 6 });
    throw new Error(`no ${enc} variant is computed`);
  }

  private decoded(): Promise<Buffer> {
    const identity = this.variant('identity');
    if (identity) return Promise.resolve(identity);
    return this.storedEncoding === 'gzip' ? gunzipAsync(this.stored) : brotliDecompressAsync(this.stored);
  }

  /** The decoded body (for deriving content); not kept. */
  async text(): Promise<string> {
    return (await this.decoded()).toString('utf8');
  }

  /** The full 200 head for a coding (precomputed, with the default headers; see writePrecomputed). */
  head(enc: StoredEncoding, length: number): string[] {
    let h = this.heads[enc];
    if (!h) {
      const pairs: (readonly [string, string | number])[] = [
        ['content-type', this.opts.contentType],
        ['etag', this.etag],
        ['cache-control', this.opts.cacheControl],
        ['surrogate-key', this.opts.surrogateKey],
        ['vary', 'Accept-Encoding'],
        ['last-modified', new Date(this.renderedAt).toUTCString()],
        ['content-length', length],
        ...(this.opts.extraHeaders ?? []),
      ];
      if (enc !== 'identity') pairs.push(['content-encoding', enc]);
      this.heads[enc] = h = precomputeHeaders(pairs);
    }
    return h;
  }

  /** The 304 head. */
  notModifiedHead(): string[] {
    return (this.head304 ??= precomputeHeaders([
      ['etag', this.etag],
      ['cache-control', this.opts.cacheControl],
      ['vary', 'Accept-Encoding'],
    ]));
  }
}

interface Slot {
  entry: ServedEntry;
  /** When the slot last moved to the recent end (ms). */
  touched: number;
  /** The page the key belongs to (`domain\0key`), for dropping a page's entries at once. */
  page: string;
}

/**
 * The page of a hot key `domain\0bucket\0key\0rev` (see ContentService.hotKey): `domain\0key`.
 * Keys of another shape are their own page.
 */
export function pageOfHotKey(k: string): string {
  const a = k.indexOf('\u0000');
  const b = a === -1 ? -1 : k.indexOf('\u0000', a + 1);
  const c = b === -1 ? -1 : k.indexOf('\u0000', b + 1);
  return c === -1 ? k : k.slice(0, a) + k.slice(b, c);
}

/** Recency is refreshed at most this often per key, so a hit costs no Map re-insertion. */
const TOUCH_INTERVAL_MS = 1000;

/**
 * Byte-bounded LRU of ServedEntry, by key. An entry held under several keys (a page's latest
 * and its revision) counts once.
 */
export class HotCache {
  private map = new Map<string, Slot>();
  /** Keys by page: a page's change drops its entries without scanning the cache. */
  private byPage = new Map<string, Set<string>>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly maxBytes: number,
    readonly ttlMs: number,
  ) {}

  /** A fresh entry (loaded less than ttlMs ago), or undefined. */
  get(key: string, now = Date.now()): ServedEntry | undefined {
    const s = this.map.get(key);
    if (s === undefined || now - s.entry.loadedAt > this.ttlMs) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (now - s.touched > TOUCH_INTERVAL_MS) {
      // Move to the most recent end (Map keeps insertion order).
      s.touched = now;
      this.map.delete(key);
      this.map.set(key, s);
    }
    return s.entry;
  }

  /** Looks without touching recency or expiry (write paths, revalidation). */
  peek(key: string): ServedEntry | undefined {
    return this.map.get(key)?.entry;
  }

  set(key: string, e: ServedEntry): void {
    const cur = this.map.get(key);
    if (cur?.entry === e) {
      cur.touched = Date.now();
      this.map.delete(key);
      this.map.set(key, cur);
      return;
    }
    this.delete(key);
    if (e.size > this.maxBytes / 4) return; // too big to be worth caching: it would push out many others
    const page = pageOfHotKey(key);
    this.map.set(key, { entry: e, touched: Date.now(), page });
    let keys = this.byPage.get(page);
    if (!keys) this.byPage.set(page, (keys = new Set()));
    keys.add(key);
    if (e.hotRefs++ === 0) {
      e.hotBytes = e.size;
      this.bytes += e.size;
    }
    this.evict();
  }

  /** Re-accounts an entry whose size grew (a variant was added). */
  grew(e: ServedEntry): void {
    if (e.hotRefs === 0) return;
    this.bytes += e.size - e.hotBytes;
    e.hotBytes = e.size;
    this.evict();
  }

  delete(key: string): void {
    const s = this.map.get(key);
    if (s) {
      this.map.delete(key);
      const keys = this.byPage.get(s.page);
      if (keys?.delete(key) && keys.size === 0) this.byPage.delete(s.page);
      if (--s.entry.hotRefs === 0) {
        this.bytes -= s.entry.hotBytes;
        s.entry.hotBytes = 0;
      }
    }
  }

  /** Drops every entry of a page (all representations, latest and revisions): no scan. */
  deletePage(domain: string, key: string): void {
    const keys = this.byPage.get(`${domain}\u0000${key}`);
    if (keys) for (const k of [...keys]) this.delete(k);
  }

  private evict(): void {
    for (const k of this.map.keys()) {
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
