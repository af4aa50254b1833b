// Config section `wiki:` of cascade.yaml: the example wiki origin (JSON Schema fragment and type).
// Owned by src/wiki; src/config/schema.ts composes it into the full schema.

export interface WikiConfig {
  /** Start the example wiki in-process with Cascade (the embedded default). */
  enabled: boolean;
  host: string;
  port: number;
  /** SQLite file of the wiki; relative paths resolve against data_dir. */
  path: string;
  /** The wiki's domain (meta.domain of its events, siteinfo servername). */
  domain: string;
  /** Cascade's event intake; defaults to Cascade's own `/v1/events` when started in-process. */
  events_url?: string;
  /** Enables `/w/rest.php/v1/_test/*` (render counters, fault injection). Never in production. */
  test_hooks: boolean;
  /** Seed a fresh (empty) wiki with the project's own example pages. */
  seed: boolean;
}

export const wikiConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 7232 },
    path: { type: 'string', minLength: 1, default: 'wiki.sqlite' },
    domain: { type: 'string', pattern: '^[a-z0-9.-]+$', default: 'example.wiki' },
    events_url: { type: 'string', pattern: '^https?://' },
    test_hooks: { type: 'boolean', default: false },
    seed: { type: 'boolean', default: true },
  },
} as const;
