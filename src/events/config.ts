// Config section `events:` of cascade.yaml: JSON Schema fragment and the types derived from it.
// Owned by src/events; src/config/schema.ts composes it into the full schema.
import { logConfigSchema, type LogConfig } from './log/config.ts';
import type { FromSchema } from '../config/schema-types.ts';
import { section, closed, int, rateClass } from '../config/schema-fragments.ts';

const MAX_BODY_BYTES = 4 * 1024 * 1024;

const streamSchema = closed(
  {
    /** Schema title(s) events of this stream may use (the schema's `title`, e.g. `mediawiki/revision/create`). */
    schema_title: {
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      ],
    },
    /** Dotted path of a field used as the log's ordering key (events with one key stay in order). */
    key_field: { type: 'string', minLength: 1 },
  },
  ['schema_title'],
);

/**
 * Who may produce to some streams over HTTP. Every condition given must hold: `from` (the
 * client address is in one of these networks) and `tokens` (`Authorization: Bearer` is one of
 * these). A request is allowed a stream when any rule allows it. Cascade's internal streams
 * (resource_change, change-prop.*, the error stream) are opened only by rules with `internal: true`.
 */
const producerRuleSchema = {
  ...closed(
    {
      /** Stream names or `/regex/` patterns. */
      streams: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      /** CIDRs, single addresses, `loopback`, or `any`. */
      from: {
        type: 'array',
        minItems: 1,
        // An address or CIDR (IPv4 or IPv6), `loopback` or `any`; checked exactly at start.
        items: { type: 'string', pattern: '^(loopback|any|(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}(/([0-9]|[12][0-9]|3[0-2]))?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))?)$' },
      },
      /** Bearer tokens, given literally or as the name of an environment variable holding one. */
      tokens: {
        type: 'array',
        minItems: 1,
        items: { anyOf: [{ type: 'string', minLength: 16 }, closed({ env: { type: 'string', minLength: 1 } }, ['env'])] },
      },
      /** Lets this rule open internal streams to HTTP producers (never needed for Cascade's own events). */
      internal: { type: 'boolean', default: false },
    },
    ['streams'],
  ),
  anyOf: [{ required: ['from'] }, { required: ['tokens'] }],
} as const;

export const eventsConfigSchema = section({
  /**
   * Where `$schema` URIs are looked up, in order: `builtin` (the schemas in src/events/schemas),
   * a directory (absolute, or relative to the working directory), a `file://` URL, or an
   * `http(s)://` base. Only these HTTP bases are ever fetched from.
   */
  schema_base_uris: { type: 'array', items: { type: 'string', minLength: 1 }, default: ['builtin'] },
  /** Stream name, or `/regex/`, → what it accepts. Exact names win over patterns. */
  streams: { type: 'object', default: {}, additionalProperties: streamSchema },
  /** Invalid events are also produced, as error events, to this stream (empty: not at all). */
  error_stream: { type: 'string', default: 'eventgate.error.validation' },
  /** `$schema` of those error events. */
  error_schema: { type: 'string', minLength: 1, default: '/error/2.1.0' },
  /** `emitter_id` of error events. */
  emitter_id: { type: 'string', minLength: 1, default: 'cascade-intake' },
  /** Largest request body (413 beyond). */
  max_body_bytes: int(1024, MAX_BODY_BYTES),
  /** Whether `?hasty=true` (202 before the events are durable) is honoured. */
  allow_hasty: { type: 'boolean', default: true },
  /** Let schemas mutate events (ajv useDefaults). Off: events are stored as sent (plus meta). */
  mutating_validation: { type: 'boolean', default: false },
  /** Timeout of one schema fetch from an HTTP base. */
  schema_fetch_timeout_ms: int(100, 5000),
  /** The durable log (src/events/log/config.ts); default SQLite `events.sqlite` under data_dir. */
  log: logConfigSchema,
  /**
   * Who may produce which streams over HTTP. Unset (configs older than this setting): loopback
   * may produce `mediawiki.*`, nobody else anything (a warning at start says so).
   */
  producers: { type: 'array', items: producerRuleSchema },
  /** Most events in one request (413 beyond). */
  max_events_per_request: int(1, 1000),
  /** Deepest JSON nesting of a request body (400 beyond; the array of a batch counts as one level). */
  max_json_depth: int(8, 64, 10_000),
  schema_cache: section({
    /** Compiled schemas kept (least recently used evicted beyond). */
    max_entries: int(1, 500),
    /** Sum of the kept schemas' document sizes (bytes of their JSON). */
    max_bytes: int(1024, 16 * 1024 * 1024),
    /** Not-found / not-compilable results kept (each for `negative_ttl_ms`). */
    negative_max_entries: int(1, 1000),
    negative_ttl_ms: int(0, 10_000),
  }),
  /** An append not durable within this time is answered 503 with Retry-After (the events may still land; resending dedups by id). */
  append_timeout_ms: int(100, 1000),
  /** An event whose schema cannot be loaded counts as `error` (EventGate: 500 when all do) or `invalid` (400). */
  unloadable_schema: { enum: ['error', 'invalid'], default: 'invalid' },
  /** Compile schemas that fail ajv's json-schema-secure check (EventGate's allowInsecureSchemas). */
  allow_insecure_schemas: { type: 'boolean', default: false },
  /**
   * Rate class of POST /v1/events per external client (requests, not events), applied when
   * `content.rate_limit.enabled` (the server-wide switch, loopback exemption and client bound).
   */
  rate_limit: section({ produce: rateClass(50, 200) }),
});

export type StreamConfig = FromSchema<typeof streamSchema>;
export type ProducerRule = FromSchema<typeof producerRuleSchema>;
/** A bearer token, given literally or as the name of an environment variable holding it. */
export type ProducerToken = ProducerRule['tokens'] extends (infer T)[] | undefined ? T : never;
// `log` is split by backend (LogConfig), which the flat schema cannot say.
export type EventsConfig = Omit<FromSchema<typeof eventsConfigSchema>, 'log'> & { log: LogConfig };

/** What an unset `events.producers` means: the example wiki (or a MediaWiki on this host) may post its events. */
export const DEFAULT_PRODUCERS: ProducerRule[] = [{ streams: ['/^mediawiki\\./'], from: ['loopback'], internal: false }];
