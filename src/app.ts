// Composition root: builds every capability from config and mounts it on one HTTP server.
// Each capability exposes a `mount...(router, deps)` function; this file only wires them.
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import type { CascadeConfig } from './config/index.ts';
import { Router } from './router/router.ts';
import { createHttpServer } from './router/server.ts';
import { createLogger, mapLogger, silentLogger, type Logger } from './util/logger.ts';
import { metrics, mountMetrics } from './router/metrics.ts';
import { mountStorage, openStore } from './storage/index.ts';
import type { ContentStore } from './storage/types.ts';
import { openEventBus, mountEvents, eventsScope, type EventBus } from './events/index.ts';
import { mountScopes, type MountedScopes } from './router/scopes.ts';
import { rateClassOf } from './router/ratelimit.ts';
import { mountContent, startInvalidation, invalidationGroup, type MountedContent } from './content/index.ts';
import { startWiki, SEED_PAGES, type WikiHandle } from './wiki/index.ts';
import { dataPath } from './config/index.ts';
import { storeShared, eventBusShared, changepropShared } from './config/shared.ts';
import { mountOps, startupMessage, type MountedOps } from './ops/index.ts';
import type { Clock } from './util/clock.ts';

export interface App {
  config: CascadeConfig;
  store: ContentStore;
  /** The event bus: log, intake and in-process producer (resource_change goes through it). */
  events: EventBus;
  /** The content API: its service (access events: markDeleted, markRevisionVisibility, …), routes and request scope. */
  content: MountedContent;
  /** The example wiki origin, when `wiki.enabled` (its own port; counters for tests). */
  wiki?: WikiHandle;
  /** recentchanges followers of domains with `origin.changes.follow: recentchanges`. */
  changeFeeds: import('./origins/mediawiki/index.ts').ChangeFeeds;
  /** Change propagation, when `changeprop.enabled` (engine stats, rules). */
  changeprop?: import('./changeprop/service.ts').ChangepropService;
  /** The home page, the dashboard and its sampler (src/ops). */
  ops: MountedOps;
  router: Router;
  /** Request policy per capability (rate classes, internal-only checks). */
  scopes: MountedScopes;
  server: Server;
  /** The bound address (port 0 in config picks a free one). */
  url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** No log lines (tests, embedded use). */
  quiet?: boolean;
  /** Where log lines go (default: JSON lines on stdout). */
  logger?: Logger;
  /** Time for the store, the embedded log, rate limits and change propagation (tests advance a TestClock). */
  clock?: Clock;
}

