// The example wiki origin: a small MediaWiki stand-in (REST + action API subset, Parsoid-style
// HTML, MediaWiki events) on its own port, in-process with Cascade or standalone.
import type { Server } from 'node:http';
import { Router } from '../router/router.ts';
import { createHttpServer } from '../router/server.ts';
import { mountWiki } from './http.ts';
import { importWikitextDir as importDir, type ImportResult } from './import.ts';
import { seedWiki } from './seed.ts';
import { Wiki, type WikiStats } from './wiki.ts';
import type { Logger } from '../util/logger.ts';
import { wikiConfigSchema } from './config.ts';
import { withDefaults } from '../config/load.ts';

// What a wiki started in code gets for what it leaves out: the `wiki:` section's defaults.
const D = withDefaults(wikiConfigSchema, {});

export { wikiConfigSchema, type WikiConfig } from './config.ts';
export { Wiki, sha1Base36, type WikiStats } from './wiki.ts';
export { renderWikitext, redirectTarget, escapeHtml } from './render.ts';
export { parseTitle, siteinfo, NAMESPACES, NAMESPACE_ALIASES, type WikiTitle } from './site.ts';
export { SCHEMAS as WIKI_EVENT_SCHEMAS } from './events.ts';
export { restPagePath } from './http.ts';
export { SEED_PAGES } from './seed.ts';
export type { ImportResult } from './import.ts';

export interface StartWikiOptions {
  dbPath: string;
  host?: string;
  /** Default `wiki.port`'s; 0 picks a free port. */
  port?: number;
  domain?: string;
  /** Cascade's event intake (`…/v1/events`); without it events wait in the outbox. */
  eventsUrl?: string;
  testHooks?: boolean;
  /** Seed an empty wiki with the project's example pages (default true). */
  seed?: boolean;
  logger?: Logger;
}

export interface WikiHandle {
  /** Base URL, e.g. `http://127.0.0.1:7232` (REST under `/w/rest.php/v1`, action API `/w/api.php`). */
  url: string;
  wiki: Wiki;
  server: Server;
  stats(): WikiStats;
  /** Points event delivery somewhere else (e.g. once Cascade knows its own port). */
  setEventsUrl(url: string | undefined): void;
  importWikitextDir(dir: string): ImportResult;
  close(): Promise<void>;
}

export async function startWiki(opts: StartWikiOptions): Promise<WikiHandle> {
  const host = opts.host ?? D.host;
  const wiki = new Wiki({ dbPath: opts.dbPath, domain: opts.domain ?? D.domain, eventsUrl: opts.eventsUrl, logger: opts.logger });
  if (opts.seed ?? D.seed) seedWiki(wiki);
  let url = '';
  const router = new Router();
  mountWiki(router, wiki, { testHooks: opts.testHooks ?? D.test_hooks, baseUrl: () => url, logger: opts.logger });
  const server = createHttpServer({ router, logger: opts.logger });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? D.port, host, () => resolve());
    });
  } catch (e) {
    await wiki.close();
    throw e;
  }
  const addr = server.address();
  url = typeof addr === 'object' && addr ? `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}` : '';
  wiki.start();
  return {
    url,
    wiki,
    server,
    stats: () => wiki.stats(),
    setEventsUrl: (u) => wiki.outbox.setUrl(u),
    importWikitextDir: (dir) => importDir(wiki, dir),
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await wiki.close();
    },
  };
}

/** Imports a directory of wikitext files into the wiki at `dbPath` (no server needed). */
export async function importWikitextDir(dir: string, opts: { dbPath: string; domain?: string; seed?: boolean; onProgress?: (done: number, total: number) => void }): Promise<ImportResult> {
  const wiki = new Wiki({ dbPath: opts.dbPath, domain: opts.domain ?? D.domain });
  try {
    if (opts.seed ?? D.seed) seedWiki(wiki);
    return importDir(wiki, dir, opts.onProgress);
  } finally {
    await wiki.close();
  }
}
