// OpenAPI 3 spec of a domain's content API, generated from the endpoint declarations, and
// Swagger UI served from the locally installed swagger-ui-dist (no CDN).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CascadeError, Errors } from '../errors/index.ts';
import type { Router, RequestContext } from '../router/router.ts';
import type { Endpoint } from './routes.ts';

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    code: { type: 'string' },
  },
};

function operationId(ep: Endpoint): string {
  const words = ep.path
    .replace(/[{}]/g, '')
    .split(/[/-]/)
    .filter(Boolean)
    .map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1)));
  return ep.method.toLowerCase() + words.map((w) => w[0].toUpperCase() + w.slice(1)).join('') + (ep.path.endsWith('/') ? 'List' : '');
}

function responseSchema(ep: Endpoint): Record<string, unknown> {
  if (ep.produces.startsWith('text/html')) return { type: 'string' };
  return { type: 'object' };
}

/** The OpenAPI 3.0 document of one domain. */
export function buildSpec(domain: string, endpoints: Endpoint[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const seen = new Set<string>();
  for (const ep of endpoints) {
    let id = operationId(ep);
    while (seen.has(id)) id += 'X';
    seen.add(id);
    const op: Record<string, unknown> = {
      operationId: id,
      summary: ep.summary,
      tags: [ep.tag],
      'x-stability': ep.stability,
      parameters: ep.params.map((p) => ({
        name: p.name,
        in: p.in,
        description: p.description,
        required: p.in === 'path' ? true : (p.required ?? false),
        schema: p.schema,
      })),
      responses: {
        '200': { description: 'OK', content: { [ep.produces]: { schema: responseSchema(ep) } } },
        ...(ep.method === 'GET' && ep.path.includes('{title}')
          ? {
              '301': { description: 'The canonical URL of the title' },
              '302': { description: 'The page is a redirect (use redirect=false for the page itself)' },
              '304': { description: 'Not modified (If-None-Match)' },
            }
          : {}),
        '404': { description: 'Not found or deleted', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/problem' } } } },
        default: { description: 'Error', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/problem' } } } },
      },
    };
    if (ep.form) {
      const properties: Record<string, unknown> = {};
      for (const f of ep.form) properties[f.name] = { type: 'string', description: f.description };
      const schema = { type: 'object', properties, required: ep.form.filter((f) => f.required).map((f) => f.name) };
      op.requestBody = {
        required: true,
        content: { 'application/x-www-form-urlencoded': { schema }, 'multipart/form-data': { schema } },
      };
    }
    (paths[ep.path] ??= {})[ep.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: `${domain} content API`,
      version: '1.0.0',
      description:
        'Cascade: stored renders of the wiki, served with persistent caching. Each operation says how stable it is in `x-stability` (stable, unstable, experimental).',
      license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
    },
    servers: [{ url: `/${domain}/v1` }],
    tags: [{ name: 'Page content' }, { name: 'Mobile' }, { name: 'Transforms' }],
    paths,
    components: { schemas: { problem: problemSchema } },
  };
}

const UI_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

// A Map, not an object literal: `/_swagger/constructor` or `__proto__` must name no asset.
const ASSETS: ReadonlyMap<string, string> = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'application/javascript; charset=utf-8'],
  ['swagger-ui-standalone-preset.js', 'application/javascript; charset=utf-8'],
  ['favicon-32x32.png', 'image/png'],
  ['favicon-16x16.png', 'image/png'],
]);

// No inline script (the CSP forbids it): the page names its spec in a data attribute.
const INIT_JS = `window.addEventListener('load', function () {
  var s = document.getElementById('cascade-swagger');
  window.ui = SwaggerUIBundle({
    url: s.getAttribute('data-spec'),
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: 'StandaloneLayout'
  });
});
`;

function uiPage(domain: string, specUrl: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(domain)} — Cascade content API</title>
<link rel="stylesheet" href="/_swagger/swagger-ui.css">
<link rel="icon" type="image/png" href="/_swagger/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/_swagger/swagger-ui-bundle.js"></script>
<script src="/_swagger/swagger-ui-standalone-preset.js"></script>
<script id="cascade-swagger" src="/_swagger/init.js" data-spec="${esc(specUrl)}"></script>
</body>
</html>
`;
}

let assetDir: string | undefined;
const assetCache = new Map<string, Buffer>();

async function asset(name: string): Promise<Buffer> {
  let b = assetCache.get(name);
  if (!b) {
    assetDir ??= dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    b = await readFile(join(assetDir, name));
    assetCache.set(name, b);
  }
  return b;
}

/**
 * `GET /{domain}/v1/` (and `/api/rest_v1/`): `?spec` answers the OpenAPI document,
 * otherwise the Swagger UI page. `GET /_swagger/{file}` serves the UI's assets.
 */
export function mountDocs(router: Router, endpoints: Endpoint[], resolveDomain: (ctx: RequestContext) => string): void {
  const specs = new Map<string, string>();
  const root = (ctx: RequestContext) => {
    const domain = resolveDomain(ctx);
    const res = ctx.res;
    if (ctx.query.has('spec')) {
      let body = specs.get(domain);
      if (!body) specs.set(domain, (body = JSON.stringify(buildSpec(domain, endpoints))));
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=300' });
      res.end(body);
      return;
    }
    const page = uiPage(domain, `${ctx.path}?spec`);
    res.setHeader('content-security-policy', UI_CSP);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page), 'cache-control': 'max-age=300' });
    res.end(page);
  };
  router.add('GET', '/{domain}/v1/', root);
  router.add('GET', '/api/rest_v1/', root);
  router.add('GET', '/_swagger/{file}', async (ctx) => {
    const file = ctx.params.file;
    if (file === 'init.js') {
      ctx.res.writeHead(200, { 'content-type': 'application/javascript; charset=utf-8', 'content-length': Buffer.byteLength(INIT_JS), 'cache-control': 'max-age=3600' });
      ctx.res.end(INIT_JS);
      return;
    }
    const type = ASSETS.get(file);
    if (!type) throw new CascadeError(Errors.notFound, `no such asset: ${file}`);
    const body = await asset(file);
    ctx.res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'max-age=86400' });
    ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
  });
}
