// Config of the content store (`storage:`) and of buckets (`domains.<d>.buckets.<b>`): JSON
// Schemas, and the types derived from them.
import type { BucketSpec, RetentionPolicy } from './types.ts';
import type { FromSchema, SchemaInput } from '../config/schema-types.ts';
import { section, closed, int } from '../config/schema-fragments.ts';
import { withDefaults } from '../config/load.ts';

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
    history: closed({ max_chain: int(1, 16, 10000) }),
  },
} as const;

// The schema's if/then narrows `retention` per policy, which FromSchema does not read.
export type BucketConfig = Omit<FromSchema<typeof bucketConfigSchema>, 'retention'> & { retention: RetentionPolicy };
export type BucketConfigInput = Omit<SchemaInput<typeof bucketConfigSchema>, 'retention'> & { retention?: RetentionPolicy };

export const storageConfigSchema = section({
  backend: { enum: ['sqlite', 'postgres'], default: 'sqlite' },
  sqlite: section({
    path: { type: 'string', default: 'storage.sqlite' },
    synchronous: { enum: ['full', 'normal'], default: 'normal' },
  }),
  /** `url` may be overridden with CASCADE_PG_URL. */
  postgres: section({
    url: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    schema: { type: 'string', pattern: '^[a-z_][a-z0-9_]*$', default: 'cascade' },
    pool_size: int(1, 10),
  }),
  /** How often expired rows are purged in the background. */
  purge_interval_seconds: int(1, 60),
  /** Decoded bodies of `compression: history` rows kept in memory (keyframes, latest bodies). */
  history_cache_mb: int(0, 32),
});

export type StorageConfig = FromSchema<typeof storageConfigSchema>;

/** A bucket declared in code rather than in YAML: the schema's defaults filled in. */
export function bucketSpec(domain: string, name: string, cfg: BucketConfigInput): BucketSpec {
  const b = withDefaults(bucketConfigSchema, cfg) as BucketConfig;
  return { domain, name, type: b.type, compression: b.compression, retention: b.retention, ...(b.history ? { history: b.history } : {}) };
}

/** The buckets a `domains:` map declares. */
export function bucketsOf(domains: Record<string, { buckets: Record<string, BucketConfigInput> }>): BucketSpec[] {
  return Object.entries(domains).flatMap(([domain, d]) => Object.entries(d.buckets).map(([name, b]) => bucketSpec(domain, name, b)));
}
