// Config section `content:` of cascade.yaml: JSON Schema fragment and type.
// Owned by src/content; src/config/schema.ts composes it into the full schema.

export interface RateClassConfig {
  /** Tokens added per second. */
  rate: number;
  /** Bucket size: the burst a client may send at once. */
  burst: number;
}

export interface ContentConfig {
  /** `s-maxage` of Cache-Control on stored content (CDN lifetime; purges come from resource_change). */
  s_maxage: number;
  /** Browser `max-age`. */
  max_age: number;
  /** Access metadata (deleted/suppressed/latest rev) older than this is re-checked with the origin before serving. */
  access_check_max_age_seconds: number;
  /** A delete or suppression event is applied at once and re-verified with the origin after this long. */
  access_reverify_delay_ms: number;
  /** Internal no-cache re-renders: attempts (with an origin purge between) to get a render newer than the change. */
  rerender_attempts: number;
  /** Origin requests. */
  origin: { timeout_ms: number; connections: number };
  /** Siteinfo is refetched after this long. */
  siteinfo_ttl_seconds: number;
  /** In-memory cache of ready-to-send renders, bounded by bytes; re-validated against the store after ttl_ms. */
  hot_cache: {
    max_bytes: number;
    ttl_ms: number;
    /**
     * Evict a page's hot entries when another instance stores a new render of it (a consumer of
     * the resource_change topic). Unset: on when storage is shared (postgres), off for SQLite.
     */
    cross_instance_invalidation?: boolean;
  };
  /** Stable name of this process (its invalidation consumer group); default `{hostname}-{listen port}`. */
  instance_id?: string;
  /** Deriving summaries and mobile sections off the event loop. */
  derive: {
    /** Worker threads; unset: one per core beyond the first, at most 2; 0 derives on the main thread. */
    workers?: number;
    /** Derivations waiting for a worker at most (beyond: 503, retried by change propagation). */
    max_queue: number;
    /** HTML shorter than this is derived inline (a worker round trip costs more). */
    inline_below_bytes: number;
  };
  /** Largest POST body accepted (wikitext saves and transforms). */
  max_body_bytes: number;
  rate_limit: {
    enabled: boolean;
    /** Loopback callers are exempt unless this is true. */
    include_loopback: boolean;
    classes: { read: RateClassConfig; render: RateClassConfig; write: RateClassConfig };
    /** Most clients tracked at once (oldest idle ones are dropped). */
    max_clients: number;
  };
}

const rateClass = (rate: number, burst: number) =>
  ({
    type: 'object',
    additionalProperties: false,
    default: { rate, burst },
    properties: {
      rate: { type: 'number', exclusiveMinimum: 0, default: rate },
      burst: { type: 'integer', minimum: 1, default: burst },
    },
  }) as const;

export const contentConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    s_maxage: { type: 'integer', minimum: 0, default: 1209600 },
    max_age: { type: 'integer', minimum: 0, default: 0 },
    access_check_max_age_seconds: { type: 'integer', minimum: 0, default: 300 },
    access_reverify_delay_ms: { type: 'integer', minimum: 0, maximum: 600000, default: 2000 },
    rerender_attempts: { type: 'integer', minimum: 1, maximum: 10, default: 3 },
    origin: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        timeout_ms: { type: 'integer', minimum: 100, default: 30000 },
        connections: { type: 'integer', minimum: 1, default: 16 },
      },
    },
    siteinfo_ttl_seconds: { type: 'integer', minimum: 1, default: 3600 },
    instance_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' },
    hot_cache: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // Bytes of bodies held (stored coding plus computed gzip/identity variants, a few KB of
        // bookkeeping each): 16 MiB holds ~1000 typical compressed renders and keeps a full cache
        // inside the 150 MB RSS budget of the embedded default.
        max_bytes: { type: 'integer', minimum: 0, default: 16777216 },
        ttl_ms: { type: 'integer', minimum: 0, default: 5000 },
        cross_instance_invalidation: { type: 'boolean' },
      },
    },
    derive: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        workers: { type: 'integer', minimum: 0, maximum: 64 },
        max_queue: { type: 'integer', minimum: 1, default: 256 },
        inline_below_bytes: { type: 'integer', minimum: 0, default: 65536 },
      },
    },
    max_body_bytes: { type: 'integer', minimum: 1024, default: 4194304 },
    rate_limit: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        include_loopback: { type: 'boolean', default: false },
        max_clients: { type: 'integer', minimum: 1, default: 100000 },
        classes: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            read: rateClass(200, 400),
            render: rateClass(10, 20),
            write: rateClass(2, 10),
          },
        },
      },
    },
  },
} as const;
