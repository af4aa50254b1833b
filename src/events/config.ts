// Config section `events:` of cascade.yaml: JSON Schema fragment and type.
// Owned by src/events; src/config/schema.ts composes it into the full schema.
import { logConfigSchema, type LogConfig } from './log/config.ts';

export interface StreamConfig {
  /** Schema title(s) events of this stream may use (the schema's `title`, e.g. `mediawiki/revision/create`). */
  schema_title: string | string[];
  /** Dotted path of a field used as the log's ordering key (events with one key stay in order). */
  key_field?: string;
}

/** A bearer token, given literally or as the name of an environment variable holding it. */
export type ProducerToken = string | { env: string };

/**
 * Who may produce to some streams over HTTP. Every condition given must hold: `from` (the
 * client address is in one of these networks) and `tokens` (`Authorization: Bearer` is one of
 * these). A request is allowed a stream when any rule allows it. Cascade's internal streams
 * (resource_change, change-prop.*, the error stream) are opened only by rules with `internal: true`.
 */
export interface ProducerRule {
  /** Stream names or `/regex/` patterns. */
  streams: string[];
  /** CIDRs, single addresses, `loopback`, or `any`. */
  from?: string[];
  tokens?: ProducerToken[];
  /** Lets this rule open internal streams to HTTP producers (never needed for Cascade's own events). */
  internal?: boolean;
}

export interface SchemaCacheConfig {
  /** Compiled schemas kept (least recently used evicted beyond). */
  max_entries: number;
  /** Sum of the kept schemas' document sizes (bytes of their JSON). */
  max_bytes: number;
  /** Not-found / not-compilable results kept (each for `negative_ttl_ms`). */
  negative_max_entries: number;
  negative_ttl_ms: number;
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
  /**
   * Who may produce which streams over HTTP. Unset (configs older than this setting): loopback
   * may produce `mediawiki.*`, nobody else anything (a warning at start says so).
   */
  producers?: ProducerRule[];
  /** Most events in one request (413 beyond). */
  max_events_per_request: number;
  /** Deepest JSON nesting of a request body (400 beyond; the array of a batch counts as one level). */
  max_json_depth: number;
  schema_cache: SchemaCacheConfig;
  /** An append not durable within this time is answered 503 with Retry-After (the events may still land; resending dedups by id). */
  append_timeout_ms: number;
  /** An event whose schema cannot be loaded counts as `error` (EventGate: 500 when all do) or `invalid` (400). */
  unloadable_schema: 'error' | 'invalid';
  /** Compile schemas that fail ajv's json-schema-secure check (EventGate's allowInsecureSchemas). */
  allow_insecure_schemas: boolean;
  /**
   * Rate class of POST /v1/events per external client (requests, not events), applied when
   * `content.rate_limit.enabled` (the server-wide switch, loopback exemption and client bound).
   */
  rate_limit: { produce: { rate: number; burst: number } };
}

/** What an unset `events.producers` means: the example wiki (or a MediaWiki on this host) may post its events. */
export const DEFAULT_PRODUCERS: ProducerRule[] = [{ streams: ['/^mediawiki\\./'], from: ['loopback'] }];

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
    producers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['streams'],
        anyOf: [{ required: ['from'] }, { required: ['tokens'] }],
        properties: {
          streams: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          from: {
            type: 'array',
            minItems: 1,
            // An address or CIDR (IPv4 or IPv6), `loopback` or `any`; checked exactly at start.
            items: { type: 'string', pattern: '^(loopback|any|(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}(/([0-9]|[12][0-9]|3[0-2]))?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))?)$' },
          },
          tokens: {
            type: 'array',
            minItems: 1,
            items: {
              anyOf: [
                { type: 'string', minLength: 16 },
                { type: 'object', additionalProperties: false, required: ['env'], properties: { env: { type: 'string', minLength: 1 } } },
              ],
            },
          },
          internal: { type: 'boolean', default: false },
        },
      },
    },
    max_events_per_request: { type: 'integer', minimum: 1, default: 1000 },
    max_json_depth: { type: 'integer', minimum: 8, maximum: 10_000, default: 64 },
    schema_cache: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_entries: { type: 'integer', minimum: 1, default: 500 },
        max_bytes: { type: 'integer', minimum: 1024, default: 16 * 1024 * 1024 },
        negative_max_entries: { type: 'integer', minimum: 1, default: 1000 },
        negative_ttl_ms: { type: 'integer', minimum: 0, default: 10_000 },
      },
    },
    append_timeout_ms: { type: 'integer', minimum: 100, default: 1000 },
    unloadable_schema: { enum: ['error', 'invalid'], default: 'invalid' },
    allow_insecure_schemas: { type: 'boolean', default: false },
    rate_limit: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        produce: {
          type: 'object',
          additionalProperties: false,
          default: { rate: 50, burst: 200 },
          properties: {
            rate: { type: 'number', exclusiveMinimum: 0, default: 50 },
            burst: { type: 'integer', minimum: 1, default: 200 },
          },
        },
      },
    },
  },
} as const;
