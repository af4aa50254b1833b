// Config of the durable event log (`events.log:` of cascade.yaml): type and JSON Schema
// fragment. src/events/config.ts includes `logConfigSchema` under `events.log`.

export interface LogRetentionConfig {
  /** Records older than this are trimmed (0: no age limit). */
  max_age_ms?: number;
  /** Oldest records are trimmed while a topic holds more than this (0: no size limit). */
  max_bytes?: number;
}

interface CommonLogConfig {
  /** An event whose id was appended to the same topic within this window is dropped. */
  dedup_window_ms?: number;
  /** Default retention of every topic (setRetention overrides it per topic). */
  retention?: LogRetentionConfig;
}

export interface SqliteLogConfig extends CommonLogConfig {
  backend: 'sqlite';
  /** The SQLite file; relative paths resolve against `openEventLog`'s `baseDir` (else the cwd). */
  path: string;
  /**
   * `full` fsyncs every group commit (acknowledged events survive power loss);
   * `normal` survives a killed process (kill -9) but may lose the last commits on power loss.
   */
  synchronous?: 'full' | 'normal';
  /** How often retention is applied in the background. */
  trim_interval_ms?: number;
  /** How often a waiting fetch re-checks the file for work of other processes. */
  poll_interval_ms?: number;
  /** Most records one group commit takes; bigger batches wait for the next. */
  max_batch?: number;
  /**
   * Most ids one topic's in-memory dedup window holds; when more were appended within
   * `dedup_window_ms`, the oldest of them are no longer deduplicated.
   */
  dedup_max_ids?: number;
}

export interface JetStreamLogConfig extends CommonLogConfig {
  backend: 'jetstream';
  /** NATS server URL(s), comma-separated. */
  url: string;
  /** Streams are named `<stream_prefix>_<topic>` (sanitized); subjects `<stream_prefix>.<topic>.…`. */
  stream_prefix: string;
  /** Keyed events go to one of this many partition subjects (by key hash); see jetstream.ts. */
  key_partitions?: number;
  /** Stream replicas (1 on a single server). */
  replicas?: number;
  /** `file` (durable) or `memory` storage of the streams. */
  storage?: 'file' | 'memory';
}

export type LogConfig = SqliteLogConfig | JetStreamLogConfig;

export const LOG_DEFAULTS = {
  dedup_window_ms: 120_000,
  retention: { max_age_ms: 7 * 24 * 3600 * 1000, max_bytes: 0 },
  synchronous: 'full',
  trim_interval_ms: 1000,
  poll_interval_ms: 50,
  max_batch: 50_000,
  dedup_max_ids: 1_000_000,
  key_partitions: 8,
  replicas: 1,
  storage: 'file',
} as const;

const retentionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    max_age_ms: { type: 'integer', minimum: 0 },
    max_bytes: { type: 'integer', minimum: 0 },
  },
} as const;

/** JSON Schema of `events.log`. Defaults make an empty section the embedded SQLite log. */
export const logConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    backend: { enum: ['sqlite', 'jetstream'], default: 'sqlite' },
    dedup_window_ms: { type: 'integer', minimum: 0, default: LOG_DEFAULTS.dedup_window_ms },
    retention: retentionSchema,
    // sqlite
    path: { type: 'string', minLength: 1, default: 'events.sqlite' },
    synchronous: { enum: ['full', 'normal'], default: LOG_DEFAULTS.synchronous },
    trim_interval_ms: { type: 'integer', minimum: 10, default: LOG_DEFAULTS.trim_interval_ms },
    poll_interval_ms: { type: 'integer', minimum: 1, default: LOG_DEFAULTS.poll_interval_ms },
    max_batch: { type: 'integer', minimum: 1, default: LOG_DEFAULTS.max_batch },
    dedup_max_ids: { type: 'integer', minimum: 1000, default: LOG_DEFAULTS.dedup_max_ids },
    // jetstream
    url: { type: 'string', pattern: '^(nats|tls|wss?)://' },
    stream_prefix: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', default: 'cascade' },
    key_partitions: { type: 'integer', minimum: 1, maximum: 256, default: LOG_DEFAULTS.key_partitions },
    replicas: { type: 'integer', minimum: 1, maximum: 5, default: LOG_DEFAULTS.replicas },
    storage: { enum: ['file', 'memory'], default: LOG_DEFAULTS.storage },
  },
  allOf: [{ if: { properties: { backend: { const: 'jetstream' } }, required: ['backend'] }, then: { required: ['url'] } }],
} as const;
