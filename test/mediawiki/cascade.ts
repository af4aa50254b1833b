// Starts Cascade in front of a wiki origin (a real MediaWiki or the example wiki) with its
// recentchanges follower on, on either log backend, for the test/mediawiki suites and the
// benchmark. `restart()` closes the app and starts it again on the same data dir and log.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';
import { MEDIAWIKI_STREAMS_YAML, RETRY_STREAMS_YAML, bucketsYaml, dependenciesYaml, testEventLog, type LogBackend } from '../helpers/config-yaml.ts';

export type Backend = LogBackend;

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
  const domain = o.domain ?? 'wiki.test';
  const log = testEventLog(o.backend, 'mw');
  const yaml = `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: ${domain}
wiki: { enabled: false }
events:
  log: ${log.yaml}
  streams:
${MEDIAWIKI_STREAMS_YAML}
${RETRY_STREAMS_YAML}
content:
  access_check_max_age_seconds: 300
${o.content ?? ''}
${o.resources ?? ''}
changeprop:
  enabled: ${o.changeprop ?? true}
  dependencies:
${dependenciesYaml('html', 'summary', 'mobile-sections', 'mobile-html')}
domains:
  ${domain}:
    origin:
      url: ${JSON.stringify(originUrl)}
      changes: ${o.changes ?? '{ follow: recentchanges, poll_interval_ms: 200 }'}
    buckets:
${bucketsYaml('html', 'summary', 'mobile-sections', 'mobile-html', 'stash', 'page-meta')}
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
      await log.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}
