// The schema repository's caches, bounded: `$schema` URIs are chosen by clients, so neither
// the compiled schemas nor the not-found answers may grow with what clients send. Keys are
// canonical (see canonicalSchemaKey): `/x/1.0.0?v=1`, `/x/1.0.0#a` and `/y/../x/1.0.0` are
// one entry. Several keys that resolve to one document share one compiled validator.

import { BoundedMap } from '../util/bounded-map.ts';
import { systemClock, type Clock } from '../util/clock.ts';

/** A `$schema` longer than this, or with control characters, is refused before any lookup. */
export const MAX_SCHEMA_URI_LENGTH = 255;

// A control character anywhere, or something the slow path has to normalise.
const NEEDS_CARE = /[\x00-\x1f\x7f?#\\%]|\/\.|\/\//; // eslint-disable-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/; // eslint-disable-line no-control-regex

/**
 * The canonical cache key of a `$schema` value, or a reason it is not acceptable. Query and
 * fragment are dropped (schema repositories serve files, which have neither), dot segments
 * and repeated slashes resolved; absolute URIs go through WHATWG URL parsing.
 */
export function canonicalSchemaKey(uri: string): { key: string } | { problem: string } {
  if (uri.length > MAX_SCHEMA_URI_LENGTH) return { problem: `$schema is longer than ${MAX_SCHEMA_URI_LENGTH} characters` };
  if (uri.startsWith('/') && !NEEDS_CARE.test(uri)) return { key: uri };
  if (CONTROL.test(uri)) return { problem: '$schema contains control characters' };
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) {
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      return { problem: '$schema is not a valid URI' };
    }
    u.search = '';
    u.hash = '';
    return { key: u.href };
  }
  let path = uri.split(/[?#]/)[0].replace(/\\/g, '/');
  if (!path.startsWith('/')) path = '/' + path;
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return { key: '/' + out.join('/') };
}

export interface CacheLimits {
  maxEntries: number;
  /** Sum of the cached documents' sizes (their JSON length). */
  maxBytes: number;
  negativeMaxEntries: number;
  negativeTtlMs: number;
}

interface Shared<T> {
  value: T;
  bytes: number;
  keys: number;
}

/**
 * Key → value LRU bounded in entries and bytes, where values are shared by location: a
 * location's value is released (`onRelease`, e.g. to drop it from ajv) when its last key goes.
 */
export class SchemaCache<T> {
  // LRU of keys (bounded in entries here, in bytes by set()); a key leaving releases its share.
  private readonly byKey: BoundedMap<string, { location: string; shared: Shared<T> }>;
  private readonly byLocation = new Map<string, Shared<T>>();
  // Remembered not-found answers: bounded, and each forgotten after negativeTtlMs.
  private readonly negative: BoundedMap<string, unknown>;
  private bytes = 0;

  constructor(
    private readonly limits: CacheLimits,
    private readonly onRelease: (value: T) => void,
    clock: Clock = systemClock,
  ) {
    this.negative = new BoundedMap({ maxEntries: limits.negativeMaxEntries, ttlMs: limits.negativeTtlMs, clock });
    this.byKey = new BoundedMap({
      maxEntries: limits.maxEntries,
      onEvict: (_key, e) => {
        if (--e.shared.keys === 0) this.releaseLocation(e.location, e.shared);
      },
    });
  }

  /** The hot path: a hit makes the key the most recently used. */
  get(key: string): T | undefined {
    return this.byKey.get(key)?.shared.value;
  }

  /** The value already compiled for a location (another key resolved to it), if any. */
  atLocation(location: string): T | undefined {
    return this.byLocation.get(location)?.value;
  }

  set(key: string, location: string, value: T, bytes: number): void {
    this.delete(key);
    let shared = this.byLocation.get(location);
    if (!shared || shared.value !== value) {
      if (shared) this.releaseLocation(location, shared);
      shared = { value, bytes, keys: 0 };
      this.byLocation.set(location, shared);
      this.bytes += bytes;
    }
    shared.keys++;
    this.byKey.set(key, { location, shared });
    this.negative.delete(key);
    // Least recently used keys go until the documents fit (the newest key always stays).
    for (const k of [...this.byKey.keys()]) {
      if (this.bytes <= this.limits.maxBytes) break;
      if (k !== key) this.byKey.delete(k);
    }
  }

  delete(key: string): void {
    this.byKey.delete(key); // onEvict releases the location with its last key
  }

  private releaseLocation(location: string, shared: Shared<T>): void {
    if (this.byLocation.get(location) === shared) this.byLocation.delete(location);
    this.bytes -= shared.bytes;
    this.onRelease(shared.value);
  }

  /** A remembered failure for this key, while it is fresh. */
  failure(key: string): unknown {
    return this.negative.peek(key);
  }

  rememberFailure(key: string, error: unknown): void {
    if (this.limits.negativeTtlMs <= 0) return;
    this.negative.set(key, error);
  }

  stats(): { entries: number; locations: number; bytes: number; negative: number } {
    return { entries: this.byKey.size, locations: this.byLocation.size, bytes: this.bytes, negative: this.negative.size };
  }
}
