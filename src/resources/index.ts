// Declared resources on the HTTP surface: each declaration becomes an endpoint of the content
// API (under `/{domain}/v1` and `/api/rest_v1`, in the OpenAPI spec with its `x-stability`),
// and stored ones get the internal change endpoint their derived rules call:
//   POST /{domain}/sys/resources/{name}/{title}/changed   {"rev": 123}   (rev optional)
import { readJsonObject } from '../content/form.ts';
import { CascadeError } from '../errors/index.ts';
import type { ConfigProblem } from '../config/index.ts';
import type { EventProducer } from '../events/log/types.ts';
import { ContentErrors } from '../content/errors.ts';
import { checkStatus } from '../content/origin.ts';
import { P, parseRevision, type ContentRoutes, type Endpoint, type EndpointParam } from '../content/routes.ts';
import type { ContentService } from '../content/service.ts';
import type { RequestContext, Router } from '../router/router.ts';
import { sendJson } from '../router/server.ts';
import { DERIVED_BUILTINS } from './builtins.ts';
import { compileResources, type Resource, type ResourceSections, type RuntimeSections } from './declare.ts';
import { ResourceErrors } from './errors.ts';
import { ResourceRuntime } from './runtime.ts';

export { ResourceRuntime } from './runtime.ts';
export { ResourceErrors } from './errors.ts';
export { compileResources, declarationsOf, MARKS_BUCKET, type Resource, type ResourceSections } from './declare.ts';

export interface MountedResources {
  runtime: ResourceRuntime;
  endpoints: Endpoint[];
  /** The rate class a declaration pins for a request path (`rate_class`); unset when none pins one. */
  rateClassOf?: (path: string) => 'read' | 'render' | 'write' | undefined;
}

/** Compiles the declarations again (the config loader has checked them: a problem here is a bug). */
export function resourcesOf(config: ResourceSections): Map<string, Resource[]> {
  const problems: ConfigProblem[] = [];
  const byDomain = compileResources(config, '<config>', () => ({ line: 0, column: 0 }), problems);
  if (problems.length) throw new Error(`declared resources: ${problems.map((p) => p.message).join('; ')}`);
  return byDomain;
}

export function mountResources(router: Router, svc: ContentService, routes: ContentRoutes, config: RuntimeSections, producer?: EventProducer): MountedResources {
  const runtime = new ResourceRuntime(svc, resourcesOf(config), config, producer);
  const endpoints: Endpoint[] = [];
  const seen = new Set<string>();
  documentBuiltins(routes, config);
  // Read heat of built-ins is tracked only where one refreshes `hot` (no lookup per read otherwise).
  const hotBuiltin = [...runtime.byDomain.values()].some((list) => list.some((r) => r.decl.kind === 'builtin' && r.decl.refresh === 'hot'));
  if (hotBuiltin) routes.onClientRead = (family, domain, key) => runtime.touchBuiltin(family, domain, key);
  for (const list of runtime.byDomain.values()) {
    for (const r of list) {
      if (r.decl.kind === 'builtin' || seen.has(r.decl.path!)) continue;
      seen.add(r.decl.path!);
      endpoints.push(endpointOf(r, runtime, routes));
      // A stored resource with revisions answers per revision too (RESTBase's `/{revision}`).
      if (r.decl.kind === 'stored' && r.decl.storage.type === 'key_rev_value') endpoints.push(endpointOf(r, runtime, routes, true));
    }
  }
  for (const ep of endpoints) {
    const handler = (ctx: RequestContext) => ep.handler(ctx, routes.domains.resolve(ctx));
    router.add(ep.method, `/{domain}/v1${ep.path}`, handler);
    router.add(ep.method, `/api/rest_v1${ep.path}`, handler);
  }
  router.add('POST', '/{domain}/sys/resources/{name}/{title}/changed', async (ctx) => {
    if (!ctx.internal) throw new CascadeError(ContentErrors.sysExternal, '/sys/ is for internal callers');
    const domain = routes.domains.resolve(ctx);
    const r = runtime.resource(domain, ctx.params.name);
    const tb = ctx.req.headers['x-triggered-by'];
    const o = { requestId: ctx.requestId, ...(typeof tb === 'string' ? { triggeredBy: tb } : {}) };
    if (r?.decl.kind === 'builtin' && DERIVED_BUILTINS.includes(r.name)) {
      const t = await svc.title(domain, ctx.params.title, ctx.requestId);
      return sendJson(ctx.res, 200, { refresh: await runtime.changeBuiltin(r, domain, t, o) });
    }
    // Rules are shared by every domain: a domain without the resource has nothing to refresh.
    if (!r || r.decl.kind !== 'stored') return sendJson(ctx.res, 200, { refresh: 'not-declared' });
    const b = await readJsonObject(ctx.req);
    const rev = b.rev === undefined || b.rev === '' ? undefined : Number(b.rev);
    if (rev !== undefined && !(Number.isSafeInteger(rev) && rev >= 0)) throw new CascadeError(ContentErrors.badRevision, `not a revision id: ${String(b.rev)}`);
    const t = await svc.title(domain, ctx.params.title, ctx.requestId);
    const refresh = await runtime.change(r, domain, t.prefixedDbKey, { ...o, ...(rev !== undefined ? { rev } : {}) });
    sendJson(ctx.res, 200, { refresh });
  });
  const rateClassOf = pinnedRateClasses(runtime.byDomain);
  return { runtime, endpoints, ...(rateClassOf ? { rateClassOf } : {}) };
}

/**
 * Rate classes pinned by declarations (`rate_class`), matched on the request path before
 * routing (the rate limit runs first): every path under the declared one's fixed prefix, on
 * both API roots. A name declared differently per domain: the first declaration with a class.
 */
