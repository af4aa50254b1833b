// The origin's page metadata (one action API query) as the summary and mobile sections use it:
// what a Wikipedia-like wiki answers is read; what a stock wiki lacks is left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePageInfo } from '../../src/origins/mediawiki/page-info.ts';
import { deriveMobileSections, deriveSummary } from '../../src/content/derive/index.ts';

// The shape of en.wikipedia.org's answer to the query pageInfo sends (formatversion=2), trimmed.
const wikipedia = {
  pageid: 30057,
  ns: 0,
  title: 'Tokyo',
  protection: [
    { type: 'edit', level: 'autoconfirmed', expiry: 'infinity' },
    { type: 'move', level: 'sysop', expiry: 'infinity' },
  ],
  pageprops: { wikibase_item: 'Q1490', 'wikibase-shortdesc': 'Capital of Japan' },
  description: 'Capital of Japan',
  descriptionsource: 'local',
  pageimage: 'Skyscrapers_of_Shinjuku_2009_January.jpg',
  thumbnail: { source: 'https://upload.wikimedia.org/wikipedia/commons/thumb/b/b2/Skyscrapers_of_Shinjuku_2009_January.jpg/320px-Skyscrapers_of_Shinjuku_2009_January.jpg', width: 320, height: 171 },
  original: { source: 'https://upload.wikimedia.org/wikipedia/commons/b/b2/Skyscrapers_of_Shinjuku_2009_January.jpg', width: 2560, height: 1364 },
  coordinates: [{ lat: 35.68972222, lon: 139.69222222, primary: true, globe: 'earth' }],
  revisions: [{ revid: 1, parentid: 0, user: 'Someone', timestamp: '2024-01-01T00:00:00Z' }],
  langlinks: [{ lang: 'de', title: 'Tokio' }, { lang: 'fr', title: 'Tokyo' }],
};

test('a Wikipedia-like answer: every field the summary and mobile sections take from the origin', () => {
  const info = parsePageInfo(wikipedia);
  assert.deepEqual(info, {
    wikibaseItem: 'Q1490',
    description: { text: 'Capital of Japan', source: 'local' },
    pageImage: 'Skyscrapers_of_Shinjuku_2009_January.jpg',
    thumbnail: wikipedia.thumbnail,
    original: wikipedia.original,
    coordinates: { lat: 35.68972222, lon: 139.69222222 },
    protection: { edit: ['autoconfirmed'], move: ['sysop'] },
    lastModifier: { user: 'Someone', gender: 'unknown' },
    languageCount: 2,
  });
});

test('a stock wiki (no PageImages, GeoData, WikibaseClient): nothing invented', () => {
  const info = parsePageInfo({ pageid: 3, ns: 0, title: 'Bodmin', protection: [], revisions: [{ revid: 9, user: 'Admin', timestamp: '2024-01-01T00:00:00Z' }] });
  assert.deepEqual(info, { protection: {}, lastModifier: { user: 'Admin', gender: 'unknown' } });
  const anon = parsePageInfo({ revisions: [{ anon: true, user: '127.0.0.1' }] });
  assert.deepEqual(anon.lastModifier, { anon: true, user: '127.0.0.1', gender: 'unknown' });
  // A local short description without WikibaseClient's `description` prop.
  assert.deepEqual(parsePageInfo({ pageprops: { 'wikibase-shortdesc': 'A town' } }).description, { text: 'A town', source: 'local' });
});

test('the origin fields reach the summary and the mobile sections, overriding the HTML', () => {
  const html = '<html><head><title>Tokyo</title></head><body><section data-mw-section-id="0"><p>Tokyo is a city.</p></section></body></html>';
  const meta = {
    domain: 'en.wikipedia.org',
    wikibase_item: 'Q1490',
    description: 'Capital of Japan',
    description_source: 'local' as const,
    thumbnail: wikipedia.thumbnail,
    originalimage: wikipedia.original,
    coordinates: { lat: 35.68972222, lon: 139.69222222 },
    protection: { edit: ['autoconfirmed'] },
    lastmodifier: { user: 'Someone', gender: 'unknown' },
  };
  const s = deriveSummary(html, meta);
  assert.equal(s.wikibase_item, 'Q1490');
  assert.equal(s.description, 'Capital of Japan');
  assert.equal(s.description_source, 'local');
  assert.deepEqual(s.thumbnail, wikipedia.thumbnail);
  assert.deepEqual(s.originalimage, wikipedia.original);
  assert.deepEqual(s.coordinates, { lat: 35.68972222, lon: 139.69222222 });
  const m = deriveMobileSections(html, meta);
  assert.deepEqual(m.lead.lastmodifier, { user: 'Someone', gender: 'unknown' });
  assert.deepEqual(m.lead.protection, { edit: ['autoconfirmed'] });
  assert.deepEqual(m.lead.geo, { latitude: 35.68972222, longitude: 139.69222222 });
  // Without them: omitted.
  const bare = deriveSummary(html, { domain: 'example.wiki' });
  for (const k of ['wikibase_item', 'description', 'thumbnail', 'originalimage', 'coordinates']) assert.ok(!(k in bare), k);
  assert.ok(!('lastmodifier' in deriveMobileSections(html, { domain: 'example.wiki' }).lead));
});
