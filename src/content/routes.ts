// The content API's HTTP surface: every endpoint is declared once (path, stability, docs,
// handler) and mounted under both `/{domain}/v1` and `/api/rest_v1` (domain from Host).
// The same declarations produce the OpenAPI spec.
import { CascadeError } from '../errors/index.ts';
import type { Router, RequestContext } from '../router/router.ts';
import type { CounterSeries } from '../router/metrics.ts';
import { sendJson, writePrecomputed } from '../router/server.ts';
import type { StoredEncoding } from '../storage/types.ts';
import type { Title } from '../titles/index.ts';
import { isTid } from '../util/tid.ts';
import { ContentErrors } from './errors.ts';
import { readForm } from './form.ts';
import * as pages from './pages.ts';
import { metadataEndpoints } from './meta-routes.ts';
import { transformEndpoints } from './transform-routes.ts';
import { relatedEndpoints } from './related.ts';
import { mobileHtmlEndpoints } from './mobile-html-routes.ts';
import { editEndpoints } from './edit-routes.ts';
import { descriptionEndpoints } from './description-route.ts';
import { derivedType } from './mobile-headers.ts';
import type { ServedEntry } from './hot.ts';
import { cacheOutcomes, encodeTitle, HTML_TYPE, type ContentService, type DerivedKind, type Outcome, type Served } from './service.ts';

export type Stability = 'stable' | 'unstable' | 'experimental';

export interface EndpointParam {
  name: string;
  in: 'path' | 'query' | 'header';
  description: string;
  required?: boolean;
  schema: Record<string, unknown>;
}

export interface Endpoint {
  method: 'GET' | 'POST';
  /** Relative to the API root, e.g. `/page/html/{title}`. */
  path: string;
  stability: Stability;
  summary: string;
  tag: string;
  params: EndpointParam[];
  /** Content types of the 200 response. */
  produces: string;
  /** For POST: form fields. */
  form?: { name: string; description: string; required?: boolean }[];
  /** Route class for metrics labels (the endpoint family). */
  family: string;
  handler: (ctx: RequestContext, domain: string) => Promise<void> | void;
}

export const P = {
  title: { name: 'title', in: 'path', required: true, description: 'Page title (normalized titles answer 301 to the canonical URL)', schema: { type: 'string' } },
  revision: { name: 'revision', in: 'path', required: true, description: 'Revision id', schema: { type: 'integer', minimum: 0 } },
  tid: { name: 'tid', in: 'path', required: true, description: 'Render id (time UUID)', schema: { type: 'string', format: 'uuid' } },
  redirect: { name: 'redirect', in: 'query', description: 'Set to false to get the redirect page itself instead of a 302', schema: { type: 'boolean' } },
  page: { name: 'page', in: 'query', description: 'Paging token from `_links.next`', schema: { type: 'string' } },
} satisfies Record<string, EndpointParam>;

/**
 * One endpoint at RESTBase's three forms of a transform: `base`, `base/{title}` and
 * `base/{title}/{revision}`; each form gets its path and path parameters.
 */
export function titleForms(base: string, endpoint: (path: string) => Omit<Endpoint, 'path' | 'params'>): Endpoint[] {
  return [base, `${base}/{title}`, `${base}/{title}/{revision}`].map((path) => ({
    ...endpoint(path),
    path,
    params: path === base ? [] : path.endsWith('{revision}') ? [P.title, P.revision] : [P.title],
  }));
}

const JSON_TYPE = 'application/json';

/** The domain of a request: `/{domain}/v1/…` names it; `/api/rest_v1/…` takes it from Host. */
export class DomainResolver {
  private byHost = new Map<string, string>();
  constructor(
    private readonly svc: ContentService,
    private readonly defaultDomain: string,
  ) {}

  resolve(ctx: RequestContext): string {
    const d = ctx.params.domain;
    if (d !== undefined) {
      if (!this.svc.hasDomain(d)) throw new CascadeError(ContentErrors.unknownDomain, `no such domain: ${d}`);
      return d;
    }
    const host = ctx.req.headers.host ?? '';
    let domain = this.byHost.get(host);
    if (domain === undefined) {
      const name = host.replace(/:\d+$/, '').toLowerCase();
      domain = this.svc.hasDomain(name) ? name : this.defaultDomain;
      if (this.byHost.size < 1000) this.byHost.set(host, domain);
    }
    return domain;
  }
}

/** Index of the `{title}` segment in a route pattern (for canonical and redirect URLs). */
function titleSegment(route: string): number {
  return route.split('/').indexOf('{title}');
}