function pinnedRateClasses(byDomain: Map<string, Resource[]>): MountedResources['rateClassOf'] | undefined {
  const pinned: { prefix: RegExp; cls: 'read' | 'render' | 'write' }[] = [];
  const seen = new Set<string>();
  for (const list of byDomain.values()) {
    for (const r of list) {
      const cls = r.decl.rate_class;
      if (cls === undefined || r.decl.path === undefined || seen.has(r.decl.path)) continue;
      seen.add(r.decl.path);
      const fixed = r.decl.path.split('{')[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      pinned.push({ prefix: new RegExp(`^/(?:api/rest_v1|[^/]+/v1)${fixed}`), cls });
    }
  }
  // None pinned: content's scope keeps its plain by-method class (no lookup per request).
  if (pinned.length === 0) return undefined;
  return (path) => pinned.find((p) => p.prefix.test(path))?.cls;
}

/**
 * The built-ins' main endpoints take their docs (summary, stability, tag) from their shared
 * declarations, as a declared resource's endpoint does: the OpenAPI spec and docs portal say
 * what the config says.
 */
function documentBuiltins(routes: ContentRoutes, config: Pick<RuntimeSections, 'resources'>): void {
  for (const ep of routes.endpoints) {
    const decl = config.resources[ep.family];
    if (ep.method !== 'GET' || decl?.kind !== 'builtin' || decl.path !== ep.path) continue;
    const refresh = decl.depends_on.length ? ` (stored; re-rendered when ${decl.depends_on.join(', ')} change${decl.depends_on.length > 1 ? '' : 's'})` : '';
    ep.summary = decl.summary + refresh;
    ep.stability = decl.stability;
    ep.tag = decl.tag;
  }
}

function paramsOf(r: Resource): EndpointParam[] {
  const out: EndpointParam[] = r.params.map((name) =>
    name === 'title'
      ? { name, in: 'path', required: true, description: 'Page title (normalized titles answer 301 to the canonical URL)', schema: { type: 'string' } }
      : { name, in: 'path', required: true, description: name, schema: { type: 'string' } },
  );
  for (const q of r.decl.request?.pass_query ?? []) out.push({ name: q, in: 'query', description: `Passed to the backend as \`${q}\``, schema: { type: 'string' } });
  return out;
}

function endpointOf(r: Resource, runtime: ResourceRuntime, routes: ContentRoutes, byRevision = false): Endpoint {
  const kindNote = r.decl.kind === 'stored' ? `stored; refresh: ${r.decl.refresh}${r.decl.depends_on.length ? `; depends on ${r.decl.depends_on.join(', ')}` : ''}` : 'proxied';
  return {
    method: 'GET',
    path: byRevision ? `${r.decl.path!}/{revision}` : r.decl.path!,
    family: r.name,
    stability: r.decl.stability,
    tag: r.decl.tag,
    summary: byRevision ? `${r.decl.summary || r.name}, of one revision (the latest, or an older one stored)` : `${r.decl.summary || r.name} (${kindNote})`,
    params: byRevision ? [...paramsOf(r), P.revision] : paramsOf(r),
    produces: r.decl.content_type ?? 'application/json',
    handler: async (ctx, domain) => {
      const res = runtime.resource(domain, r.name);
      if (!res || res.decl.path !== r.decl.path) throw new CascadeError(ResourceErrors.notDeclared, `${ctx.path}: not declared for ${domain}`);
      // Title filter: the canonical title (301 otherwise), as every content endpoint.
      let key = ctx.params.title;
      if (key !== undefined && res.decl.normalize_title) {
        const t = await routes.title(ctx, domain);
        if (!t) return;
        key = t.prefixedDbKey;
      }
      if (res.decl.kind === 'stored') {
        const tb = ctx.req.headers['x-triggered-by'];
        const o = { requestId: ctx.requestId, ...(typeof tb === 'string' ? { triggeredBy: tb } : {}) };
        const rev = ctx.params.revision;
        const served = rev === undefined ? await runtime.read(res, domain, key!, o) : await runtime.readRevision(res, domain, key!, parseRevision(rev), o);
        for (const [h, v] of Object.entries(res.decl.headers)) ctx.res.setHeader(h, v);
        return routes.send(ctx, served, res.name);
      }
      return proxy(ctx, domain, res, runtime, key);
    },
  };
}

async function proxy(ctx: RequestContext, domain: string, r: Resource, runtime: ResourceRuntime, key: string | undefined): Promise<void> {
  if (key !== undefined) await runtime.access(r, domain, key, ctx.requestId);
  const params: Record<string, string> = { ...ctx.params, domain };
  if (key !== undefined) params.title = key;
  const res = await runtime.request(r, domain, { ...params, request: { params, query: Object.fromEntries(ctx.query) } }, ctx.query, ctx.requestId);
  checkStatus(res, `resource:${r.name}`);
  const out = ctx.res;
  out.statusCode = res.status;
  const pass = (h: string) => {
    const v = res.headers[h];
    if (typeof v === 'string') out.setHeader(h, v);
  };
  for (const h of ['content-type', 'etag', 'last-modified', 'content-language', 'cache-control']) pass(h);
  if (r.decl.content_type) out.setHeader('content-type', r.decl.content_type);
  if (r.decl.cache_control) out.setHeader('cache-control', r.decl.cache_control);
  else if (!out.hasHeader('cache-control')) out.setHeader('cache-control', 'no-cache');
  for (const [h, v] of Object.entries(r.decl.headers)) out.setHeader(h, v);
  out.setHeader('content-length', res.body.length);
  out.end(ctx.method === 'HEAD' ? undefined : res.body);
}
