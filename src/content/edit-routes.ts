// The editing round trip of VisualEditor-style clients: render wikitext with `stash: true` (the
// render is kept in the domain's `stash` bucket, ttl retention, and its ETag returned), edit the
// HTML, save it with `POST /page/html/{title}` and `base_etag`: a stale base is 409 before
// anything is converted; the HTML becomes wikitext through the origin's html-to-wikitext
// transform (the stashed or stored render it was edited from sent as the original), then it is
// saved as wikitext edits are. `html/to/wikitext` is that transform on its own. data-parsoid
// is inline in the renders Cascade stores, so the separate data-parsoid endpoint answers 404.
import { CascadeError } from '../errors/index.ts';
import { readForm } from './form.ts';
import type { RequestContext } from '../router/router.ts';
import { sendJson } from '../router/server.ts';
import type { Title } from '../titles/index.ts';
import { isTid, newTid } from '../util/tid.ts';
import { ContentErrors } from './errors.ts';
import { HTML_TYPE } from './html.ts';
import * as pages from './pages.ts';
import { P, parseRevision, titleForms, type ContentRoutes, type Endpoint } from './routes.ts';
import type { ContentService } from './service.ts';

export const STASH_BUCKET = 'stash';
const WIKITEXT_TYPE = 'text/plain; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/wikitext/1.0.0"';

/** `"rev/tid"` (quotes and W/ optional) → its parts. */
export function parseEtag(etag: string): { rev: number; tid?: string } {
  const m = /^(?:W\/)?"?(\d+)(?:\/([^"]*))?"?$/.exec(etag.trim());
  if (!m) throw new CascadeError(ContentErrors.badForm, `base_etag is not "rev/tid": ${etag.slice(0, 100)}`);
  return { rev: Number(m[1]), ...(m[2] ? { tid: m[2] } : {}) };
}

/**
 * Keeps a transform's render in the stash; returns its ETag, or undefined when the domain
 * declares no stash bucket (a config from before the stash: the render is still answered).
 */
export async function stashRender(svc: ContentService, domain: string, title: Title, body: Buffer, contentType: string, requestId?: string): Promise<string | undefined> {
  if (!svc.hasBucket(domain, STASH_BUCKET)) return undefined;
  const rev = await svc.wiki.pageBare(domain, title.prefixedDbKey, requestId).then(
    (p) => p.latest.id,
    () => 0, // a page not created yet: the stash is of its first revision
  );
  const put = await svc.store.put({ domain, bucket: STASH_BUCKET, key: title.prefixedDbKey, rev, tid: newTid(), contentType, body });
  return `"${rev}/${put.tid}"`;
}

/** The render an edit started from: the stash first, then the stored renders. */
async function originalRender(svc: ContentService, domain: string, key: string, base: { rev: number; tid?: string }): Promise<{ html: string; contentType: string; rev: number } | undefined> {
  if (!base.tid || !isTid(base.tid)) return undefined;
  for (const bucket of svc.hasBucket(domain, STASH_BUCKET) ? [STASH_BUCKET, 'html'] : ['html']) {
    const rec = await svc.store.getRevTid(domain, bucket, key, base.rev, base.tid).catch(() => undefined);
    if (rec) return { html: (await rec.body()).toString('utf8'), contentType: rec.contentType ?? HTML_TYPE, rev: base.rev };
  }
  return undefined;
}

function passHeaders(ctx: RequestContext): Record<string, string> {
  const pass: Record<string, string> = {};
  for (const h of ['cookie', 'authorization']) {
    const v = ctx.req.headers[h];
    if (typeof v === 'string') pass[h] = v;
  }
  return pass;
}

