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

/** Per service: whether each domain's wiki has CirrusSearch (probed once; a failed probe is tried again). */
const probes = new WeakMap<ContentService, Map<string, Promise<boolean>>>();

export function hasCirrusSearch(svc: ContentService, domain: string, requestId?: string): Promise<boolean> {
  let byDomain = probes.get(svc);
  if (!byDomain) probes.set(svc, (byDomain = new Map()));
  let p = byDomain.get(domain);
  if (!p) {
    const q = new URLSearchParams({ action: 'query', meta: 'siteinfo', siprop: 'extensions', format: 'json', formatversion: '2' });
    p = svc.origin.getJson<{ query?: { extensions?: { name?: string }[] } }>(domain, 'probe', `/w/api.php?${q.toString()}`, requestId).then(
      (j) => (j.query?.extensions ?? []).some((e) => e.name === 'CirrusSearch'),
      (e: unknown) => {
        byDomain.delete(domain);
        throw e;
      },
    );
    byDomain.set(domain, p);
  }
  return p;
}

async function relatedTitles(svc: ContentService, domain: string, title: Title, requestId?: string): Promise<string[]> {
  const q = new URLSearchParams({
    action: 'query',
    format: 'json',
    formatversion: '2',
    list: 'search',
    srsearch: `morelike:${title.prefixedText}`,
    srnamespace: '0',
    srlimit: String(LIMIT),
    srinfo: '',
    srprop: '',
    srqiprofile: 'classic_noboostlinks',
  });
  const j = await svc.origin.getJson<{ query?: { search?: { title?: string }[] } }>(domain, 'related', `/w/api.php?${q.toString()}`, requestId);
  return (j.query?.search ?? []).flatMap((r) => (typeof r.title === 'string' && r.title.replace(/ /g, '_') !== title.prefixedDbKey ? [r.title] : []));
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
        if (!(await hasCirrusSearch(svc, domain, ctx.requestId))) {
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
