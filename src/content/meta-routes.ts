// The metadata endpoints of the content API (page listings, revision metadata): answered from
// the origin's metadata and the store's index, with RESTBase's `"rev/tid"` ETag and 304s.
import { createHash } from 'node:crypto';
import { sendJson } from '../router/server.ts';
import type { RequestContext } from '../router/router.ts';
import * as pages from './pages.ts';
import { etagMatches, P, parseRevision, type ContentRoutes, type Endpoint } from './routes.ts';

const JSON_TYPE = 'application/json';

/**
 * RESTBase's validator of a revision's metadata: `"rev/tid"` with the tid of the latest render
 * when one is stored. Without a render it is the revision and a digest of the body, so the tag
 * still changes whenever the answer does (a render appearing, restrictions, a new comment).
 */
export function metadataEtag(item: Record<string, unknown>, body: string): string {
  if (typeof item.tid === 'string') return `"${String(item.rev)}/${item.tid}"`;
  const digest = createHash('sha1').update(body).digest('hex').slice(0, 20);
  return `"${String(item.rev)}/m${digest}"`;
}

/** Sends `{items: [item]}` with its ETag, or 304 when the caller's If-None-Match matches. */
export function sendRevisionItem(ctx: RequestContext, item: Record<string, unknown>): void {
  const value = { items: [item] };
  const body = JSON.stringify(value);
  const etag = metadataEtag(item, body);
  const headers = { 'cache-control': 'no-cache', etag };
  const inm = ctx.req.headers['if-none-match'];
  if (inm !== undefined && etagMatches(inm, etag)) {
    ctx.res.writeHead(304, headers);
    ctx.res.end();
    return;
  }
  // RESTBase's exact type for revision metadata (its API spec's x-amples compare it verbatim).
  sendJson(ctx.res, 200, value, { ...headers, 'content-type': 'application/json' });
}

export function metadataEndpoints(routes: ContentRoutes, list: (items: unknown[], next?: string) => unknown): Endpoint[] {
  const svc = routes.svc;
  return [
    {
      method: 'GET',
      path: '/page/',
      family: 'page',
      stability: 'stable',
      tag: 'Page content',
      summary: 'List page-related API entry points',
      params: [],
      produces: JSON_TYPE,
      handler: (ctx) => {
        sendJson(ctx.res, 200, {
          items: ['title', 'html', 'summary', 'mobile-sections', 'mobile-sections-lead', 'mobile-sections-remaining', 'mobile-html', 'revision', 'wikitext'],
        });
      },
    },
    {
      method: 'GET',
      path: '/page/title/',
      family: 'title',
      stability: 'unstable',
      tag: 'Page content',
      summary: 'List all pages with stored content (paged)',
      params: [P.page],
      produces: JSON_TYPE,
      handler: async (ctx, domain) => {
        const token = ctx.query.get('page') ?? undefined;
        const page = await pages.listPages(svc, domain, token);
        sendJson(ctx.res, 200, list(page.items, page.next), { 'cache-control': 'no-cache' });
      },
    },
    {
      method: 'GET',
      path: '/page/title/{title}',
      family: 'title',
      stability: 'stable',
      tag: 'Page content',
      summary: 'Get revision metadata for a title (the latest revision; ETag "rev/tid", If-None-Match answers 304)',
      params: [P.title],
      produces: JSON_TYPE,
      handler: async (ctx, domain) => {
        const t = await routes.title(ctx, domain);
        if (!t) return;
        sendRevisionItem(ctx, await pages.titleInfo(svc, domain, t, ctx.requestId));
      },
    },
    {
      method: 'GET',
      path: '/page/title/{title}/',
      family: 'title',
      stability: 'unstable',
      tag: 'Page content',
      summary: "List a page's revisions (from the origin's history, newest first, paged)",
      params: [P.title, { name: 'older_than', in: 'query', description: 'Revisions older than this id', schema: { type: 'integer' } }],
      produces: JSON_TYPE,
      handler: async (ctx, domain) => {
        const t = await routes.title(ctx, domain);
        if (!t) return;
        const older = ctx.query.get('older_than');
        const r = await pages.titleRevisions(svc, domain, t, older === null ? undefined : parseRevision(older), ctx.requestId);
        const body = { items: r.items, ...(r.older ? { _links: { next: { href: `?older_than=${r.older}` } } } : {}) };
        sendJson(ctx.res, 200, body, { 'cache-control': 'no-cache' });
      },
    },
    {
      method: 'GET',
      path: '/page/title/{title}/{revision}',
      family: 'title',
      stability: 'stable',
      tag: 'Page content',
      summary: 'Get metadata of one revision of a page (404 when the revision belongs to another page; ETag "rev/tid")',
      params: [P.title, P.revision],
      produces: JSON_TYPE,
      handler: async (ctx, domain) => {
        const rev = parseRevision(ctx.params.revision);
        const t = await routes.title(ctx, domain);
        if (!t) return;
        sendRevisionItem(ctx, await pages.titleRevisionInfo(svc, domain, t, rev, ctx.requestId));
      },
    },
    {
      method: 'GET',
      path: '/page/revision/{revision}',
      family: 'revision',
      stability: 'unstable',
      tag: 'Page content',
      summary: 'Get metadata of a revision (ETag "rev/tid", If-None-Match answers 304)',
      params: [P.revision],
      produces: JSON_TYPE,
      handler: async (ctx, domain) => {
        const rev = parseRevision(ctx.params.revision);
        sendRevisionItem(ctx, await pages.revisionInfo(svc, domain, rev, ctx.requestId));
      },
    },
  ];
}