export function editEndpoints(routes: ContentRoutes): Endpoint[] {
  const svc = routes.svc;
  const htmlToWikitext = async (ctx: RequestContext, domain: string): Promise<void> => {
    const target = await routes.optionalTitle(ctx, domain);
    if (!target) return;
    const { rev } = target;
    const key = target.title?.prefixedDbKey;
    const f = await readForm(ctx.req, svc.cfg.max_body_bytes);
    if (typeof f.html !== 'string') throw new CascadeError(ContentErrors.badForm, 'the form field `html` is required');
    const text = Buffer.from(await svc.wiki.htmlToWikitext(domain, key, rev, f.html, undefined, ctx.requestId), 'utf8');
    ctx.res.writeHead(200, { 'content-type': WIKITEXT_TYPE, 'content-length': text.length, 'cache-control': 'no-cache' });
    ctx.res.end(text);
  };
  const TO_WT = '/transform/html/to/wikitext';
  return [
    {
      method: 'POST',
      path: '/page/html/{title}',
      family: 'html',
      stability: 'experimental',
      tag: 'Page content',
      summary: "Save a page's HTML: 409 on a stale base_etag; converted through the origin's html-to-wikitext transform and saved as wikitext",
      params: [P.title],
      produces: 'application/json',
      form: [
        { name: 'html', description: 'The edited HTML', required: true },
        { name: 'base_etag', description: 'ETag of the render the edit started from ("rev/tid", from the stash or the stored HTML)' },
        { name: 'comment', description: 'Edit summary' },
        { name: 'csrf_token', description: 'The CSRF token of the session' },
      ],
      handler: async (ctx, domain) => {
        const t = await routes.title(ctx, domain);
        if (!t) return;
        const f = await readForm(ctx.req, svc.cfg.max_body_bytes);
        if (typeof f.html !== 'string') throw new CascadeError(ContentErrors.badForm, 'the form field `html` is required');
        const base = f.base_etag ? parseEtag(f.base_etag) : undefined;
        let original;
        if (base) {
          // A stale base is refused before any conversion (the origin would refuse the save anyway).
          // A page that no longer exists has no revision an edit could be based on; any other
          // origin failure is that failure (a 5xx), not an edit conflict.
          const latest = await svc.wiki.pageBare(domain, t.prefixedDbKey, ctx.requestId).then(
            (p) => p.latest.id,
            (e: unknown) => {
              if (e instanceof CascadeError && e.code === ContentErrors.pageNotFound.code) return 0;
              throw e;
            },
          );
          if (latest !== base.rev) throw new CascadeError(ContentErrors.editConflict, `the edit is based on revision ${base.rev} of ${t.prefixedDbKey}, but the latest is ${latest}`);
          original = await originalRender(svc, domain, t.prefixedDbKey, base);
        }
        const wikitext = await svc.wiki.htmlToWikitext(domain, t.prefixedDbKey, base?.rev || undefined, f.html, original, ctx.requestId);
        const r = await pages.save(svc, domain, t, { wikitext, baseEtag: f.base_etag, comment: f.comment, token: f.csrf_token }, passHeaders(ctx), ctx.requestId);
        sendJson(ctx.res, r.created ? 201 : 200, r.body, { 'cache-control': 'no-cache' });
      },
    },
    ...titleForms(TO_WT, () => ({
      method: 'POST',
      family: 'transform',
      stability: 'stable',
      tag: 'Transforms',
      summary: "Convert HTML to wikitext through the origin's transform route (501 problem where the origin has none)",
      produces: WIKITEXT_TYPE,
      form: [{ name: 'html', description: 'HTML to convert', required: true }],
      handler: htmlToWikitext,
    })),
    {
      method: 'GET',
      path: '/page/data-parsoid/{title}/{revision}/{tid}',
      family: 'html',
      stability: 'unstable',
      tag: 'Page content',
      summary: 'data-parsoid of a render: not stored separately (it is inline in the stored HTML): 404 problem',
      params: [P.title, P.revision, P.tid],
      produces: 'application/json',
      handler: async (ctx, domain) => {
        const rev = parseRevision(ctx.params.revision);
        if (!isTid(ctx.params.tid)) throw new CascadeError(ContentErrors.badTid, `not a time UUID: ${ctx.params.tid}`);
        const t = await routes.title(ctx, domain);
        if (!t) return;
        throw new CascadeError(
          ContentErrors.dataParsoidUnavailable,
          `Cascade stores renders as the origin sends them, with data-parsoid inline in the HTML; there is no separate data-parsoid for ${t.prefixedDbKey} ${rev}/${ctx.params.tid} (GET /page/html/{title}/${rev}/${ctx.params.tid} has it inline)`,
        );
      },
    },
  ];
}
