// Public surface of the content API (RESTBase's role).
import { readJsonObject } from './form.ts';
import { CascadeError } from '../errors/index.ts';
import { observeRequest } from '../router/metrics.ts';
import { rateClassOf } from '../router/ratelimit.ts';
import type { CapabilityScope } from '../router/scopes.ts';
import type { RequestContext, Router } from '../router/router.ts';
import { sendJson } from '../router/server.ts';
import { ContentErrors } from './errors.ts';
import { ContentRoutes } from './routes.ts';
import { ContentService, type ContentDeps } from './service.ts';
import { mountDocs } from './spec.ts';
import { mountResources, type ResourceRuntime } from '../resources/index.ts';

export { ContentService, encodeTitle, injectTid, redirectTarget, HTML_TYPE, SUMMARY_TYPE, MOBILE_TYPE, cacheOutcomes } from './service.ts';
export type { ContentDeps, PageMeta, Served, Outcome, DerivedKind, ReadOptions } from './service.ts';
export { ContentErrors } from './errors.ts';
export { startInvalidation, invalidationGroup, type Invalidator, type InvalidationOptions } from './invalidation.ts';
export { buildSpec } from './spec.ts';
export type { Endpoint, Stability } from './routes.ts';

export interface MountedContent {
  service: ContentService;
  routes: ContentRoutes;
  /** The content API's request policy (rate classes, internal-only /sys/content/), mounted by app.ts. */
  scope: CapabilityScope;
  /** Declared resources (src/resources). */
  resources: ResourceRuntime;
  /** `onResponse` hook for createHttpServer (request metrics). */
  onResponse: (ctx: RequestContext, durationMs: number) => void;
  close(): Promise<void>;
}

function requireInternal(ctx: RequestContext): void {
  if (!ctx.internal) throw new CascadeError(ContentErrors.sysExternal, '/sys/ is for internal callers');
}


/**
 * Mounts the content API (`/{domain}/v1/…`, `/api/rest_v1/…`), its docs, and the
 * internal access endpoints change propagation calls when MediaWiki says a page was
 * deleted, undeleted or moved, or a revision's visibility changed:
 *   POST /{domain}/sys/content/page/{title}/deleted
 *   POST /{domain}/sys/content/page/{title}/undeleted
 *   POST /{domain}/sys/content/page/{title}/moved       {"to": "New title", "redirect": true}
 *   POST /{domain}/sys/content/page/{title}/revision    {"revision": 123}   (a new revision exists)
 *   POST /{domain}/sys/content/revision/{revision}/visibility {"title": "T", "hidden": true}
 */
export function mountContent(router: Router, deps: ContentDeps): MountedContent {
  const service = new ContentService(deps);
  const routes = new ContentRoutes(service, deps.config.default_domain);
  routes.mount(router);
  const declared = mountResources(router, service, routes, deps.config, deps.producer);
  mountDocs(router, [...routes.endpoints, ...declared.endpoints], (ctx) => routes.domains.resolve(ctx));

  const sysDomain = (ctx: RequestContext) => {
    requireInternal(ctx);
    return routes.domains.resolve(ctx);
  };
  router.add('POST', '/{domain}/sys/content/page/{title}/deleted', async (ctx) => {
    const m = await service.markDeleted(sysDomain(ctx), ctx.params.title);
    sendJson(ctx.res, 200, m);
  });
  router.add('POST', '/{domain}/sys/content/page/{title}/undeleted', async (ctx) => {
    const m = await service.markUndeleted(sysDomain(ctx), ctx.params.title);
    sendJson(ctx.res, 200, m);
  });
  router.add('POST', '/{domain}/sys/content/page/{title}/moved', async (ctx) => {
    const domain = sysDomain(ctx);
    const b = await readJsonObject(ctx.req);
    if (typeof b.to !== 'string') throw new CascadeError(ContentErrors.badForm, '`to` (the new title) is required');
    await service.markMoved(domain, ctx.params.title, b.to, b.redirect !== false);
    sendJson(ctx.res, 200, { ok: true });
  });
  router.add('POST', '/{domain}/sys/content/page/{title}/revision', async (ctx) => {
    const domain = sysDomain(ctx);
    const b = await readJsonObject(ctx.req);
    if (typeof b.revision !== 'number') throw new CascadeError(ContentErrors.badForm, '`revision` (a number) is required');
    await service.markNewRevision(domain, ctx.params.title, b.revision);
    sendJson(ctx.res, 200, { ok: true });
  });
  router.add('POST', '/{domain}/sys/content/revision/{revision}/visibility', async (ctx) => {
    const domain = sysDomain(ctx);
    const b = await readJsonObject(ctx.req);
    const rev = Number(ctx.params.revision);
    if (!Number.isSafeInteger(rev) || rev < 0) throw new CascadeError(ContentErrors.badRevision, `not a revision id: ${ctx.params.revision}`);
    if (typeof b.title !== 'string' || typeof b.hidden !== 'boolean') {
      throw new CascadeError(ContentErrors.badForm, '`title` (string) and `hidden` (boolean) are required');
    }
    const m = await service.markRevisionVisibility(domain, b.title, rev, b.hidden);
    sendJson(ctx.res, 200, m);
  });

  return {
    service,
    routes,
    scope: contentScope(deps.config.content.rate_limit.classes, declared.rateClassOf),
    resources: declared.runtime,
    onResponse: observeRequest,
    close: async () => {
      await declared.runtime.close();
      await service.close();
    },
  };
}

const SYS_CONTENT = /^\/[^/]+\/sys\/content\//;
const CONTENT_PATH = /^\/(api\/rest_v1\/|_swagger\/|[^/]+\/v1\/)/;

/**
 * Content's request policy: its routes count in its read/render/write classes; /sys/content/
 * is for internal callers only.
 */
export function contentScope(classes: Record<'read' | 'render' | 'write', { rate: number; burst: number }>, pinned?: (path: string) => string | undefined): CapabilityScope {
  return {
    name: 'content',
    owns: (ctx) => CONTENT_PATH.test(ctx.path) || SYS_CONTENT.test(ctx.path),
    rateClasses: classes,
    // A declared resource may pin its class (rate_class); the others count by method.
    rateClassOf: pinned ? (ctx) => (ctx.method === 'GET' || ctx.method === 'HEAD' ? pinned(ctx.path) : undefined) ?? rateClassOf(ctx) : rateClassOf,
    internalOnly: (ctx) => (SYS_CONTENT.test(ctx.path) ? new CascadeError(ContentErrors.sysExternal, '/sys/ is for internal callers') : undefined),
  };
}
