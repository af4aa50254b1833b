// Config of the durable event log (`events.log:` of cascade.yaml): its JSON Schema and the types
// derived from it. src/events/config.ts includes `logConfigSchema` under `events.log`.
import type { SchemaInput } from '../../config/schema-types.ts';
import { section, int } from '../../config/schema-fragments.ts';
import { withDefaults } from '../../config/load.ts';

/** JSON Schema of `events.log`. Defaults make an empty section the embedded SQLite log. */
export const logConfigSchema = {
  ...section({
    backend: { enum: ['sqlite', 'jetstream'], default: 'sqlite' },
    /** An event whose id was appended to the same topic within this window is dropped. */
    dedup_window_ms: int(0, 120_000),
    /** Default retention of every topic (setRetention overrides it per topic). */
    retention: section({
      /** Records older than this are trimmed (0: no age limit). */
      max_age_ms: int(0, 7 * 24 * 3600 * 1000),
      /** Oldest records are trimmed while a topic holds more than this (0: no size limit). */
      max_bytes: int(0, 0),
    }),
    // sqlite
    /** The SQLite file; relative paths resolve against `openEventLog`'s `baseDir` (else the cwd). */
    path: { type: 'string', minLength: 1, default: 'events.sqlite' },
    /**
     * `full` fsyncs every group commit (acknowledged events survive power loss);
     * `normal` survives a killed process (kill -9) but may lose the last commits on power loss.
     */
    synchronous: { enum: ['full', 'normal'], default: 'full' },
    /** How often retention is applied in the background. */
    trim_interval_ms: int(10, 1000),
    /** How often a waiting fetch re-checks the file for work of other processes. */
    poll_interval_ms: int(1, 50),
    /** Most records one group commit takes; bigger batches wait for the next. */
    max_batch: int(1, 50_000),
    /**
     * Most ids one topic's in-memory dedup window holds; when more were appended within
     * `dedup_window_ms`, the oldest of them are no longer deduplicated.
     */
    dedup_max_ids: int(1000, 1_000_000),
    // jetstream
    /** NATS server URL(s), comma-separated. */
    url: { type: 'string', pattern: '^(nats|tls|wss?)://' },
    /** Streams are named `<stream_prefix>_<topic>` (sanitized); subjects `<stream_prefix>.<topic>.…`. */
    stream_prefix: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', default: 'cascade' },
    /** Keyed events go to one of this many partition subjects (by key hash); see jetstream.ts. */
    key_partitions: int(1, 8, 256),
    /** Stream replicas (1 on a single server). */
    replicas: int(1, 1, 5),
    /** `file` (durable) or `memory` storage of the streams. */
    storage: { enum: ['file', 'memory'], default: 'file' },
  }),
  allOf: [{ if: { properties: { backend: { const: 'jetstream' } }, required: ['backend'] }, then: { required: ['url'] } }],
} as const;

/** Every default of the section (read by the backends when given a section in code). */
export const LOG_DEFAULTS = withDefaults(logConfigSchema, {});

// One flat schema for both backends; the types split it by `backend` (the schema's if/then).
type LogSection = SchemaInput<typeof logConfigSchema>;
type Common = Pick<LogSection, 'dedup_window_ms' | 'retention'>;
export type LogRetentionConfig = NonNullable<LogSection['retention']>;
export type SqliteLogConfig = Common & Pick<LogSection, 'synchronous' | 'trim_interval_ms' | 'poll_interval_ms' | 'max_batch' | 'dedup_max_ids'> & { backend: 'sqlite'; path: string };
export type JetStreamLogConfig = Common & Pick<LogSection, 'key_partitions' | 'replicas' | 'storage'> & { backend: 'jetstream'; url: string; stream_prefix: string };
export type LogConfig = SqliteLogConfig | JetStreamLogConfig;
