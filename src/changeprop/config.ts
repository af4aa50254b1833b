// Config section `changeprop:` of cascade.yaml: JSON Schema fragment and type.
// Owned by src/changeprop; src/config/schema.ts composes it into the full schema.
// Rules themselves are validated by src/changeprop/rule.ts (their errors name rule and field).

export interface ChangepropConfig {
  /** Run the rule engine inside `cascade serve`. */
  enabled: boolean;
  /** Rule files (Wikimedia change-propagation `templates:` format), relative to the working directory. */
  rule_files: string[];
  /** Inline rules, same format as a rule file's `templates:`. */
  templates: Record<string, unknown>;
  /** Datacenters whose topics rules consume (`{dc}.{stream}`); empty means this datacenter only. */
  datacenters: string[];
  /** Default in-flight execs per rule (a rule's `concurrency` overrides it). */
  concurrency: number;
  /** Extra host[:port] names exec requests may reach (the domains' origins and Cascade itself are always allowed). */
  allowed_hosts: string[];
  /** Base for relative exec URIs (`/sys/...`); default: Cascade's own listen address. */
  base_uri?: string;
  /** Stream names `/regex/` topics are resolved against (in addition to the streams seen in config). */
  streams: string[];
  /** Retry stream prefix: retries of rule R go to `{dc}.{retry_stream}.{R}`. */
  retry_stream: string;
  /** Dead-letter stream prefix: dead letters of rule R go to `{dc}.{dlq_stream}.{R}`. */
  dlq_stream: string;
  /** Events with a meta.id already executed by a rule within this window are dropped. */
  dedupe_window_seconds: number;
  /** Upper bound of any retry delay (backoff cap and Retry-After cap). */
  retry_max_delay_ms: number;
  user_agent: string;
  /**
   * Key of the HMAC on Cascade's own retry and continuation events (src/changeprop/signing.ts).
   * Unset: `{data_dir}/changeprop.key`, created on first start. Instances sharing an event log
   * must share it.
   */
  signing_key?: string;
  /** Outbound keep-alive connections per host, and requests pipelined per connection (1: no pipelining). */
  http_connections: number;
  http_pipelining: number;
  /**
   * Rules whose exec URI is relative (Cascade itself) go through the router in process, without
   * a loopback socket (default true). Off, or with a `base_uri` elsewhere: over HTTP.
   */
  in_process: boolean;
  /**
   * What each stored resource depends on; the rules are derived from it (src/changeprop/deps.ts).
   * `html: [revision, templates]`, `summary: [html]`, `mobile-sections: [html]`. Empty: none.
   */
  dependencies: Record<string, string[]>;
  /** Derive the access rules (page delete/undelete/move, revision visibility) with the dependencies. */
  access_rules: boolean;
  /** Pages per `list=embeddedin` batch of the template fan-out (one continuation event per further batch). */
  transclusion_batch: number;
  purge: PurgeConfig;
}

export interface PurgeConfig {
  /** Derive the CDN purge rule (it sends nothing while `targets` is empty). */
  enabled: boolean;
  /** CDN frontends (`http://host:port`) every purge request is sent to. */
  targets: string[];
  method: string;
  /** Public URLs of a changed resource: `{domain}`, `{endpoint}` and `{title}` (path-encoded) are filled in. */
  urls: string[];
  /** Surrogate-key purges: one request per key (`{domain}/{title}`, as in Cascade's `Surrogate-Key`), key in `header`. */
  xkey: { enabled: boolean; method: string; header: string };
  /** URLs collected into one batch (deduplicated) before the requests go out; and the wait for more. */
  batch_size: number;
  batch_ms: number;
  /** Purge requests in flight per batch. */
  concurrency: number;
  /**
   * Send every batch again this long after the first time (0: off), as MediaWiki's rebound
   * purges: a CDN refetch racing the purge may still hit an instance that has not yet seen
   * the change (hot cache eviction travels through the log) and cache the old copy.
   */
  rebound_ms: number;
}

export const changepropConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    rule_files: { type: 'array', items: { type: 'string' }, default: [] },
    templates: { type: 'object', default: {} },
    datacenters: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9_-]+$' }, default: [] },
    concurrency: { type: 'integer', minimum: 1, maximum: 10000, default: 30 },
    allowed_hosts: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    base_uri: { type: 'string', pattern: '^https?://' },
    streams: { type: 'array', items: { type: 'string' }, default: [] },
    retry_stream: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', default: 'change-prop.retry' },
    dlq_stream: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', default: 'change-prop.error' },
    dedupe_window_seconds: { type: 'integer', minimum: 0, default: 86400 },
    retry_max_delay_ms: { type: 'integer', minimum: 0, default: 3600000 },
    user_agent: { type: 'string', default: 'Cascade-ChangeProp' },
    signing_key: { type: 'string', minLength: 32 },
    http_connections: { type: 'integer', minimum: 1, maximum: 4096, default: 128 },
    http_pipelining: { type: 'integer', minimum: 1, maximum: 100, default: 1 },
    in_process: { type: 'boolean', default: true },
    dependencies: {
      type: 'object',
      default: {},
      propertyNames: { pattern: '^[a-z][a-z0-9-]*$' },
      additionalProperties: { type: 'array', items: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' }, minItems: 1 },
    },
    access_rules: { type: 'boolean', default: true },
    transclusion_batch: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    purge: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        targets: { type: 'array', items: { type: 'string', pattern: '^https?://' }, default: [] },
        method: { type: 'string', pattern: '^[A-Z]+$', default: 'PURGE' },
        rebound_ms: { type: 'integer', minimum: 0, maximum: 600000, default: 2000 },
        urls: {
          type: 'array',
          items: { type: 'string', pattern: '^https?://' },
          default: ['http://{domain}/api/rest_v1/page/{endpoint}/{title}', 'http://{domain}/{domain}/v1/page/{endpoint}/{title}'],
        },
        xkey: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: false },
            method: { type: 'string', pattern: '^[A-Z]+$', default: 'BAN' },
            header: { type: 'string', pattern: '^[A-Za-z0-9-]+$', default: 'xkey' },
          },
        },
        batch_size: { type: 'integer', minimum: 1, maximum: 10000, default: 100 },
        batch_ms: { type: 'integer', minimum: 0, maximum: 10000, default: 10 },
        concurrency: { type: 'integer', minimum: 1, maximum: 1000, default: 16 },
      },
    },
  },
} as const;
