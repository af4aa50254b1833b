// Starts Cascade in front of a wiki origin (a real MediaWiki or the example wiki) with its
// recentchanges follower on, on either log backend, for the test/mediawiki suites and the
// benchmark. `restart()` closes the app and starts it again on the same data dir and log.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';
import { NATS_URL, uniqueName } from '../helpers/backends.ts';

export type Backend = 'sqlite' | 'jetstream';

export interface CascadeOptions {
  backend: Backend;
  domain?: string;
  /** `origin.changes` block (YAML flow mapping). Default: follow recentchanges every 200 ms. */
  changes?: string;
  /** Change propagation on (the default rules from dependencies). Default true. */
  changeprop?: boolean;
  /** Extra top-level `content:` lines. */
  content?: string;
  /** A top-level `resources:` block (declared resources, src/resources). */
  resources?: string;
}

export interface CascadeUnderTest {
  app: App;
  dir: string;
  domain: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Events of one stream on the log, oldest first. */
  events(stream: string): Promise<Record<string, unknown>[]>;
  restart(): Promise<void>;
  /** Stops the app (keeps the data) until `restart()`. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export async function startCascade(originUrl: string, o: CascadeOptions): Promise<CascadeUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-mw-'));
  const prefix = uniqueName('mw').replace(/[^A-Za-z0-9_-]/g, '_');
  const domain = o.domain ?? 'wiki.test';
  const log = o.backend === 'sqlite' ? '{ backend: sqlite, path: events.sqlite }' : `{ backend: jetstream, url: ${JSON.stringify(NATS_URL)}, stream_prefix: ${prefix}, storage: memory }`;
  const yaml = `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: ${domain}
wiki: { enabled: false }
events:
  log: ${log}
  streams:
    resource_change: { schema_title: resource_change }
    mediawiki.revision-create: { schema_title: mediawiki/revision/create }
    mediawiki.page-delete: { schema_title: mediawiki/page/delete }
    mediawiki.page-undelete: { schema_title: mediawiki/page/undelete }
    mediawiki.page-move: { schema_title: mediawiki/page/move }
    mediawiki.revision-visibility-change: { schema_title: mediawiki/revision/visibility-change }
    /^change-prop\\.retry\\..+$/: { schema_title: change-prop/retry }
content:
  access_check_max_age_seconds: 300
${o.content ?? ''}
${o.resources ?? ''}
changeprop:
  enabled: ${o.changeprop ?? true}
  dependencies:
    html: [revision, templates]
    summary: [html]
    mobile-sections: [html]
    mobile-html: [html]
domains:
  ${domain}:
    origin:
      url: ${JSON.stringify(originUrl)}
      changes: ${o.changes ?? '{ follow: recentchanges, poll_interval_ms: 200 }'}
    buckets:
      html: { type: key_rev_value, compression: brotli, retention: { policy: latest, count: 5, grace_seconds: 86400 } }
      summary: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      mobile-sections: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      mobile-html: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      stash: { type: key_rev_value, compression: gzip, retention: { policy: ttl, ttl_seconds: 86400 } }
      page-meta: { type: key_value, compression: none }
`;
  // CASCADE_DEBUG=1 prints the app's log lines (when a case needs a look inside).
  const start = () => startApp(configFromYaml(yaml, '<test>', {}), { quiet: !process.env.CASCADE_DEBUG });
  let app: App | undefined = await start();
  const self: CascadeUnderTest = {
    get app() {
      if (!app) throw new Error('Cascade is stopped');
      return app;
    },
    dir,
    domain,
    fetch: (path, init) => fetch(self.app.url + path, init),
    async events(stream) {
      const a = self.app;
      const recs = await a.events.log.read(a.events.streams.topicOf(stream), 0, 100_000);
      return recs.map((r) => JSON.parse(r.value.toString('utf8')) as Record<string, unknown>);
    },
    async stop() {
      await app?.close();
      app = undefined;
    },
    async restart() {
      await self.stop();
      app = await start();
    },
    async close() {
      await app?.close();
      app = undefined;
      if (o.backend === 'jetstream') {
        const { deleteStreamsWithPrefix } = await import('../../src/events/log/jetstream.ts');
        await deleteStreamsWithPrefix(NATS_URL, prefix);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}
