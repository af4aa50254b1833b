// Checks of the public REST contract shared by the example-wiki and real-MediaWiki suites:
// what RESTBase's clients expect of the metadata endpoints (ETag, 304, one revision of a page).
import assert from 'node:assert/strict';

export type Fetch = (path: string, init?: RequestInit) => Promise<Response>;

/**
 * `page` has revisions `oldRev` < `latestRev`; `otherRev` belongs to another page. `base` is
 * the API root (`/{domain}/v1` or `/api/rest_v1`).
 */
export async function checkMetadataContract(f: Fetch, base: string, page: string, oldRev: number, latestRev: number, otherRev: number): Promise<void> {
  const seg = encodeURIComponent(page.replace(/ /g, '_'));
  // ETag and 304 on every metadata endpoint, for a revision with and without a stored render.
  for (const path of [`/page/title/${seg}`, `/page/revision/${latestRev}`, `/page/title/${seg}/${oldRev}`]) {
    const r = await f(base + path);
    const body = await r.text();
    assert.equal(r.status, 200, `${path}: ${body}`);
    const etag = r.headers.get('etag');
    assert.ok(etag, `${path}: ETag`);
    const rev = path.endsWith(`/${oldRev}`) ? oldRev : latestRev;
    assert.match(etag, new RegExp(`^"${rev}/[^"]+"$`), `${path}: ETag "rev/…"`);
    assert.equal((JSON.parse(body) as { items: { rev: number }[] }).items[0].rev, rev);
    const nm = await f(base + path, { headers: { 'if-none-match': etag } });
    assert.equal(nm.status, 304, path);
    assert.equal(nm.headers.get('etag'), etag);
    assert.equal(await nm.text(), '');
    const other = await f(base + path, { headers: { 'if-none-match': `"${rev}/something-else"` } });
    assert.equal(other.status, 200, `${path}: a different ETag gets the body`);
    await other.text();
  }
  // Once the latest revision has a stored render, its tid is in the ETag (RESTBase's "rev/tid").
  const html = await f(`${base}/page/html/${seg}`);
  assert.equal(html.status, 200);
  await html.text();
  const htmlEtag = html.headers.get('etag');
  assert.match(htmlEtag ?? '', new RegExp(`^"${latestRev}/[0-9a-f-]+"$`));
  const t = await f(`${base}/page/title/${seg}`);
  const item = ((await t.json()) as { items: { tid: string | null }[] }).items[0];
  assert.equal(t.headers.get('etag'), `"${latestRev}/${item.tid}"`);
  assert.equal(t.headers.get('etag'), htmlEtag, 'the metadata ETag names the render the HTML endpoint serves');

  // page/title/{title}/{revision}: the revision's metadata, in RESTBase's shape.
  const one = await f(`${base}/page/title/${seg}/${oldRev}`);
  const oi = ((await one.json()) as { items: Record<string, unknown>[] }).items;
  assert.equal(oi.length, 1);
  assert.equal(oi[0].title, page.replace(/ /g, '_'));
  assert.equal(oi[0].rev, oldRev);
  for (const k of ['page_id', 'namespace', 'timestamp', 'comment']) assert.ok(k in oi[0], k);
  assert.ok(Array.isArray(oi[0].restrictions));
  const wrong = await f(`${base}/page/title/${seg}/${otherRev}`);
  assert.equal(wrong.status, 404);
  assert.equal(wrong.headers.get('content-type'), 'application/problem+json');
  assert.match(((await wrong.json()) as { detail: string }).detail, /does not belong/);
  const bad = await f(`${base}/page/title/${seg}/abc`);
  assert.equal(bad.status, 400);
  await bad.text();
}

/**
 * Transforms: untitled and titled, with and without `body_only` (form field or JSON boolean).
 */
export async function checkTransformContract(f: Fetch, base: string, page: string): Promise<void> {
  const seg = encodeURIComponent(page.replace(/ /g, '_'));
  const post = (path: string, body: Record<string, unknown>, json = false) =>
    f(base + path, {
      method: 'POST',
      headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' },
      body: json ? JSON.stringify(body) : new URLSearchParams(body as Record<string, string>).toString(),
    });
  const wikitext = "'''Bold''' and [[Somewhere]]";
  for (const path of ['/transform/wikitext/to/html', `/transform/wikitext/to/html/${seg}`]) {
    const whole = await post(path, { wikitext });
    const doc = await whole.text();
    assert.equal(whole.status, 200, `${path}: ${doc}`);
    assert.match(doc, /<html[\s>]/, `${path}: a whole document by default`);
    assert.match(doc, /<b[^>]*>Bold<\/b>/);
    assert.match(whole.headers.get('content-type') ?? '', /^text\/html; charset=utf-8; profile="https:\/\/www\.mediawiki\.org\/wiki\/Specs\/HTML\/\d+\.\d+\.\d+"$/);
    for (const [body, json] of [[{ wikitext, body_only: 'true' }, false], [{ wikitext, body_only: true }, true]] as const) {
      const r = await post(path, body, json);
      const frag = await r.text();
      assert.equal(r.status, 200, `${path}: ${frag}`);
      assert.doesNotMatch(frag, /<(html|head|body)[\s>]/i, `${path}: body_only is the body's inner HTML`);
      assert.match(frag, /<b[^>]*>Bold<\/b>/);
      assert.match(frag, /href="\.\/Somewhere"/);
      assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(frag));
      // The fragment is exactly what the whole document's body holds.
      const inner = /<body\b[^>]*>([\s\S]*)<\/body>/.exec(doc)?.[1];
      assert.ok(inner && inner.includes(/<b[^>]*>Bold<\/b>/.exec(frag)![0]));
    }
    const missing = await post(path, { body_only: 'true' });
    assert.equal(missing.status, 400);
    await missing.text();
  }
}
