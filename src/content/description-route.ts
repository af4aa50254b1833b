// GET /page/description/{title} (the mobile content service's): the page's short description, as
// its summary has it (the origin's WikibaseClient description or `wikibase-shortdesc` page prop,
// else the HTML's `.shortdescription`). A page without one is 404, as the service answers.
import { CascadeError } from '../errors/index.ts';
import { sendJson } from '../router/server.ts';
import { ContentErrors } from './errors.ts';
import { representationHeaders } from './mobile-headers.ts';
import { P, type ContentRoutes, type Endpoint } from './routes.ts';

export function descriptionEndpoints(routes: ContentRoutes): Endpoint[] {
  const svc = routes.svc;
  return [
    {
      method: 'GET',
      path: '/page/description/{title}',
      family: 'summary',
      stability: 'experimental',
      tag: 'Page content',
      summary: "Get a page's short description (from its summary; 404 when it has none)",
      params: [P.title],
      produces: 'application/json',
      handler: async (ctx, domain) => {
        const t = await routes.title(ctx, domain);
        if (!t) return;
        const html = await svc.html(domain, t, { requestId: ctx.requestId });
        const summary = await svc.derived('summary', domain, t, html.entry, { requestId: ctx.requestId });
        const s = JSON.parse(await summary.entry.text()) as { description?: string; lang: string };
        if (!s.description) throw new CascadeError(ContentErrors.noDescription, `${t.prefixedDbKey} has no short description at the origin or in its HTML`);
        sendJson(ctx.res, 200, { description: s.description, lang: s.lang }, {
          'content-type': 'application/json',
          'cache-control': summary.entry.cacheControl,
          etag: summary.entry.etag,
          vary: 'Accept-Encoding',
          ...Object.fromEntries(representationHeaders('description', s.lang)),
        });
      },
    },
  ];
}
