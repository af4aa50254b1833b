// The other mobile-html routes of the mobile content service: one revision's mobile HTML
// (derived on request; only the latest revision's is stored, as RESTBase keeps it), and the
// transform of posted Parsoid HTML into mobile HTML (nothing stored).
import { CascadeError } from '../errors/index.ts';
import { readForm } from './form.ts';
import type { RequestContext } from '../router/router.ts';
import { readBody } from '../router/server.ts';
import { ContentErrors } from './errors.ts';
import { MOBILE_HTML_TYPE } from './html.ts';
import { representationHeaders } from './mobile-headers.ts';
import { P, parseRevision, type ContentRoutes, type Endpoint } from './routes.ts';

function send(ctx: RequestContext, body: string, headers: Record<string, string>): void {
  const buf = Buffer.from(body, 'utf8');
  ctx.res.writeHead(200, { 'content-type': MOBILE_HTML_TYPE, 'content-length': buf.length, ...headers });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : buf);
}

export function mobileHtmlEndpoints(routes: ContentRoutes): Endpoint[] {
  const svc = routes.svc;
  return [
    {
      method: 'GET',
      path: '/page/mobile-html/{title}/{revision}',
      family: 'mobile-html',
      stability: 'unstable',
      tag: 'Mobile',
      summary: 'Get the mobile HTML of one revision (derived from its HTML; the latest revision’s is stored)',
      params: [P.title, P.revision],
      produces: MOBILE_HTML_TYPE,
      handler: async (ctx, domain) => {
        const rev = parseRevision(ctx.params.revision);
        const t = await routes.title(ctx, domain);
        if (!t) return;
        const html = await svc.htmlRevision(domain, t, rev, { requestId: ctx.requestId });
        const latest = svc.access.peek(svc.access.key(domain, t.prefixedDbKey))?.latestRev;
        if (latest === rev) {
          await routes.send(ctx, await svc.derived('mobile-html', domain, t, html.entry, { requestId: ctx.requestId }), 'mobile-html');
          return;
        }
        const body = await svc.deriveUnstored('mobile-html', domain, t, html.entry, ctx.requestId);
        const lang = (await svc.siteinfo(domain, ctx.requestId)).lang;
        send(ctx, body, { etag: html.entry.etag, 'cache-control': html.entry.cacheControl, ...Object.fromEntries(representationHeaders('mobile-html', lang)) });
      },
    },
    {
      method: 'POST',
      path: '/transform/html/to/mobile-html/{title}',
      family: 'transform',
      stability: 'experimental',
      tag: 'Transforms',
      summary: 'Transform Parsoid HTML of a page into mobile HTML (nothing is stored)',
      params: [P.title],
      produces: MOBILE_HTML_TYPE,
      form: [{ name: 'html', description: 'Parsoid HTML of the page', required: true }],
      handler: async (ctx, domain) => {
        const t = await routes.title(ctx, domain);
        if (!t) return;
        const ct = String(ctx.req.headers['content-type'] ?? '');
        const text = ct.startsWith('text/html') ? (await readBody(ctx.req, svc.cfg.max_body_bytes)).toString('utf8') : (await readForm(ctx.req, svc.cfg.max_body_bytes)).html;
        if (typeof text !== 'string') throw new CascadeError(ContentErrors.badForm, 'the form field `html` (or a text/html body) is required');
        const site = await svc.siteinfo(domain, ctx.requestId);
        const [body] = await svc.derivePool.run('mobile-html', text, { domain, title: t.prefixedDbKey, site, lang: site.lang, dir: site.dir });
        send(ctx, body!, { 'cache-control': 'no-cache', ...Object.fromEntries(representationHeaders('mobile-html', site.lang)) });
      },
    },
  ];
}
