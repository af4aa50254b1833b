// The example wiki and Cascade with declared resources (SQLite store and log in a temp dir).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';
import { startWiki, type WikiHandle } from '../../src/wiki/index.ts';
import { MEDIAWIKI_STREAMS_YAML, RETRY_STREAMS_YAML } from '../helpers/config-yaml.ts';

export interface ResourceHarness {
  app: App;
  wiki: WikiHandle;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Edits a page of the example wiki (its revision-create event reaches Cascade). */
  edit(title: string, text: string): number;
  /** The revision of the last edit made through `edit`, by title (DB key). */
  lastRev: Map<string, number>;
  /** Stops Cascade and starts it again on the same data dir and wiki, with `resourcesYaml`. */
  restart(resourcesYaml: string): Promise<void>;
  close(): Promise<void>;
}

/** A stored media list per refresh policy, and the page history proxied. */
export const RESOURCES_YAML = `
resources:
  html: { depends_on: [revision] }
  summary:                 # a built-in: docs and dependencies from the declaration
    summary: Short summary of a page
    stability: experimental
    depends_on: [html]
    refresh: hot
  mobile-html: { depends_on: [html], refresh: lazy }
  media-list:
    kind: stored
    path: /page/media-list/{title}
    stability: unstable
    summary: Media files used on a page
    request: { uri: '/w/rest.php/v1/page/{title}/links/media' }
    content_type: application/json; charset=utf-8
    storage: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
    depends_on: [revision]
    refresh: eager
  media-lazy:
    path: /page/media-lazy/{title}
    request: { uri: '/w/rest.php/v1/page/{title}/links/media' }
    depends_on: [revision]
    refresh: lazy
  media-hot:
    path: /page/media-hot/{title}
    request: { uri: '/w/rest.php/v1/page/{title}/links/media' }
    depends_on: [revision]
    refresh: hot
  media-count:
    path: /page/media-count/{title}
    derive: { from: media-list, body: { title: '{{title}}', files: '{{source.files}}' } }
    refresh: eager
  revision-info:
    kind: proxy
    path: /page/revision-info/{title}/{rev}
    request: { uri: '/w/rest.php/v1/revision/{rev}/bare' }
  page-bare:
    kind: proxy
    path: /page/bare/{title}
    request: { backend: wikirest, uri: '/v1/page/{title}/bare' }
  history:
    kind: proxy
    path: /page/history/{title}
    request: { uri: '/w/rest.php/v1/page/{title}/history', pass_query: [older_than] }
    cache_control: no-cache
resource_heat: { window_seconds: 3600, max_pages: 1000 }
resource_backends:
  wikirest: { url: '$WIKI_URL/w/rest.php' }
`;

export async function startResourceHarness(resourcesYaml = RESOURCES_YAML): Promise<ResourceHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-resources-'));
  const wiki = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, domain: 'example.wiki', testHooks: true, seed: true });
  const yamlOf = (resourcesYaml: string) => `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: example.wiki
wiki: { enabled: false }
# The test itself is a trusted proxy: x-forwarded-for makes a request external.
http: { trusted_proxies: [127.0.0.1/32] }
events:
  streams:
${MEDIAWIKI_STREAMS_YAML}
${RETRY_STREAMS_YAML}
${resourcesYaml.replace('$WIKI_URL', wiki.url)}
domains:
  example.wiki:
    origin: { url: ${JSON.stringify(wiki.url)} }
    buckets:
      page-meta: { type: key_value, compression: none }
`;
  const start = async (resources: string) => {
    const a = await startApp(configFromYaml(yamlOf(resources), '<test>', {}), { quiet: !process.env.CASCADE_DEBUG });
    wiki.setEventsUrl(`${a.url}/v1/events`);
    return a;
  };
  let app = await start(resourcesYaml);
  const lastRev = new Map<string, number>();
  return {
    get app() {
      return app;
    },
    wiki,
    fetch: (path, init) => fetch(app.url + path, init),
    async restart(resources) {
      await app.close();
      app = await start(resources);
    },
    lastRev,
    edit: (title, text) => {
      const rev = wiki.wiki.edit({ title, text, performer: { user_text: 'Tester', user_groups: ['*'], user_is_bot: false } }).rev.rev_id;
      lastRev.set(title.replace(/ /g, '_'), rev);
      return rev;
    },
    async close() {
      await app.close();
      await wiki.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
