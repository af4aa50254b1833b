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
  },
} as const;
