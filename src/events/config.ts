// Config section `events:` of cascade.yaml: JSON Schema fragment and type.
// Owned by src/events; src/config/schema.ts composes it into the full schema.
import { logConfigSchema, type LogConfig } from './log/config.ts';

export interface StreamConfig {
  /** Schema title(s) events of this stream may use (the schema's `title`, e.g. `mediawiki/revision/create`). */
  schema_title: string | string[];
  /** Dotted path of a field used as the log's ordering key (events with one key stay in order). */
  key_field?: string;
}

export interface EventsConfig {
  /**
   * Where `$schema` URIs are looked up, in order: `builtin` (the schemas in src/events/schemas),
   * a directory (absolute, or relative to the working directory), a `file://` URL, or an
   * `http(s)://` base. Only these HTTP bases are ever fetched from.
   */
  schema_base_uris: string[];
  /** Stream name, or `/regex/`, → what it accepts. Exact names win over patterns. */
  streams: Record<string, StreamConfig>;
  /** Invalid events are also produced, as error events, to this stream (empty: not at all). */
  error_stream: string;
  /** `$schema` of those error events. */
  error_schema: string;
  /** `emitter_id` of error events. */
  emitter_id: string;
  /** Largest request body (413 beyond). */
  max_body_bytes: number;
  /** Whether `?hasty=true` (202 before the events are durable) is honoured. */
  allow_hasty: boolean;
  /** Let schemas mutate events (ajv useDefaults). Off: events are stored as sent (plus meta). */
  mutating_validation: boolean;
  /** Timeout of one schema fetch from an HTTP base. */
  schema_fetch_timeout_ms: number;
  /** The durable log (src/events/log/config.ts); default SQLite `events.sqlite` under data_dir. */
  log: LogConfig;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export const eventsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    schema_base_uris: { type: 'array', items: { type: 'string', minLength: 1 }, default: ['builtin'] },
    streams: {
      type: 'object',
      default: {},
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['schema_title'],
        properties: {
          schema_title: {
            anyOf: [
              { type: 'string', minLength: 1 },
              { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
            ],
          },
          key_field: { type: 'string', minLength: 1 },
        },
      },
    },
    error_stream: { type: 'string', default: 'eventgate.error.validation' },
    error_schema: { type: 'string', minLength: 1, default: '/error/2.1.0' },
    emitter_id: { type: 'string', minLength: 1, default: 'cascade-intake' },
    max_body_bytes: { type: 'integer', minimum: 1024, default: DEFAULT_MAX_BODY_BYTES },
    allow_hasty: { type: 'boolean', default: true },
    mutating_validation: { type: 'boolean', default: false },
    schema_fetch_timeout_ms: { type: 'integer', minimum: 100, default: 5000 },
    log: logConfigSchema,
  },
} as const;
