// Operator surfaces: the home page `/`, the live dashboard `/_dashboard` (its data as JSON at
// `/_dashboard/data`) and their assets under `/_ops/`. The dashboard's numbers come from the
// metrics registry `/metrics` serves, so the page and a Prometheus scrape always agree.
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import type { CascadeConfig } from '../config/index.ts';
import { CascadeError, Errors } from '../errors/index.ts';
import { metrics as defaultRegistry, type MetricsRegistry } from '../router/metrics.ts';
import type { RequestContext, Router } from '../router/router.ts';
import { sendJson } from '../router/server.ts';
import type { ContentStore } from '../storage/types.ts';
import { dlqStreams, type ChangepropService } from '../changeprop/service.ts';
import { listDeadLetters } from '../changeprop/dlq.ts';
import type { EventLog } from '../events/log/types.ts';
import { OPS_CSS, DASHBOARD_JS } from './assets.ts';
import { DashboardSampler, SAMPLE_MS } from './dashboard-data.ts';
import { OpsErrors } from './errors.ts';
import { dashboardPage, homePage } from './pages.ts';
import { BucketSizeProbe, trackBucketSizes } from './storage-sizes.ts';
import type { Logger } from '../util/logger.ts';

export { OpsErrors } from './errors.ts';
export { parseExposition, familyOf, type Sample, type Exposition } from './promtext.ts';
export { DashboardSampler, quantile, type DashboardData } from './dashboard-data.ts';
export { startupMessage } from './banner.ts';

export interface OpsDeps {
  config: CascadeConfig;
  store: ContentStore;
  /** Change propagation starts after the server listens: asked for at request time. */
  changeprop: () => ChangepropService | undefined;
  /** The durable log (dead letters are read from it). */
  log: EventLog;
  /** The example wiki's address, when it runs in this process. */
  wikiUrl: () => string | undefined;
  registry?: MetricsRegistry;
  logger?: Logger;
}

export interface MountedOps {
  /** Cascade's version (package.json). */
  version: string;
  sampler: DashboardSampler;
  sizes: BucketSizeProbe;
  close(): void;
}

/** Our own pages may load our own assets and fetch our own data; nothing else. */
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Dead letters answered per request (oldest first; `?since=` moves the start). */
const DEAD_LETTER_PAGE = 200;

let version: string | undefined;
function packageVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Who may see the dashboard: internal callers (loopback without X-Forwarded-For, or the
 * `x-cascade-internal` header with the admin token), or anyone presenting the admin token as
 * `Authorization: Bearer …` or `?token=…` (the page passes it on to its data requests).
 */
export function dashboardAllowed(ctx: RequestContext, adminToken: string | undefined): boolean {
  if (ctx.internal) return true;
  if (!adminToken) return false;
  const auth = ctx.req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ') && sameSecret(auth.slice(7).trim(), adminToken)) return true;
  const q = ctx.query.get('token');
  return q !== null && sameSecret(q, adminToken);
}

function sendHtml(ctx: RequestContext, body: string): void {
  ctx.res.setHeader('content-security-policy', PAGE_CSP);
  ctx.res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
}

