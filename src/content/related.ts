// GET /page/related/{title}: pages like this one, from the origin's search where it has one.
// Wikimedia's service asks CirrusSearch (`morelike:`) and answers `{pages: [summary, …]}`;
// Cascade does the same, each page's summary served by its own summary endpoint (stored,
// derived from the stored HTML). A wiki without CirrusSearch (probed once per domain from
// siteinfo's extension list) has no such search: 404 problem+json saying so, not an empty list
// that would look like "nothing is related".
import { CascadeError } from '../errors/index.ts';
import { sendJson } from '../router/server.ts';
import type { Title } from '../titles/index.ts';
import { ContentErrors } from './errors.ts';
import { P, type ContentRoutes, type Endpoint } from './routes.ts';
import type { ContentService } from './service.ts';

/** As many pages as the mobile content service asks CirrusSearch for. */
const LIMIT = 20;
/** Summaries built at once (each may render a page at the origin on a miss). */
const CONCURRENCY = 4;

export async function hasCirrusSearch(svc: ContentService, domain: string): Promise<boolean> {
  return (await svc.wiki.capabilities(domain)).cirrusSearch;
}

async function relatedTitles(svc: ContentService, domain: string, title: Title, requestId?: string): Promise<string[]> {
  const titles = await svc.wiki.moreLike(domain, title.prefixedText, LIMIT, requestId);
  return titles.filter((t) => t.replace(/ /g, '_') !== title.prefixedDbKey);
}

/** The summaries of the related pages, in the search's order; pages that fail to render are left out. */
async function summaries(svc: ContentService, domain: string, titles: string[], requestId?: string): Promise<unknown[]> {
  const out: (unknown | undefined)[] = new Array(titles.length);
  let next = 0;
  const worker = async () => {
    while (next < titles.length) {
      const i = next++;
      try {
        const t = await svc.title(domain, titles[i]!, requestId);
        const html = await svc.html(domain, t, { requestId });
        const s = await svc.derived('summary', domain, t, html.entry, { requestId });
        out[i] = JSON.parse(await s.entry.text()) as unknown;
      } catch (e) {
        svc.log('related page left out', { domain, title: titles[i], error: String(e) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, titles.length) }, worker));
  return out.filter((x) => x !== undefined);
}

export function relatedEndpoints(routes: ContentRoutes): Endpoint[] {
  const svc = routes.svc;
  return [
    {
      method: 'GET',
      path: '/page/related/{title}',
      family: 'related',
      stability: 'experimental',
      tag: 'Page content',
      summary: "Get pages related to a page (the origin's CirrusSearch `morelike:`; 404 where the wiki has no CirrusSearch)",
      params: [P.title],
      produces: 'application/json; charset=utf-8',
      handler: async (ctx, domain) => {
        const t = await routes.title(ctx, domain);
        if (!t) return;
        // The page itself must be readable (deleted, hidden or missing pages answer as the other endpoints).
        await svc.html(domain, t, { requestId: ctx.requestId });
        if (!(await hasCirrusSearch(svc, domain))) {
          throw new CascadeError(
            ContentErrors.relatedUnavailable,
            `related pages come from CirrusSearch's morelike: search, and the wiki behind ${domain} does not have the CirrusSearch extension`,
          );
        }
        const pages = await summaries(svc, domain, await relatedTitles(svc, domain, t, ctx.requestId), ctx.requestId);
        sendJson(ctx.res, 200, { pages }, { 'cache-control': `s-maxage=${svc.cfg.s_maxage}, max-age=${svc.cfg.max_age}` });
      },
    },
  ];
}
