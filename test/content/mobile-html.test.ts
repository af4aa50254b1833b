// GET /page/mobile-html/{title}: derived from stored Parsoid HTML in the mobile content service's
// shape (compared with the golden Dog response in ../shared/corpora/golden), stored per render,
// re-derived when the HTML changes, with the headers the service's API spec checks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { corpusPath } from '../helpers/corpus.ts';
import { deriveMobileHtml } from '../../src/content/derive/index.ts';
import { startHarness, type Harness } from './harness.ts';

const sectionTree = (s: string): string => {
  let depth = 0;
  const out: string[] = [];
  for (const m of s.matchAll(/<section data-mw-section-id="(-?\d+)"|<\/section>/g)) {
    if (m[1] !== undefined) out.push(`${m[1]}@${depth++}`);
    else depth--;
  }
  return out.join(',');
};
const headings = (s: string): string[] => [...s.matchAll(/<(h[2-6]) id="([^"]*)"( class="pcs-edit-section-title")?/g)].map((m) => `${m[1]}#${m[2]}${m[3] ? ' wrapped' : ''}`);

describe('mobile-html derivation', () => {
  const parsoid = readFileSync(corpusPath('html', 'Dog.html'), 'utf8');
  const golden = readFileSync(corpusPath('golden', 'mobile-html-Dog.html'), 'utf8');
  const out = deriveMobileHtml(parsoid, { domain: 'en.wikipedia.org', protection: { edit: ['autoconfirmed'], move: ['sysop'] }, editable: false });

  it('keeps the golden response’s section tree and wraps the same headings', () => {
    assert.equal(sectionTree(out), sectionTree(golden));
    assert.deepEqual(headings(out), headings(golden));
    assert.match(out, /<div class="pcs-edit-section-header v2"><h2 id="Etymology" class="pcs-edit-section-title">Etymology<\/h2>/);
  });

  it('moves the introduction up, after the hatnotes and before the infobox, as the golden response has it', () => {
    const leadTags = (doc: string) => {
      const lead = doc.slice(doc.indexOf('<section data-mw-section-id="0"'), doc.indexOf('<section data-mw-section-id="1"'));
      return [...lead.matchAll(/<(p|table|div)\b[^>]*>\s*(The <b>domestic dog)?/g)].slice(0, 4).map((m) => (m[2] ? 'intro' : m[1]));
    };
    assert.deepEqual(leadTags(out), ['div', 'div', 'intro', 'p']);
    assert.deepEqual(leadTags(golden), ['div', 'div', 'intro', 'p']);
    assert.ok(out.indexOf('The <b>domestic dog</b>') < out.indexOf('class="infobox'));
    // Main pages are left as they are; a lead that starts with text too.
    const box = '<html><head><title>M</title></head><body><section data-mw-section-id="0"><table><tr><td>box</td></tr></table><p>Enough text here.</p></section></body></html>';
    assert.match(deriveMobileHtml(box, { domain: 'example.wiki' }), /<\/span><p>Enough text here\.<\/p><table>/);
    assert.match(deriveMobileHtml(box, { domain: 'example.wiki', isMainPage: true }), /<\/span><table>.*<p>Enough/s);
  });

  it('has the PCS document frame: pcs div, header, head metas, protection, no-editing', () => {
    assert.match(out, /^<!DOCTYPE html>\n<html [^>]*class="no-editing page-protected"/);
    assert.match(out, /<div id="pcs" class="mw-parser-output"><header>.*<h1 data-id="0" class="pcs-edit-section-title">Dog<\/h1>/s);
    assert.ok(out.includes('<meta http-equiv="content-language" content="en">'));
    for (const meta of [
      '<meta property="pcs:locale" content="en">',
      '<meta property="mw:pageProtection:edit" content="autoconfirmed">',
      '<meta property="mw:pageProtection:move" content="sysop">',
      '<base href="//en.wikipedia.org/wiki/">',
      '<title>Dog</title>',
    ]) {
      assert.ok(out.includes(meta), meta);
      assert.ok(golden.includes(meta), `golden: ${meta}`);
    }
    assert.match(out, /<body [^>]*lang="en" dir="ltr" class="[^"]*mw-body-content/);
  });

  it('drops what reading does not need, flattens red links, keeps hatnotes', () => {
    assert.doesNotMatch(out, /data-mw=|data-parsoid=/);
    assert.doesNotMatch(out, / id="mw[A-Za-z0-9_-]{2,4}"/);
    assert.match(out, /<div role="note" class="hatnote navigation-not-searchable"/);
    const red = deriveMobileHtml(
      '<html><head><title>R</title></head><body><section data-mw-section-id="0"><p>A <a rel="mw:WikiLink" href="./Nowhere?action=edit&amp;redlink=1" class="new" title="Nowhere">red</a> link &amp; <script>alert(1)</script>text.</p></section></body></html>',
      { domain: 'example.wiki' },
    );
    assert.match(red, /<p>A <span class="new">red<\/span> link &amp; text\.<\/p>/);
    assert.match(red, /<section data-mw-section-id="0"><span class="pcs-edit-section-link-container"><a href="\/wiki\/R\?action=edit&amp;section=0"/);
  });

  it('escapes the title text in the header (a display title is HTML already)', () => {
    const amp = deriveMobileHtml('<html><head><title>Salt &amp; pepper</title></head><body><p>x</p></body></html>', { domain: 'example.wiki', title: 'Salt_&_pepper' });
    assert.match(amp, /<h1 data-id="0" class="pcs-edit-section-title">Salt &amp; pepper<\/h1>/);
    const shown = deriveMobileHtml('<html><head><title>T</title></head><body><p>x</p></body></html>', { domain: 'example.wiki', displaytitle: '<i>T</i>' });
    assert.match(shown, /<h1 data-id="0" class="pcs-edit-section-title"><i>T<\/i><\/h1>/);
  });

  it('wraps HTML without sections in a lead section', () => {
    const plain = deriveMobileHtml('<html><head><title>P</title></head><body><p>Just text.</p></body></html>', { domain: 'example.wiki' });
    assert.equal(sectionTree(plain), '0@0');
    assert.match(plain, /<section data-mw-section-id="0">.*<p>Just text\.<\/p><\/section>/s);
  });
});