/** The request path with its title segment replaced (keeping the query string unless told). */
function withTitle(ctx: RequestContext, prefixedDbKey: string, query: string | undefined = undefined): string {
  const segs = ctx.path.split('/');
  const i = titleSegment(ctx.route);
  segs[i] = encodeTitle(prefixedDbKey);
  const q = query ?? ctx.query.toString();
  return segs.join('/') + (q ? `?${q}` : '');
}

export function parseRevision(s: string): number {
  if (!/^\d{1,15}$/.test(s)) throw new CascadeError(ContentErrors.badRevision, `not a revision id: ${s}`);
  return Number(s);
}

export function etagMatches(inm: string, etag: string): boolean {
  return inm === etag || inm === '*' || inm.includes(etag);
}

/** Internal no-cache: `Cache-Control: no-cache` from inside the trust boundary. */
function readOptions(ctx: RequestContext) {
  const cc = ctx.req.headers['cache-control'];
  const noCache = ctx.internal && cc !== undefined && /\bno-cache\b/.test(cc);
  const ius = ctx.req.headers['if-unmodified-since'];
  const iusMs = noCache && ius ? Date.parse(ius) : NaN;
  const tb = ctx.req.headers['x-triggered-by'];
  return {
    requestId: ctx.requestId,
    noCache,
    ...(Number.isFinite(iusMs) ? { ifUnmodifiedSince: iusMs } : {}),
    ...(typeof tb === 'string' ? { triggeredBy: tb } : {}),
  };
}

export class ContentRoutes {
  readonly domains: DomainResolver;
  readonly endpoints: Endpoint[];
  /** Told of each client read of a derived representation (read heat of `refresh: hot`). */
  onClientRead: ((family: string, domain: string, key: string) => void) | undefined = undefined;
  private readonly outcomes = new Map<string, Map<Outcome, CounterSeries>>();
  private readonly htmlHit: CounterSeries;

  constructor(
    readonly svc: ContentService,
    defaultDomain: string,
  ) {
    this.domains = new DomainResolver(svc, defaultDomain);
    this.htmlHit = this.outcome('html', 'hit');
    this.endpoints = this.declare();
  }

  /** Sends a served entry: 304 on If-None-Match, stored bytes as they are when accepted. */
  send(ctx: RequestContext, served: Served, family: string): void | Promise<void> {
    return this.sendEntry(ctx, served.entry, this.outcome(family, served.outcome), served.stale);
  }

  /** The counter of one endpoint family and cache outcome (kept, so a hit builds no labels). */
  private outcome(family: string, outcome: Outcome): CounterSeries {
    let byOutcome = this.outcomes.get(family);
    if (!byOutcome) this.outcomes.set(family, (byOutcome = new Map()));
    let c = byOutcome.get(outcome);
    if (!c) byOutcome.set(outcome, (c = cacheOutcomes.labels([family, outcome])));
    return c;
  }

  /** The hot path of every hit: precomputed heads, no allocation when the coding is in memory. */
  private sendEntry(ctx: RequestContext, entry: ServedEntry, counter: CounterSeries, stale?: string): void | Promise<void> {
    counter.inc();
    const res = ctx.res;
    if (stale !== undefined) res.setHeader('x-cascade-stale', stale);
    const inm = ctx.req.headers['if-none-match'];
    if (inm !== undefined && etagMatches(inm, entry.etag)) {
      writePrecomputed(res, 304, entry.notModifiedHead());
      res.end();
      return;
    }
    const enc = entry.pick(ctx.req.headers['accept-encoding']);
    const body = entry.variant(enc);
    if (body !== undefined) {
      writePrecomputed(res, 200, entry.head(enc, body.length));
      res.end(ctx.method === 'HEAD' ? undefined : body);
      return;
    }
    return this.sendMaterialized(ctx, entry, enc);
  }

  /** First request for a coding not in memory: computed once per render, then kept. */
  private async sendMaterialized(ctx: RequestContext, entry: ServedEntry, enc: StoredEncoding): Promise<void> {
    const body = await entry.materialize(enc);
    this.svc.hot.grew(entry);
    writePrecomputed(ctx.res, 200, entry.head(enc, body.length));
    ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
  }

  /**
   * The normalized title of a request; answers 301 to the canonical URL (and returns
   * undefined) when the request did not use it.
   */
  async title(ctx: RequestContext, domain: string): Promise<Title | undefined> {
    const raw = ctx.params.title;
    const t = this.svc.titleSync(domain, raw) ?? (await this.svc.title(domain, raw, ctx.requestId));
    // Writes act on the normalized title: a redirect would lose the request body.
    if (t.prefixedDbKey !== raw && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      ctx.res.writeHead(301, { location: withTitle(ctx, t.prefixedDbKey), 'cache-control': 'max-age=86400' });
      ctx.res.end();
      return undefined;
    }
    return t;
  }

