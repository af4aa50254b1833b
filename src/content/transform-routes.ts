// The transform endpoints: wikitext → HTML through the origin's transform route (nothing is
// stored), titled, of one revision, or untitled; `body_only` answers the body's inner HTML.
import { CascadeError } from '../errors/index.ts';
import { readForm } from './form.ts';
import type { RequestContext } from '../router/router.ts';
import { ContentErrors } from './errors.ts';
import { bodyInner } from './html.ts';
import { titleForms, type ContentRoutes, type Endpoint } from './routes.ts';
import { HTML_TYPE, htmlType } from './service.ts';
import { stashRender } from './edit-routes.ts';

const TRANSFORM = '/transform/wikitext/to/html';

/** `body_only` from the form (RESTBase's place for it) or the query string. */
function bodyOnly(ctx: RequestContext, form: Record<string, string>): boolean {
  const v = form.body_only ?? ctx.query.get('body_only');
  return v === 'true' || v === '1';
}

export function transformEndpoints(routes: ContentRoutes): Endpoint[] {
  const svc = routes.svc;
  const handler = async (ctx: RequestContext, domain: string): Promise<void> => {
    const target = await routes.optionalTitle(ctx, domain);
    if (!target) return;
    const { title, rev } = target;
    const key = title?.prefixedDbKey;
    const f = await readForm(ctx.req, svc.cfg.max_body_bytes);
    const stash = f.stash === 'true' || f.stash === '1';
    if (stash && !title) throw new CascadeError(ContentErrors.badForm, 'stash needs a title: POST /transform/wikitext/to/html/{title}');
    if (typeof f.wikitext !== 'string') throw new CascadeError(ContentErrors.badForm, 'the form field `wikitext` is required');
    const only = bodyOnly(ctx, f);
    const res = await svc.wiki.transform(domain, key, rev, f.wikitext, ctx.requestId, only);
    // An origin that ignores body_only sends a whole document: its body is cut out here.
    const body = only ? Buffer.from(bodyInner(res.body.toString('utf8')), 'utf8') : res.body;
    const type = res.htmlVersion ? htmlType(res.htmlVersion) : HTML_TYPE;
    // The stash keeps the whole render (the original of a later save), whatever was answered.
    const etag = stash && title ? await stashRender(svc, domain, title, res.body, type, ctx.requestId) : undefined;
    ctx.res.writeHead(200, {
      'content-type': type,
      'content-length': body.length,
      'cache-control': 'no-cache',
      ...(etag ? { etag } : stash ? { 'x-cascade-stash': 'no stash bucket is declared for this domain; nothing was stashed' } : {}),
    });
    ctx.res.end(body);
  };
  return titleForms(TRANSFORM, (path) => ({
    method: 'POST',
    family: 'transform',
    stability: 'stable',
    tag: 'Transforms',
    summary:
      path === TRANSFORM
        ? 'Render wikitext to HTML without a page context (proxied to the origin renderer; nothing is stored)'
        : 'Render wikitext to HTML (proxied to the origin renderer; nothing is stored)',
    produces: HTML_TYPE,
    form: [
      { name: 'wikitext', description: 'Wikitext to render', required: true },
      { name: 'body_only', description: "Return only the body's inner HTML (true/false)" },
      { name: 'stash', description: 'Keep the render in the stash for a later save (titled only); its ETag is answered' },
    ],
    handler,
  }));
}