export function mountOps(router: Router, deps: OpsDeps): MountedOps {
  const { config } = deps;
  const startedAt = new Date().toISOString();
  const sampler = new DashboardSampler(deps.registry ?? defaultRegistry);
  const sizes = new BucketSizeProbe(deps.store, deps.logger);
  const untrackSizes = trackBucketSizes(sizes);
  const guard = (ctx: RequestContext) => {
    if (!dashboardAllowed(ctx, config.admin_token)) {
      throw new CascadeError(OpsErrors.dashboardForbidden, 'the dashboard answers internal callers, or the admin token as `Authorization: Bearer <token>` or `?token=<token>`');
    }
  };

  router.add('GET', '/', async (ctx) => {
    const cp = deps.changeprop();
    let examples: string[] = [];
    if (config.domains[config.default_domain]?.buckets?.html) {
      try {
        examples = (await deps.store.listKeys(config.default_domain, 'html', { limit: 6 })).items;
      } catch {
        examples = [];
      }
    }
    const log = config.events.log as { backend: string; url?: string; path?: string };
    sendHtml(
      ctx,
      homePage({
        version: packageVersion(),
        node: process.versions.node,
        startedAt,
        storage: config.storage.backend,
        eventLog: log.backend,
        defaultDomain: config.default_domain,
        domains: Object.entries(config.domains).map(([name, d]) => ({ name, buckets: Object.keys(d.buckets ?? {}), ...(ctx.internal ? { origin: d.origin.url } : {}) })),
        rules: (cp?.engine.runners ?? []).map((r) => ({ name: r.rule.name, topics: r.topics, source: r.rule.file.startsWith("<") ? r.rule.file.slice(1, -1) : `${r.rule.file}:${r.rule.line}` })),
        examples,
        internal: ctx.internal,
        ...(ctx.internal && deps.wikiUrl() ? { wikiUrl: deps.wikiUrl() } : {}),
      }),
    );
  });
  router.add('GET', '/_dashboard', (ctx) => {
    guard(ctx);
    sendHtml(ctx, dashboardPage({ version: packageVersion(), dataUrl: '/_dashboard/data', intervalMs: SAMPLE_MS }));
  });
  router.add('GET', '/_dashboard/data', (ctx) => {
    guard(ctx);
    sendJson(ctx.res, 200, sampler.data(), { 'cache-control': 'no-store' });
  });
  // What `cascade dlq list --rule R` prints, as JSON (the dashboard links it per rule).
  router.add('GET', '/_dashboard/dead-letters/{rule}', async (ctx) => {
    guard(ctx);
    const rule = ctx.params.rule;
    if (!deps.changeprop()?.rules.some((r) => r.name === rule)) throw new CascadeError(Errors.notFound, `no rule named ${rule} is running`);
    const sinceParam = ctx.query.get('since');
    const since = sinceParam === null ? undefined : /^\d+$/.test(sinceParam) ? Number(sinceParam) : Date.parse(sinceParam);
    if (since !== undefined && Number.isNaN(since)) throw new CascadeError(OpsErrors.badQuery, `since: an ISO time or milliseconds since the epoch, not ${sinceParam}`);
    const list = await listDeadLetters(deps.log, dlqStreams(config.changeprop, { datacenter: config.datacenter, dataDir: config.data_dir }), rule, {
      since,
      limit: DEAD_LETTER_PAGE + 1,
    });
    sendJson(ctx.res, 200, {
      rule,
      command: `cascade dlq list --rule ${rule}`,
      replay: `cascade dlq replay --rule ${rule}`,
      truncated: list.length > DEAD_LETTER_PAGE,
      dead_letters: list.slice(0, DEAD_LETTER_PAGE).map((d) => ({ ...d, timestamp: new Date(d.timestamp).toISOString(), raw_event: undefined })),
    }, { 'cache-control': 'no-store' });
  });
  const assets: Record<string, [string, string]> = {
    'ops.css': ['text/css; charset=utf-8', OPS_CSS],
    'dashboard.js': ['application/javascript; charset=utf-8', DASHBOARD_JS],
  };
  router.add('GET', '/_ops/{file}', (ctx) => {
    const a = Object.hasOwn(assets, ctx.params.file) ? assets[ctx.params.file] : undefined;
    if (!a) throw new CascadeError(Errors.notFound, `no such asset: ${ctx.params.file}`);
    ctx.res.writeHead(200, { 'content-type': a[0], 'content-length': Buffer.byteLength(a[1]), 'cache-control': 'max-age=300' });
    ctx.res.end(ctx.method === 'HEAD' ? undefined : a[1]);
  });

  return {
    version: packageVersion(),
    sampler,
    sizes,
    close() {
      sampler.close();
      untrackSizes();
    },
  };
}
