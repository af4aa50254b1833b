// Config section `content:` of cascade.yaml: JSON Schema fragment and the type derived from it.
// Owned by src/content; src/config/schema.ts composes it into the full schema.
import type { FromSchema } from '../config/schema-types.ts';
import { section, int, rateClass } from '../config/schema-fragments.ts';

export const contentConfigSchema = section({
  /** `s-maxage` of Cache-Control on stored content (CDN lifetime; purges come from resource_change). */
  s_maxage: int(0, 1209600),
  /** Browser `max-age`. */
  max_age: int(0, 0),
  /** Access metadata (deleted/suppressed/latest rev) older than this is re-checked with the origin before serving. */
  access_check_max_age_seconds: int(0, 300),
  /** A delete or suppression event is applied at once and re-verified with the origin after this long. */
  access_reverify_delay_ms: int(0, 2000, 600000),
  /** Internal no-cache re-renders: attempts (with an origin purge between) to get a render newer than the change. */
  rerender_attempts: int(1, 3, 10),
  /** Origin requests. */
  origin: section({ timeout_ms: int(100, 30000), connections: int(1, 16) }),
  /** Siteinfo is refetched after this long. */
  siteinfo_ttl_seconds: int(1, 3600),
  /** Stable name of this process (its invalidation consumer group); default `{hostname}-{listen port}`. */
  instance_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' },
  /** In-memory cache of ready-to-send renders, bounded by bytes; re-validated against the store after ttl_ms. */
  hot_cache: section({
    // Bytes of bodies held (stored coding plus computed gzip/identity variants, a few KB of
    // bookkeeping each): 16 MiB holds ~1000 typical compressed renders and keeps a full cache
    // inside the 150 MB RSS budget of the embedded default.
    max_bytes: int(0, 16777216),
    ttl_ms: int(0, 5000),
    /**
     * Evict a page's hot entries when another instance stores a new render of it (a consumer of
     * the resource_change topic). Unset: on when storage is shared (postgres), off for SQLite.
     */
    cross_instance_invalidation: { type: 'boolean' },
  }),
  /** Deriving summaries and mobile sections off the event loop. */
  derive: section({
    /** Worker threads; unset: one per core beyond the first, at most 2; 0 derives on the main thread. */
    workers: { type: 'integer', minimum: 0, maximum: 64 },
    /** Derivations waiting for a worker at most (beyond: 503, retried by change propagation). */
    max_queue: int(1, 256),
    /** HTML shorter than this is derived inline (a worker round trip costs more). */
    inline_below_bytes: int(0, 65536),
  }),
  /** Largest POST body accepted (wikitext saves and transforms). */
  max_body_bytes: int(1024, 4194304),
  rate_limit: section({
    enabled: { type: 'boolean', default: true },
    /** Loopback callers are exempt unless this is true. */
    include_loopback: { type: 'boolean', default: false },
    /** Most clients tracked at once (oldest idle ones are dropped). */
    max_clients: int(1, 100000),
    classes: section({ read: rateClass(200, 400), render: rateClass(10, 20), write: rateClass(2, 10) }),
  }),
});

export type ContentConfig = FromSchema<typeof contentConfigSchema>;