  /** A route's optional `{title}` and `{revision}` (transforms); false when the title was answered with a redirect. */
  async optionalTitle(ctx: RequestContext, domain: string): Promise<{ title?: Title; rev?: number } | false> {
    const rev = ctx.params.revision !== undefined ? parseRevision(ctx.params.revision) : undefined;
    if (ctx.params.title === undefined) return { rev };
    const title = await this.title(ctx, domain);
    return title ? { title, rev } : false;
  }

  private redirectIfNeeded(ctx: RequestContext, served: Served): boolean {
    const target = served.entry.redirect;
    if (!target || ctx.query.get('redirect') === 'false') return false;
    ctx.res.writeHead(302, { location: withTitle(ctx, target), 'cache-control': 'no-cache' });
    ctx.res.end();
    return true;
  }

  /** GET /page/html/{title}: the hot path first (all in memory, no awaits), then the full path. */
  private htmlLatest = (ctx: RequestContext, domain: string): void | Promise<void> => {
    const raw = ctx.params.title;
    const slot = this.svc.titleSlot(domain, raw);
    if (slot !== undefined && slot.title.prefixedDbKey === raw && ctx.req.headers['cache-control'] === undefined) {
      const entry = this.svc.htmlHot(slot);
      if (entry !== undefined && (entry.redirect === undefined || ctx.query.get('redirect') === 'false')) {
        return this.sendEntry(ctx, entry, this.htmlHit);
      }
    }
    return this.htmlLatestSlow(ctx, domain);
  };

  private async htmlLatestSlow(ctx: RequestContext, domain: string): Promise<void> {
    const t = await this.title(ctx, domain);
    if (!t) return;
    const served = await this.svc.html(domain, t, readOptions(ctx));
    if (this.redirectIfNeeded(ctx, served)) return;
    await this.send(ctx, served, 'html');
  }

  private async derived(ctx: RequestContext, domain: string, kind: DerivedKind): Promise<void> {
    const t = await this.title(ctx, domain);
    if (!t) return;
    // Change propagation's re-reads (internal, no-cache) are no client's.
    if (!(ctx.internal && ctx.req.headers['cache-control']?.includes('no-cache'))) this.onClientRead?.(kind.startsWith('mobile-sections') ? 'mobile-sections' : kind, domain, t.prefixedDbKey);
    // Derived content is keyed by the stored HTML's rev/tid, so it is never older than that
    // HTML: a no-cache request for it must not re-render the HTML at the origin again (change
    // propagation asks for summaries right after the HTML it was derived from changed).
    const o = { ...readOptions(ctx), noCache: false };
    // The HTML is a dependency here: a miss that renders it (a page edited again meanwhile) is
    // a change of its own, not a step of this request's chain. Carrying the chain into its
    // resource_change made the next summary step look like a loop (html already in the chain).
    const html = await this.svc.html(domain, t, { ...o, triggeredBy: undefined });
    if (this.redirectIfNeeded(ctx, html)) return;
    const served = await this.svc.derived(kind, domain, t, html.entry, o);
    if (html.stale) served.stale = html.stale;
    await this.send(ctx, served, kind);
  }


