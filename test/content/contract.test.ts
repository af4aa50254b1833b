// The public REST contract (issue 12's slice) against the example wiki: metadata ETags and
// 304s, `page/title/{title}/{revision}`, untitled transforms and `body_only`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkMetadataContract, checkTransformContract } from '../helpers/contract.ts';
import { startHarness, type Harness } from './harness.ts';

let h: Harness;
const API = '/api/rest_v1';
const DOM = '/example.wiki/v1';

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

async function edit(title: string, text: string): Promise<number> {
  const r = await h.fetch(`${API}/page/wikitext/${encodeURIComponent(title)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ wikitext: text, comment: 'contract test' }).toString(),
  });
  const body = (await r.json()) as { newrevid: number };
  assert.ok(r.status === 200 || r.status === 201, JSON.stringify(body));
  return body.newrevid;
}

describe('metadata endpoints (example wiki)', () => {
  it('ETag "rev/tid", If-None-Match 304, one revision of a page', async () => {
    const old = await edit('Contract page', 'First version.');
    const latest = await edit('Contract page', 'Second version.');
    const other = await edit('Another contract page', 'Elsewhere.');
    await checkMetadataContract(h.fetch, DOM, 'Contract page', old, latest, other);
    await checkMetadataContract(h.fetch, API, 'Contract page', old, latest, other);
  });

  it('declares page/title/{title}/{revision} in the OpenAPI spec', async () => {
    const spec = (await (await h.fetch(`${DOM}/?spec`)).json()) as { paths: Record<string, Record<string, unknown>> };
    assert.ok(spec.paths['/page/title/{title}/{revision}']?.get);
  });
});

describe('transforms (example wiki)', () => {
  it('untitled and titled, body_only gives the body fragment', async () => {
    await checkTransformContract(h.fetch, DOM, 'Larkford');
    await checkTransformContract(h.fetch, API, 'Larkford');
  });

  it('declares the untitled transform in the OpenAPI spec', async () => {
    const spec = (await (await h.fetch(`${DOM}/?spec`)).json()) as { paths: Record<string, Record<string, unknown>> };
    assert.ok(spec.paths['/transform/wikitext/to/html']?.post);
  });
});

describe('mobile-sections (example wiki)', () => {
  it('lead.sections lists every section as a TOC entry; no section without a reference list is marked', async () => {
    await edit(
      'Sectioned contract page',
      [
        'Lead text.',
        '== History ==',
        'Old times.',
        '=== Early years ===',
        'Very old times.',
        '== See also ==',
        '* [[Larkford]]',
        '== Further reading ==',
        '* A book about mw-references',
        '=== Online ===',
        '* A site',
      ].join('\n'),
    );
    const r = await h.fetch(`${API}/page/mobile-sections/Sectioned_contract_page`);
    assert.equal(r.status, 200);
    type S = { id: number; toclevel: number; anchor: string; line: string; text?: string; isReferenceSection?: boolean };
    const m = (await r.json()) as { lead: { sections: S[] }; remaining: { sections: S[] } };
    assert.deepEqual(
      m.lead.sections.slice(1),
      [
        { id: 1, toclevel: 1, anchor: 'History', line: 'History' },
        { id: 2, toclevel: 2, anchor: 'Early_years', line: 'Early years' },
        { id: 3, toclevel: 1, anchor: 'See_also', line: 'See also' },
        { id: 4, toclevel: 1, anchor: 'Further_reading', line: 'Further reading' },
        { id: 5, toclevel: 2, anchor: 'Online', line: 'Online' },
      ],
    );
    assert.equal(m.lead.sections[0]!.id, 0);
    assert.match(m.lead.sections[0]!.text ?? '', /Lead text/);
    assert.deepEqual(
      m.remaining.sections.map((s) => [s.line, 'isReferenceSection' in s]),
      [['History', false], ['Early years', false], ['See also', false], ['Further reading', false], ['Online', false]],
    );
    const lead = (await (await h.fetch(`${API}/page/mobile-sections-lead/Sectioned_contract_page`)).json()) as { sections: S[] };
    assert.equal(lead.sections.length, 6);
  });
});
