// Config section `changeprop:` of cascade.yaml: JSON Schema fragment and the types derived from it.
// Owned by src/changeprop; src/config/schema.ts composes it into the full schema.
// Rules themselves are validated by src/changeprop/rule.ts (their errors name rule and field).
import type { FromSchema } from '../config/schema-types.ts';
import { section, int, httpUrl, lowerName } from '../config/schema-fragments.ts';
import { withDefaults } from '../config/load.ts';

const streamName = { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' } as const;
const httpMethod = { type: 'string', pattern: '^[A-Z]+$' } as const;

const purgeConfigSchema = section({
  /** Derive the CDN purge rule (it sends nothing while `targets` is empty). */
  enabled: { type: 'boolean', default: true },
  /** CDN frontends (`http://host:port`) every purge request is sent to. */
  targets: { type: 'array', items: httpUrl, default: [] },
  method: { ...httpMethod, default: 'PURGE' },
  /**
   * Send every batch again this long after the first time (0: off), as MediaWiki's rebound
   * purges: a CDN refetch racing the purge may still hit an instance that has not yet seen
   * the change (hot cache eviction travels through the log) and cache the old copy.
   */
  rebound_ms: int(0, 2000, 600000),
  /** Public URLs of a changed resource: `{domain}`, `{endpoint}` and `{title}` (path-encoded) are filled in. */
  urls: {
    type: 'array',
    items: httpUrl,
    default: ['http://{domain}/api/rest_v1/page/{endpoint}/{title}', 'http://{domain}/{domain}/v1/page/{endpoint}/{title}'],
  },
  /** Surrogate-key purges: one request per key (`{domain}/{title}`, as in Cascade's `Surrogate-Key`), key in `header`. */
  xkey: section({
    enabled: { type: 'boolean', default: false },
    method: { ...httpMethod, default: 'BAN' },
    header: { type: 'string', pattern: '^[A-Za-z0-9-]+$', default: 'xkey' },
  }),
  /** URLs collected into one batch (deduplicated) before the requests go out; and the wait for more. */
  batch_size: int(1, 100, 10000),
  batch_ms: int(0, 10, 10000),
  /** Purge requests in flight per batch. */
  concurrency: int(1, 16, 1000),
});

export const changepropConfigSchema = section({
  /** Run the rule engine inside `cascade serve`. */
  enabled: { type: 'boolean', default: true },
  /** Rule files (Wikimedia change-propagation `templates:` format), relative to the working directory. */
  rule_files: { type: 'array', items: { type: 'string' }, default: [] },
  /** Inline rules, same format as a rule file's `templates:`. */
  templates: { type: 'object', default: {} },
  /** Datacenters whose topics rules consume (`{dc}.{stream}`); empty means this datacenter only. */
  datacenters: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9_-]+$' }, default: [] },
  /** Default in-flight execs per rule (a rule's `concurrency` overrides it). */
  concurrency: int(1, 30, 10000),
  /** Extra host[:port] names exec requests may reach (the domains' origins and Cascade itself are always allowed). */
  allowed_hosts: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
  /** Base for relative exec URIs (`/sys/...`); default: Cascade's own listen address. */
  base_uri: httpUrl,
  /** Stream names `/regex/` topics are resolved against (in addition to the streams seen in config). */
  streams: { type: 'array', items: { type: 'string' }, default: [] },
  /** Retry stream prefix: retries of rule R go to `{dc}.{retry_stream}.{R}`. */
  retry_stream: { ...streamName, default: 'change-prop.retry' },
  /** Dead-letter stream prefix: dead letters of rule R go to `{dc}.{dlq_stream}.{R}`. */
  dlq_stream: { ...streamName, default: 'change-prop.error' },
  /** Events with a meta.id already executed by a rule within this window are dropped. */
  dedupe_window_seconds: int(0, 86400),
  /** Upper bound of any retry delay (backoff cap and Retry-After cap). */
  retry_max_delay_ms: int(0, 3600000),
  user_agent: { type: 'string', default: 'Cascade-ChangeProp' },
  /**
   * Key of the HMAC on Cascade's own retry and continuation events (src/changeprop/signing.ts).
   * Unset: `{data_dir}/changeprop.key`, created on first start. Instances sharing an event log
   * must share it.
   */
  signing_key: { type: 'string', minLength: 32 },
  /** Outbound keep-alive connections per host, and requests pipelined per connection (1: no pipelining). */
  http_connections: int(1, 128, 4096),
  http_pipelining: int(1, 1, 100),
  /**
   * Rules whose exec URI is relative (Cascade itself) go through the router in process, without
   * a loopback socket (default true). Off, or with a `base_uri` elsewhere: over HTTP.
   */
  in_process: { type: 'boolean', default: true },
  /**
   * What each stored resource depends on; the rules are derived from it (src/changeprop/deps.ts).
   * `html: [revision, templates]`, `summary: [html]`, `mobile-sections: [html]`. Empty: none.
   */
  dependencies: {
    type: 'object',
    default: {},
    propertyNames: lowerName,
    additionalProperties: { type: 'array', items: lowerName, minItems: 1 },
  },
  /** Derive the access rules (page delete/undelete/move, revision visibility) with the dependencies. */
  access_rules: { type: 'boolean', default: true },
  /** Pages per `list=embeddedin` batch of the template fan-out (one continuation event per further batch). */
  transclusion_batch: int(1, 50, 500),
  purge: purgeConfigSchema,
});

export type ChangepropConfig = FromSchema<typeof changepropConfigSchema>;
export type PurgeConfig = FromSchema<typeof purgeConfigSchema>;

/** The section's defaults: what an engine built in code (tests, benchmarks) gets for what it leaves out. */
export const CHANGEPROP_DEFAULTS = withDefaults(changepropConfigSchema, {});

/**
 * Streams only change propagation produces (retries, dead letters, transclusion fan-out and
 * continuations): HTTP producers need an `internal` rule to write them.
 */
export function changepropStreams(cp: Pick<ChangepropConfig, 'retry_stream' | 'dlq_stream'>): { names: string[]; prefixes: string[] } {
  return { names: [], prefixes: ['change-prop.', cp.retry_stream + '.', cp.dlq_stream + '.'] };
}
