// Config section `wiki:` of cascade.yaml: the example wiki origin (JSON Schema fragment and type).
// Owned by src/wiki; src/config/schema.ts composes it into the full schema.
import type { FromSchema } from '../config/schema-types.ts';
import { section, httpUrl, port } from '../config/schema-fragments.ts';

export const wikiConfigSchema = section({
  /** Start the example wiki in-process with Cascade (the embedded default). */
  enabled: { type: 'boolean', default: true },
  host: { type: 'string', default: '127.0.0.1' },
  port: port(7232),
  /** SQLite file of the wiki; relative paths resolve against data_dir. */
  path: { type: 'string', minLength: 1, default: 'wiki.sqlite' },
  /** The wiki's domain (meta.domain of its events, siteinfo servername). */
  domain: { type: 'string', pattern: '^[a-z0-9.-]+$', default: 'example.wiki' },
  /** Cascade's event intake; defaults to Cascade's own `/v1/events` when started in-process. */
  events_url: httpUrl,
  /** Enables `/w/rest.php/v1/_test/*` (render counters, fault injection). Never in production. */
  test_hooks: { type: 'boolean', default: false },
  /** Seed a fresh (empty) wiki with the project's own example pages. */
  seed: { type: 'boolean', default: true },
});

export type WikiConfig = FromSchema<typeof wikiConfigSchema>;