describe('GET /page/mobile-html/{title} (example wiki)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  async function edit(title: string, text: string): Promise<number> {
    const r = await h.fetch(`/api/rest_v1/page/wikitext/${encodeURIComponent(title)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ wikitext: text, comment: 'mobile-html test' }).toString(),
    });
    const body = (await r.json()) as { newrevid: number };
    assert.ok(r.status === 200 || r.status === 201, JSON.stringify(body));
    return body.newrevid;
  }

  it('serves the stored derivation with the mobile content service’s headers; an edit refreshes it', async () => {
    const rev1 = await edit('Mobile page', 'Intro text.\n\n== First ==\nOne.\n\n=== Deeper ===\nTwo.\n\n== Second ==\nThree.');
    const html = await h.fetch('/example.wiki/v1/page/html/Mobile_page');
    await html.text();
    const r = await h.fetch('/example.wiki/v1/page/mobile-html/Mobile_page');
    const body = await r.text();
    assert.equal(r.status, 200, body);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/Mobile-HTML/1.2.2"');
    assert.equal(r.headers.get('etag'), html.headers.get('etag'), 'derived from the stored render it names');
    assert.match(r.headers.get('etag')!, /^"[^/"]+\/[^/"]+"$/);
    assert.equal(r.headers.get('content-language'), 'en');
    assert.equal(r.headers.get('x-frame-options'), 'SAMEORIGIN');
    const cspShape = /^(default-src).*(connect-src).*(media-src).*(img-src).*(object-src).*(script-src).*(style-src).*(frame-ancestor).*$/;
    assert.match(r.headers.get('content-security-policy')!, cspShape);
    assert.match(r.headers.get('x-content-security-policy')!, cspShape);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.match(body, /^<!DOCTYPE html>/);
    assert.match(body, /<h2 id="First" class="pcs-edit-section-title">First<\/h2>/);
    assert.equal(sectionTree(body), '0@0,1@0,2@1,3@0');

    // Stored in its bucket under the HTML's rev/tid.
    const [rev, tid] = r.headers.get('etag')!.slice(1, -1).split('/');
    assert.equal(Number(rev), rev1);
    const stored = await h.app.store.getRevTid('example.wiki', 'mobile-html', 'Mobile_page', rev1, tid!);
    assert.ok(stored, 'stored in the mobile-html bucket');

    const again = await h.fetch('/example.wiki/v1/page/mobile-html/Mobile_page', { headers: { 'if-none-match': r.headers.get('etag')! } });
    assert.equal(again.status, 304);

    const rev2 = await edit('Mobile page', 'Intro changed.\n\n== Only ==\nOne.');
    // The public read renders the new revision's HTML on a miss; mobile-html follows it.
    const next = await h.fetch('/example.wiki/v1/page/mobile-html/Mobile_page');
    const nextBody = await next.text();
    assert.equal(next.status, 200);
    assert.equal(next.headers.get('etag')!.slice(1).split('/')[0], String(rev2));
    assert.match(nextBody, /Intro changed\./);
    assert.equal(sectionTree(nextBody), '0@0,1@0');
  });

  it('mobile-sections carry content-language and the legacy security headers too, and the origin’s metadata', async () => {
    const r = await h.fetch('/example.wiki/v1/page/mobile-sections/Mobile_page');
    const lead = ((await r.json()) as { lead: Record<string, unknown> }).lead;
    assert.equal(r.status, 200);
    // The example wiki knows who edited (no protection, no PageImages/GeoData/Wikibase: those stay out).
    assert.equal((lead.lastmodifier as { user?: string }).user !== undefined || (lead.lastmodifier as { anon?: boolean }).anon === true, true);
    assert.deepEqual(lead.protection, {});
    for (const k of ['wikibase_item', 'geo', 'description']) assert.ok(!(k in lead), k);
    assert.equal(r.headers.get('content-language'), 'en');
    assert.equal(r.headers.get('x-frame-options'), 'SAMEORIGIN');
    assert.ok(r.headers.get('x-content-security-policy'));
  });

  it('a config from before mobile-html (no bucket for it) still serves it, from memory', async () => {
    const buckets = h.app.config.domains['example.wiki']!.buckets;
    const kept = buckets['mobile-html'];
    delete buckets['mobile-html'];
    try {
      const r = await h.fetch('/example.wiki/v1/page/mobile-html/Larkford');
      assert.equal(r.status, 200, await r.text());
      const [rev, tid] = r.headers.get('etag')!.slice(1, -1).split('/');
      // Nothing to store it in: nothing is stored.
      assert.equal(await h.app.store.getRevTid('example.wiki', 'mobile-html', 'Larkford', Number(rev), tid!).catch(() => undefined), undefined);
    } finally {
      buckets['mobile-html'] = kept!;
    }
  });

  it('an unknown page is a 404 problem', async () => {
    const r = await h.fetch('/example.wiki/v1/page/mobile-html/No_such_page_here');
    assert.equal(r.status, 404);
    assert.match(r.headers.get('content-type')!, /application\/problem\+json/);
    await r.text();
  });
});
