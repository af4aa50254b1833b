// Config fragments the test harnesses share, so the streams, buckets and dependencies of the
// standard page resources are spelled once. Each fragment is indented for where it goes.
import { NATS_URL, uniqueName } from './backends.ts';

/** `events.streams` entries: resource_change and MediaWiki's page event streams. */
export const MEDIAWIKI_STREAMS_YAML = `    resource_change: { schema_title: resource_change }
    mediawiki.revision-create: { schema_title: mediawiki/revision/create }
    mediawiki.page-delete: { schema_title: mediawiki/page/delete }
    mediawiki.page-undelete: { schema_title: mediawiki/page/undelete }
    mediawiki.page-move: { schema_title: mediawiki/page/move }
    mediawiki.revision-visibility-change: { schema_title: mediawiki/revision/visibility-change }`;

/** The `events.streams` entry of change propagation's retry streams. */
export const RETRY_STREAMS_YAML = '    /^change-prop\\.retry\\..+$/: { schema_title: change-prop/retry }';

const BUCKETS = {
  html: '{ type: key_rev_value, compression: brotli, retention: { policy: latest, count: 5, grace_seconds: 86400 } }',
  summary: '{ type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }',
  'mobile-sections': '{ type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }',
  'mobile-html': '{ type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }',
  stash: '{ type: key_rev_value, compression: gzip, retention: { policy: ttl, ttl_seconds: 86400 } }',
  'page-meta': '{ type: key_value, compression: none }',
} as const;

/** `domains.<d>.buckets` entries of the standard page buckets named, in that order. */
export function bucketsYaml(...names: (keyof typeof BUCKETS)[]): string {
  return names.map((n) => `      ${n}: ${BUCKETS[n]}`).join('\n');
}

const DEPENDENCIES = { html: '[revision, templates]', summary: '[html]', 'mobile-sections': '[html]', 'mobile-html': '[html]' } as const;

/** `changeprop.dependencies` entries of the standard derived resources named, in that order. */
export function dependenciesYaml(...names: (keyof typeof DEPENDENCIES)[]): string {
  return names.map((n) => `    ${n}: ${DEPENDENCIES[n]}`).join('\n');
}

export type LogBackend = 'sqlite' | 'jetstream';

/**
 * A test's event log: SQLite in the data dir, or JetStream (memory storage) under stream names
 * unique to this run; `drop()` deletes those streams when the test is done.
 */
export function testEventLog(backend: LogBackend, name: string): { yaml: string; drop(): Promise<void> } {
  if (backend === 'sqlite') return { yaml: '{ backend: sqlite, path: events.sqlite }', drop: async () => {} };
  const prefix = uniqueName(name).replace(/[^A-Za-z0-9_-]/g, '_');
  return {
    yaml: `{ backend: jetstream, url: ${JSON.stringify(NATS_URL)}, stream_prefix: ${prefix}, storage: memory }`,
    async drop() {
      const { deleteStreamsWithPrefix } = await import('../../src/events/log/jetstream.ts');
      await deleteStreamsWithPrefix(NATS_URL, prefix);
    },
  };
}
