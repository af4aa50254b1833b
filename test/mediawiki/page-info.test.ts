// Summary, mobile-sections and mobile-html take what MediaWiki knows of a page (protection, the
// last editor; PageImages loaded) and invent nothing it does not (no Wikidata item, short
// description, coordinates or page image on a stock wiki with no images).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMIN_USER } from '../helpers/mediawiki.ts';
import { mediaWikiSuite } from '../helpers/mediawiki-suite.ts';
import { startCascade } from '../content/harness.ts';

const D = 'mw.test';
const V1 = `/${D}/v1`;

describe('page metadata from a real MediaWiki', () => {
  const suite = mediaWikiSuite({ extraSettings: "wfLoadExtension( 'PageImages' );" }, (mw) => startCascade(mw.url, D));

  it('protection and the last modifier reach mobile-sections and mobile-html; absent extensions leave their fields out', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    await mw.edit('Guarded page', "'''Guarded page''' is protected.\n\n== Part ==\nText.");
    await mw.post({ action: 'protect', title: 'Guarded page', protections: 'edit=sysop|move=sysop', expiry: 'infinite', reason: 'test' });

    const ms = await c.fetch(`${V1}/page/mobile-sections/Guarded_page`);
    const lead = ((await ms.json()) as { lead: Record<string, unknown> }).lead;
    assert.equal(ms.status, 200);
    assert.deepEqual(lead.protection, { edit: ['sysop'], move: ['sysop'] });
    assert.equal(lead.editable, false, "the mobile content service's reading: edit-protected is not editable");
    assert.deepEqual(lead.lastmodifier, { user: ADMIN_USER, gender: 'unknown' });
    for (const k of ['wikibase_item', 'description', 'geo']) assert.ok(!(k in lead), `${k} is not invented`);

    const s = (await (await c.fetch(`${V1}/page/summary/Guarded_page`)).json()) as Record<string, unknown>;
    for (const k of ['wikibase_item', 'description', 'description_source', 'coordinates', 'thumbnail', 'originalimage']) assert.ok(!(k in s), `summary.${k} is not invented`);

    const html = await (await c.fetch(`${V1}/page/mobile-html/Guarded_page`)).text();
    assert.match(html, /<html [^>]*class="[^"]*no-editing page-protected/);
    assert.match(html, /<meta property="mw:pageProtection:edit" content="sysop">/);
  });

  it('related pages: a stock wiki has no CirrusSearch, so 404 problem+json that says so', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const r = await c.fetch(`${V1}/page/related/Bodmin`);
    const p = (await r.json()) as { code: string; detail: string };
    assert.equal(r.status, 404);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    assert.equal(p.code, 'CASCADE_CONTENT_RELATED_UNAVAILABLE');
    assert.match(p.detail, /CirrusSearch/);
  });
});