export async function startApp(config: CascadeConfig, opts: StartOptions = {}): Promise<App> {
  mkdirSync(config.data_dir, { recursive: true });
  const log = opts.quiet ? silentLogger : (opts.logger ?? createLogger());
  const closers: (() => Promise<void>)[] = [];

  // storage
  const clock = opts.clock ? { clock: opts.clock } : {};
  const store = await openStore(config.storage, storeShared(config, opts.clock));
  closers.push(() => store.close());

  const router = new Router();
  // [storage] internal HTTP API under /{domain}/sys/…
  mountStorage(router, store);
  {
    // Expired rows (ttl, retention grace) are deleted in the background; one purge at a time.
    let purging = false;
    const purge = setInterval(() => {
      if (purging) return;
      purging = true;
      store
        .purgeExpired()
        .then((n) => n > 0 && log('storage purge', { removed: n }))
        .catch((e: unknown) => log('storage purge failed', { error: String(e) }))
        .finally(() => (purging = false));
    }, config.storage.purge_interval_seconds * 1000);
    purge.unref();
    closers.push(async () => clearInterval(purge));
  }
  // [events] intake POST /v1/events and the log
  const events = await openEventBus(config.events, eventBusShared(config), { logger: log, ...clock });
  closers.push(() => events.close());
  mountEvents(router, { ...events.http, logger: log });
  // [wiki] example wiki origin on its own port
  let wiki: WikiHandle | undefined;
  if (config.wiki.enabled) {
    const w = config.wiki;
    wiki = await startWiki({
      dbPath: dataPath(config, w.path),
      host: w.host,
      port: w.port,
      domain: w.domain,
      // Cascade's own intake; with listen port 0 it is set once the port is known (below).
      eventsUrl: w.events_url ?? (config.listen.port ? `http://${config.listen.host}:${config.listen.port}/v1/events` : undefined),
      testHooks: w.test_hooks,
      seed: w.seed,
      logger: log,
    });
    closers.push(() => wiki!.close());
    // A wiki on a free port (tests): its domain's origin is wherever it landed.
    if (w.port === 0 && config.domains[w.domain]) config.domains[w.domain].origin.url = wiki.url;
  }
  // [content] /{domain}/v1/… and /api/rest_v1/…
  const content = mountContent(router, { config, store, producer: events.producer, log });
  // [router] /metrics: internal callers or the admin token unless metrics.public
  mountMetrics(router, metrics, { public: config.metrics.public, ...(config.admin_token ? { token: config.admin_token } : {}) });
  closers.push(() => content.close());
  // [origins] follow the recentchanges of wikis without EventBus, onto the log
  const { startChangeFeeds } = await import('./origins/mediawiki/index.ts');
  const changeFeeds = await startChangeFeeds(config.domains, { originTimeoutMs: config.content.origin.timeout_ms }, { producer: events.producer, store, logger: log });
  closers.push(() => changeFeeds.close());
  // [ops] home page `/`, dashboard `/_dashboard` (changeprop is known once started, below)
  let changeprop: App['changeprop'];
  const ops = mountOps(router, { config, store, log: events.log, changeprop: () => changeprop, wikiUrl: () => wiki?.url, logger: log });
  closers.push(async () => ops.close());
  // [changeprop] rule engine consumers

  // Request policy per capability: each owns its paths, rate classes and internal-only
  // checks; what no capability claims (storage /sys, ops pages, /metrics) counts in the edge
  // classes, which share content.rate_limit's numbers as they always did.
  const rl = config.content.rate_limit;
  const scopes = mountScopes(
    [
      eventsScope(config.events),
      content.scope,
      { name: 'edge', owns: () => true, rateClasses: rl.classes, rateClassOf },
    ],
    { enabled: rl.enabled, includeLoopback: rl.include_loopback, maxClients: rl.max_clients, ...clock },
  );
  const server = createHttpServer({
    router,
    internalToken: config.admin_token,
    trustedProxies: config.http.trusted_proxies,
    forwardedHeaders: config.http.forwarded_headers,
    internalHosts: internalHostNames(config),
    logger: log,
    before: scopes.before,
    onResponse: content.onResponse,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolve());
  });
  const addr = server.address();
  const url = typeof addr === 'object' && addr ? `http://${config.listen.host}:${addr.port}` : '';
  // On a terminal the start-up lines give way to a readable message (below).
  const banner = !opts.quiet && process.stdout.isTTY === true;
  if (!banner) log('cascade listening', { url, storage: store.backend });
  // Closed after change propagation (registered later, closed earlier), whose execs go to
  // this server, and before the capabilities the handlers use.
  closers.push(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
  });
  if (wiki && !config.wiki.events_url && !config.listen.port) wiki.setEventsUrl(`${url}/v1/events`);
  // [content] other processes sharing the store evict their hot copies on our resource_change
  // (and we on theirs); a per-instance consumer group named after the instance.
  if (config.content.hot_cache.cross_instance_invalidation ?? config.storage.backend === 'postgres') {
    const id = config.content.instance_id ?? `${hostname()}-${url.slice(url.lastIndexOf(':') + 1)}`;
    const inv = await startInvalidation(content.service, { log: events.log, topic: events.streams.topicOf('resource_change'), group: invalidationGroup(id), logger: log });
    closers.push(() => inv.close());
  }
  // [changeprop] started once listening: relative exec URIs of the rules go to this server.
  if (config.changeprop.enabled) {
    const { startChangeprop } = await import('./changeprop/service.ts');
    // The banner already lists the rules.
    const logger = banner ? mapLogger(log, (msg, f) => (msg === 'changeprop started' ? undefined : [msg, f])) : log;
    changeprop = await startChangeprop(config.changeprop, changepropShared(config), { log: events.log, selfUrl: url, dispatch: server.dispatch, logger, ...clock, transclusions: (d, t, n, c) => content.service.wiki.transclusions(d, t, n, c) });
    const cp = changeprop;
    closers.push(() => cp.close());
  }

  if (banner) {
    const seeded = wiki && config.wiki.seed ? SEED_PAGES.filter((p) => !p.title.includes(':') && !p.text.startsWith('#REDIRECT')).map((p) => p.title) : [];
    const stored = seeded.length ? [] : await store.listKeys(config.default_domain, 'html', { limit: 4 }).then((p) => p.items, () => []);
    process.stdout.write(
      startupMessage({ url, version: ops.version, config, rules: changeprop?.rules.map((r) => r.name) ?? [], examples: [...seeded, ...stored], ...(wiki ? { wikiUrl: wiki.url } : {}) }) + '\n',
    );
  }

  return {
    config,
    store,
    ops,
    events,
    content,
    changeFeeds,
    ...(wiki ? { wiki } : {}),
    ...(changeprop ? { changeprop } : {}),
    router,
    scopes,
    server,
    url,
    async close() {
      for (const c of closers.reverse()) await c();
    },
  };
}

/** Host names of the services behind Cascade, which public error details must not name. */
function internalHostNames(config: CascadeConfig): string[] {
  const hosts = [config.listen.host, config.wiki.host];
  for (const d of Object.values(config.domains)) {
    try {
      hosts.push(new URL(d.origin.url).hostname);
    } catch {
      // the config schema requires http(s) URLs; a bad one fails elsewhere
    }
  }
  // A public domain served through its own origin (en.wikipedia.org) is no secret.
  return hosts.filter((h): h is string => typeof h === 'string' && !Object.hasOwn(config.domains, h));
}
