// GET /page/related/{title}: CirrusSearch's `morelike:` where the wiki has it (here: the example
// wiki behind a proxy that adds CirrusSearch's two answers), a 404 problem saying why where not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCascade, startHarness, type CascadeOnly, type Harness } from './harness.ts';

describe('page/related', () => {
  let h: Harness;
  let proxy: Server;
  let withSearch: CascadeOnly;
  const searches: string[] = [];

  before(async () => {
    h = await startHarness();
    // The example wiki, plus what a wiki with CirrusSearch answers: the extension in siteinfo and a morelike: search.
    proxy = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const p = url.searchParams;
      // siteinfo asked for extensions: the wiki's answer with CirrusSearch added.
      const addCirrus = url.pathname === '/w/api.php' && (p.get('siprop') ?? '').split('|').includes('extensions');
      if (url.pathname === '/w/api.php' && p.get('list') === 'search') {
        searches.push(p.get('srsearch') ?? '');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ batchcomplete: true, query: { search: [{ ns: 0, title: 'Larkford' }, { ns: 0, title: 'No such related page' }, { ns: 0, title: 'Cascade' }] } }));
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        fetch(h.wiki.url + (req.url ?? '/'), {
          method: req.method,
          headers: Object.fromEntries(Object.entries(req.headers).filter(([k, v]) => typeof v === 'string' && k !== 'host' && k !== 'connection')) as Record<string, string>,
          ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: Buffer.concat(chunks) }),
        }).then(
          async (r) => {
            let body = Buffer.from(await r.arrayBuffer());
            if (addCirrus) {
              const j = JSON.parse(body.toString('utf8')) as { query?: { extensions?: unknown[] } };
              j.query = { ...j.query, extensions: [...(j.query?.extensions ?? []), { type: 'other', name: 'CirrusSearch' }] };
              body = Buffer.from(JSON.stringify(j));
            }
            res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/octet-stream', ...(r.headers.get('etag') ? { etag: r.headers.get('etag')! } : {}) });
            res.end(body);
          },
          () => {
            res.writeHead(502);
            res.end();
          },
        );
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    withSearch = await startCascade(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, 'example.wiki');
  });
  after(async () => {
    await withSearch.close();
    await new Promise((r) => proxy.close(r));
    await h.close();
  });

  it('a wiki without CirrusSearch: 404 problem+json that says so', async () => {
    const r = await h.fetch('/example.wiki/v1/page/related/Silver_River');
    const body = (await r.json()) as { type: string; detail: string };
    assert.equal(r.status, 404);
    assert.match(r.headers.get('content-type')!, /^application\/problem\+json/);
    assert.match(body.type, /CASCADE_CONTENT_RELATED_UNAVAILABLE/);
    assert.match(body.detail, /CirrusSearch/);
    // A page that does not exist is the usual page 404, not this one.
    const missing = await h.fetch('/example.wiki/v1/page/related/Not_a_page_at_all');
    assert.equal(missing.status, 404);
    assert.doesNotMatch(((await missing.json()) as { type: string }).type, /RELATED/);
  });

  it('a wiki with CirrusSearch: the summaries of its morelike: results, in order, missing pages left out', async () => {
    const r = await withSearch.fetch('/example.wiki/v1/page/related/Silver_River');
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const body = JSON.parse(text) as { pages: { title: string; extract: string; type: string; content_urls: unknown }[] };
    assert.deepEqual(body.pages.map((p) => p.title), ['Larkford', 'Cascade']);
    for (const p of body.pages) {
      assert.equal(p.type, 'standard');
      assert.ok(p.extract.length > 0);
      assert.ok(p.content_urls);
    }
    assert.deepEqual(searches, ['morelike:Silver River']);
  });
});
