// Starts the embedded default in-process for end-to-end tests: the example wiki on a free
// port (test hooks on) and Cascade (SQLite store and log in a temp dir, port 0) in front of it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';
import { startWiki, type WikiHandle } from '../../src/wiki/index.ts';
import { MEDIAWIKI_STREAMS_YAML, bucketsYaml } from '../helpers/config-yaml.ts';

export interface Harness {
  app: App;
  wiki: WikiHandle;
  /** Cascade's base URL. */
  url: string;
  dir: string;
  /** GET/POST against Cascade. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A POST to the example wiki's action API (JSON, formatversion 2); an API error fails the test. */
  wikiApi(form: Record<string, string>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** `resources`: a top-level `resources:` block (e.g. DEFAULT_RESOURCES_YAML). */
export async function startHarness(contentYaml = '', resources = ''): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-content-'));
  const wiki = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, domain: 'example.wiki', testHooks: true, seed: true });
  const c = await startCascade(wiki.url, 'example.wiki', contentYaml, dir, resources);
  wiki.setEventsUrl(`${c.url}/v1/events`);
  return {
    ...c,
    wiki,
    async wikiApi(form) {
      const r = await fetch(`${wiki.url}/w/api.php`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ format: 'json', formatversion: '2', ...form }).toString(),
      });
      const j = (await r.json()) as Record<string, unknown>;
      assert.equal(j.error, undefined, JSON.stringify(j));
      return j;
    },
    async close() {
      await c.app.close();
      await wiki.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CascadeOnly {
  app: App;
  url: string;
  dir: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** Cascade alone (SQLite store and log in a temp dir, port 0) in front of the origin at `originUrl`. */
export async function startCascade(originUrl: string, domain: string, contentYaml = '', dir = mkdtempSync(join(tmpdir(), 'cascade-content-')), resources = ''): Promise<CascadeOnly> {
  const yaml = `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: ${domain}
wiki: { enabled: false }
events:
  streams:
${MEDIAWIKI_STREAMS_YAML}
content:
${contentYaml || '  access_check_max_age_seconds: 300'}
${resources}
domains:
  ${domain}:
    origin: { url: ${JSON.stringify(originUrl)} }
    buckets:
${bucketsYaml('html', 'summary', 'mobile-sections', 'mobile-html', 'stash', 'page-meta')}
`;
  const config = configFromYaml(yaml, '<test>', {});
  const app = await startApp(config, { quiet: true });
  return {
    app,
    url: app.url,
    dir,
    fetch: (path, init) => fetch(app.url + path, init),
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The wiki's render counter. */
export function renders(h: Harness): number {
  return h.wiki.stats().renders;
}
