// The public REST contract (issue 12's slice) against a real MediaWiki (core development routes
// on, so the transform route exists): metadata ETags and 304s, `page/title/{title}/{revision}`,
// untitled transforms and `body_only`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMetadataContract, checkTransformContract } from '../helpers/contract.ts';
import { mediaWikiSuite } from '../helpers/mediawiki-suite.ts';
import { startCascade } from '../content/harness.ts';

const D = 'mw.test';
const V1 = `/${D}/v1`;

describe('REST contract against MediaWiki', () => {
  const suite = mediaWikiSuite({ coreDevRoutes: true }, (mw) => startCascade(mw.url, D));

  it('metadata: ETag "rev/tid", If-None-Match 304, one revision of a page', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const old = (await mw.edit('Contract page', 'First version.')).revid;
    const latest = (await mw.edit('Contract page', 'Second version.')).revid;
    const other = (await mw.edit('Another contract page', 'Elsewhere.')).revid;
    await checkMetadataContract(c.fetch, V1, 'Contract page', old, latest, other);
  });

  it('transforms through the coredev route: untitled, titled, body_only', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    assert.equal((await c.app.content.service.wiki.capabilities(D)).transform, 'coredev');
    await checkTransformContract(c.fetch, V1, 'Bodmin');
  });

  it('an untitled transform is a 501 problem when the origin has no transform route', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const caps = await c.app.content.service.wiki.capabilities(D);
    caps.transform = 'none'; // as a stock wiki reports it
    try {
      const r = await c.fetch(`${V1}/transform/wikitext/to/html`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ wikitext: "''x''", body_only: true }) });
      assert.equal(r.status, 501);
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      const p = (await r.json()) as { code: string; detail: string };
      assert.equal(p.code, 'CASCADE_CONTENT_TRANSFORM_UNAVAILABLE');
      assert.match(p.detail, /coreDevelopmentRoutes|Parsoid/);
    } finally {
      caps.transform = 'coredev';
    }
  });

  it('mobile-sections of a Parsoid render: the full TOC in the lead, reference sections marked', async (t) => {
    const { mw, c } = suite;
    if (!mw) return t.skip('no MediaWiki');
    const text = [
      'Lead text.',
      '== History ==',
      'Old times.',
      '=== Early years ===',
      'Very old times.',
      '== See also ==',
      '* [[Bodmin]]',
      '== Further reading ==',
      '<div class="refbegin">',
      '* A book',
      '</div>',
      '=== Online ===',
      '* A site',
      '== External links ==',
      '* Elsewhere',
    ].join('\n');
    await mw.edit('Sectioned contract page', text);
    const r = await c.fetch(`${V1}/page/mobile-sections/Sectioned_contract_page`);
    const body = await r.text();
    assert.equal(r.status, 200, body);
    type S = { id: number; toclevel: number; anchor: string; line: string; text?: string; isReferenceSection?: boolean };
    const m = JSON.parse(body) as { lead: { sections: S[] }; remaining: { sections: S[] } };
    assert.deepEqual(m.lead.sections.slice(1), [
      { id: 1, toclevel: 1, anchor: 'History', line: 'History' },
      { id: 2, toclevel: 2, anchor: 'Early_years', line: 'Early years' },
      { id: 3, toclevel: 1, anchor: 'See_also', line: 'See also' },
      { id: 4, toclevel: 1, anchor: 'Further_reading', line: 'Further reading' },
      { id: 5, toclevel: 2, anchor: 'Online', line: 'Online' },
      { id: 6, toclevel: 1, anchor: 'External_links', line: 'External links' },
    ]);
    assert.deepEqual(
      m.remaining.sections.map((s) => [s.line, s.isReferenceSection === true]),
      [['History', false], ['Early years', false], ['See also', false], ['Further reading', true], ['Online', true], ['External links', false]],
    );
  });
});