  private declare(): Endpoint[] {
    const svc = this.svc;
    const list = (items: unknown[], next?: string) => ({ items, ...(next ? { _links: { next: { href: `?page=${encodeURIComponent(next)}` } } } : {}) });
    return [
      ...metadataEndpoints(this, list),
      {
        method: 'GET',
        path: '/page/html/{title}',
        family: 'html',
        stability: 'stable',
        tag: 'Page content',
        summary: 'Get the latest HTML of a page (Parsoid HTML from storage; rendered on a miss)',
        params: [P.title, P.redirect],
        produces: HTML_TYPE,
        handler: this.htmlLatest,
      },
      {
        method: 'GET',
        path: '/page/html/{title}/',
        family: 'html',
        stability: 'unstable',
        tag: 'Page content',
        summary: 'List the stored renders of a page (revision and tid, newest first, paged)',
        params: [P.title, P.page],
        produces: JSON_TYPE,
        handler: async (ctx, domain) => {
          const t = await this.title(ctx, domain);
          if (!t) return;
          const page = await pages.listRenders(svc, domain, t, ctx.query.get('page') ?? undefined, ctx.requestId);
          sendJson(ctx.res, 200, list(page.items, page.next), { 'cache-control': 'no-cache' });
        },
      },
      {
        method: 'GET',
        path: '/page/html/{title}/{revision}',
        family: 'html',
        stability: 'stable',
        tag: 'Page content',
        summary: 'Get the HTML of one revision',
        params: [P.title, P.revision, P.redirect],
        produces: HTML_TYPE,
        handler: async (ctx, domain) => {
          const rev = parseRevision(ctx.params.revision);
          const t = await this.title(ctx, domain);
          if (!t) return;
          const served = await svc.htmlRevision(domain, t, rev, readOptions(ctx));
          if (this.redirectIfNeeded(ctx, served)) return;
          await this.send(ctx, served, 'html');
        },
      },
      {
        method: 'GET',
        path: '/page/html/{title}/{revision}/{tid}',
        family: 'html',
        stability: 'unstable',
        tag: 'Page content',
        summary: 'Get one exact stored render (never renders)',
        params: [P.title, P.revision, P.tid],
        produces: HTML_TYPE,
        handler: async (ctx, domain) => {
          const rev = parseRevision(ctx.params.revision);
          if (!isTid(ctx.params.tid)) throw new CascadeError(ContentErrors.badTid, `not a time UUID: ${ctx.params.tid}`);
          const t = await this.title(ctx, domain);
          if (!t) return;
          const served = await svc.htmlRevTid(domain, t, rev, ctx.params.tid.toLowerCase(), readOptions(ctx));
          await this.send(ctx, served, 'html');
        },
      },
      ...(['summary', 'mobile-sections', 'mobile-sections-lead', 'mobile-sections-remaining', 'mobile-html'] as DerivedKind[]).map(
        (kind): Endpoint => ({
          method: 'GET',
          path: `/page/${kind}/{title}`,
          family: kind,
          stability: kind === 'summary' ? 'stable' : 'unstable',
          tag: kind === 'summary' ? 'Page content' : 'Mobile',
          summary:
            kind === 'summary'
              ? 'Get a summary of a page (derived from its stored HTML)'
              : kind === 'mobile-html'
                ? 'Get the page content HTML for mobile reading (page content service shape, derived from its stored HTML)'
                : `Get ${kind.replace('mobile-sections', 'the mobile sections').replace('-', ' ')} of a page (derived from its stored HTML)`,
          params: [P.title, P.redirect],
          produces: derivedType(kind),
          handler: (ctx, domain) => this.derived(ctx, domain, kind),
        }),
      ),
      {
        method: 'POST',
        path: '/page/wikitext/{title}',
        family: 'wikitext',
        stability: 'experimental',
        tag: 'Page content',
        summary: "Save a page's wikitext through the origin (cookies and authorization are passed on)",
        params: [P.title],
        produces: JSON_TYPE,
        form: [
          { name: 'wikitext', description: 'The new wikitext', required: true },
          { name: 'base_etag', description: 'ETag of the revision the edit is based on ("rev/tid")' },
          { name: 'comment', description: 'Edit summary' },
          { name: 'csrf_token', description: 'The CSRF token of the session' },
        ],
        handler: async (ctx, domain) => {
          const t = await this.title(ctx, domain);
          if (!t) return;
          const f = await readForm(ctx.req, svc.cfg.max_body_bytes);
          if (typeof f.wikitext !== 'string') throw new CascadeError(ContentErrors.badForm, 'the form field `wikitext` is required');
          const pass: Record<string, string> = {};
          for (const h of ['cookie', 'authorization']) {
            const v = ctx.req.headers[h];
            if (typeof v === 'string') pass[h] = v;
          }
          const r = await pages.save(svc, domain, t, { wikitext: f.wikitext, baseEtag: f.base_etag, comment: f.comment, token: f.csrf_token }, pass, ctx.requestId);
          sendJson(ctx.res, r.created ? 201 : 200, r.body, { 'cache-control': 'no-cache' });
        },
      },
      ...transformEndpoints(this),
      ...relatedEndpoints(this),
      ...mobileHtmlEndpoints(this),
      ...editEndpoints(this),
      ...descriptionEndpoints(this),
    ];
  }

  /** Mounts every endpoint under `/{domain}/v1` and `/api/rest_v1`. */
  mount(router: Router): void {
    for (const ep of this.endpoints) {
      const h = ep.handler;
      const handler = (ctx: RequestContext) => h(ctx, this.domains.resolve(ctx));
      router.add(ep.method, `/{domain}/v1${ep.path}`, handler);
      router.add(ep.method, `/api/rest_v1${ep.path}`, handler);
    }
  }
}
