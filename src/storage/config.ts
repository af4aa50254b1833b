// Config of the content store (`storage:`) and of buckets (`domains.<d>.buckets.<b>`).
import type { BucketSpec, RetentionPolicy } from './types.ts';

export interface StorageConfig {
  backend: 'sqlite' | 'postgres';
  sqlite: { path: string; synchronous: 'full' | 'normal' };
  /** `url` may be overridden with CASCADE_PG_URL. */
  postgres: { url: string; schema: string; pool_size: number };
  /** How often expired rows are purged in the background. */
  purge_interval_seconds: number;
  /** Decoded bodies of `compression: history` rows kept in memory (keyframes, latest bodies). */
  history_cache_mb: number;
}

export interface BucketConfig {
  type: BucketSpec['type'];
  compression: BucketSpec['compression'];
  retention: RetentionPolicy;
  history?: { max_chain: number };
}

export const bucketConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { enum: ['key_value', 'key_rev_value'] },
    compression: { enum: ['none', 'gzip', 'brotli', 'history'], default: 'brotli' },
    retention: {
      type: 'object',
      default: { policy: 'all' },
      required: ['policy'],
      properties: {
        policy: { enum: ['all', 'latest', 'ttl'] },
        count: { type: 'integer', minimum: 1 },
        grace_seconds: { type: 'integer', minimum: 0 },
        ttl_seconds: { type: 'integer', minimum: 1 },
      },
      additionalProperties: false,
      allOf: [
        { if: { properties: { policy: { const: 'latest' } } }, then: { required: ['count'] } },
        { if: { properties: { policy: { const: 'ttl' } } }, then: { required: ['ttl_seconds'] } },
      ],
    },
    history: {
      type: 'object',
      additionalProperties: false,
      properties: { max_chain: { type: 'integer', minimum: 1, maximum: 10000, default: 16 } },
    },
  },
} as const;

export const storageConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    backend: { enum: ['sqlite', 'postgres'], default: 'sqlite' },
    sqlite: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        path: { type: 'string', default: 'storage.sqlite' },
        synchronous: { enum: ['full', 'normal'], default: 'normal' },
      },
    },
    postgres: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        url: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
        schema: { type: 'string', pattern: '^[a-z_][a-z0-9_]*$', default: 'cascade' },
        pool_size: { type: 'integer', minimum: 1, default: 10 },
      },
    },
    purge_interval_seconds: { type: 'integer', minimum: 1, default: 60 },
    history_cache_mb: { type: 'integer', minimum: 0, default: 32 },
  },
} as const;

/** Fills the defaults of a bucket declared in code rather than in YAML. */
export function bucketSpec(domain: string, name: string, cfg: Partial<BucketConfig> & Pick<BucketConfig, 'type'>): BucketSpec {
  return {
    domain,
    name,
    type: cfg.type,
    compression: cfg.compression ?? 'brotli',
    retention: cfg.retention ?? { policy: 'all' },
    ...(cfg.history ? { history: cfg.history } : {}),
  };
}
