// The contract suite, shared by the example-wiki and real-MediaWiki runs: every x-ample of the
// published RESTBase and mobile content service specs (fixtures/x-amples.json), and the golden
// responses of ../shared/corpora/golden (read from there). An x-ample that cannot pass yet is a
// declared deviation with its reason: it is still run, and the suite fails when a declared
// deviation starts passing (so the list stays true) or an undeclared case fails.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { corpusPath } from '../helpers/corpus.ts';
import { loadXAmples, resultTable, runXAmple, type Fetch } from './x-amples.ts';

export type Backend = 'example wiki' | 'MediaWiki 1.39';

/** The spec's test pages, as they are created on the wiki under test (small, with what the x-amples look at). */
export const TEST_PAGES: Record<string, string> = {
  'User:BSitzmann_(WMF)/MCS/Test/Frankenstein': [
    "'''Frankenstein Castle''' is a medieval fortification above the village of [[Frankenstein]] in the [[Palatinate Forest]].",
    '',
    '== More red links ==',
    'A [[Red link that does not exist]].',
    '',
    '== History ==',
    'Built in the 12th century.',
    '',
    '=== Conversions ===',
    'Later changes.',
  ].join('\n'),
  // The short description as enwiki's {{Short description}} template writes it (the example wiki drops the div).
  San_Francisco:
    '<div class="shortdescription nomobile noexcerpt noprint searchaux" style="display:none">City in California, United States</div>\n' +
    "'''San Francisco''' is a city in [[California]]. It is the fourth most populous city of the state.\n\n== History ==\nFounded in 1776.",
  Dog: "The '''dog''' is a domesticated descendant of the wolf.",
};

const common: Record<string, string> = {
  'mcs spec/base.yaml GET /_info': 'service info of the mobile content service itself; Cascade has no /_info',
  'mcs spec/data/css-mobile-base.yaml GET /{domain}/v1/data/css/mobile/base': "the page library's CSS is an asset of the mobile content service; Cascade does not host it (a declared proxy resource could)",
  'mcs spec/data/css-mobile-pagelib.yaml GET /{domain}/v1/data/css/mobile/pagelib': "the page library's CSS: not hosted by Cascade",
  'mcs spec/data/css-mobile-site.yaml GET /{domain}/v1/data/css/mobile/site': "the wiki's mobile site CSS: not hosted by Cascade",
  'mcs spec/data/i18n-pcs.yaml GET /{domain}/v1/data/i18n/pcs': "the page library's i18n strings: not hosted by Cascade",
  'mcs spec/data/javascript-mobile-pagelib.yaml GET /{domain}/v1/data/javascript/mobile/pagelib': "the page library's JavaScript: not hosted by Cascade",
  'mcs spec/page/definition.yaml GET /{domain}/v1/page/definition/{title}': 'Wiktionary definitions (en.wiktionary.org, `cat`): not implemented',
  'restbase v1/pcs/media-list.yaml GET /{domain}/v1/page/media-list/{title}': 'the list is served (the default config declares it), but the test wikis have no uploaded files, so `items` is empty where the x-ample expects one',
  'mcs spec/page/media-list.yaml GET /{domain}/v1/page/media-list/{title}': 'no uploaded files on the test wikis: `items` is empty; and a declared resource does not send the mobile content service\'s own headers (content-language, x-frame-options, x-content-security-policy, its access-control-allow-headers)',
  'restbase v1/pcs/media-list.yaml GET /{domain}/v1/page/media-list/{title}/{revision}': 'served per revision (a declared stored resource with revisions answers `{path}/{revision}`), but the test wikis have no uploaded files, so `items` is empty where the x-ample expects one',
  'mcs spec/page/media-list.yaml GET /{domain}/v1/page/media-list/{title}/{revision}': 'served per revision, but no uploaded files on the test wikis: `items` is empty (and the mobile content service\'s own headers are not sent)',
  'restbase v1/pcs/mobile-html-offline-resources.yaml GET /{domain}/v1/page/mobile-html-offline-resources/{title}': 'mobile-html-offline-resources lists the page library assets Cascade does not host: not implemented',
  'restbase v1/pcs/mobile-html-offline-resources.yaml GET /{domain}/v1/page/mobile-html-offline-resources/{title}/{revision}': 'mobile-html-offline-resources: not implemented',
  'mcs spec/page/mobile-html-offline-resources.yaml GET /{domain}/v1/page/mobile-html-offline-resources/{title}': 'mobile-html-offline-resources: not implemented',
  'restbase v1/talk.yaml GET /{domain}/v1/page/talk/{title}': 'structured talk pages (page/talk): not implemented',
  'restbase v1/talk.yaml GET /{domain}/v1/page/talk/{title}/{revision}': 'page/talk: not implemented',
  'mcs spec/page/talk.yaml GET /{domain}/v1/page/talk/{title}': 'page/talk: not implemented',
  'mcs spec/page/talk.yaml GET /{domain}/v1/page/talk/{title}/{revision}': 'page/talk: not implemented',
};

common['mcs spec/page/summary.yaml GET /{domain}/v1/page/summary/{title}'] =
  'wikibase_item, thumbnail, originalimage, coordinates (and on the example wiki description): no Wikibase, GeoData or uploaded image on these wikis; omitted, not invented';
const NO_IMAGE_OR_DESCRIPTION =
  'thumbnail, originalimage and description: the wiki has no PageImages / short descriptions for the page (and the test page no image), and fields the origin cannot provide are omitted, not invented';

const NO_IMAGE = 'thumbnail and originalimage: the test wiki has no uploaded image for the page (the description is there); omitted, not invented';

/** Declared deviations per backend: x-ample id → why it cannot pass there yet. */
export const DEVIATIONS: Record<Backend, Record<string, string>> = {
  'example wiki': {
    ...common,
    'mcs spec/page/description.yaml GET /{domain}/v1/page/description/{title}':
      "the example wiki's renderer drops the {{Short description}} div, and it has no page props: the page has no description (404)",
    'restbase v1/summary.yaml GET /{domain}/v1/page/summary/{title}': NO_IMAGE_OR_DESCRIPTION,
    'restbase v1/summary_new.yaml GET /{domain}/v1/page/summary/{title}': NO_IMAGE_OR_DESCRIPTION,
  },
  'MediaWiki 1.39': {
    ...common,
    'restbase v1/summary.yaml GET /{domain}/v1/page/summary/{title}': NO_IMAGE,
    'restbase v1/summary_new.yaml GET /{domain}/v1/page/summary/{title}': NO_IMAGE,
  },
};

const XAMPLES = loadXAmples();

export interface ContractTarget {
  fetch: Fetch;
  domain: string;
  /** Latest revision of a page (fills the `{revision}` the inherited x-amples leave out). */
  latestRevision(title: string): Promise<number>;
}

/** Registers one test per x-ample and the golden-shape tests; `target()` is ready by the time they run. */
export function contractSuite(backend: Backend, target: () => ContractTarget | undefined): void {
  const results: { id: string; ok: boolean; reason: string }[] = [];
  for (const x of XAMPLES) {
    it(`x-ample ${x.id} (${x.title})`, async (t) => {
      const c = target();
      if (!c) return t.skip('no wiki');
      const title = typeof x.request.params?.title === 'string' ? x.request.params.title : 'User:BSitzmann_(WMF)/MCS/Test/Frankenstein';
      const rev = await c.latestRevision(title).catch(() => 0);
      const r = await runXAmple(c.fetch, x, c.domain, {}, { revision: rev });
      const declared = DEVIATIONS[backend][x.id];
      results.push({ id: x.id, ok: r.ok, reason: r.ok ? '' : `${declared ?? 'UNDECLARED'} — ${r.failures.join('; ')}` });
      if (declared !== undefined) {
        t.diagnostic(`declared deviation: ${declared}; seen: ${r.failures.join('; ') || 'passes'}`);
        assert.ok(!r.ok, `${x.id} passes on ${backend}: remove its declared deviation ("${declared}")`);
        return;
      }
      assert.ok(r.ok, `${x.id} on ${backend}:\n  ${r.failures.join('\n  ')}`);
    });
  }
  it('golden responses: summary, mobile-sections and mobile-html have the public API’s fields and types', async (t) => {
    const c = target();
    if (!c) return t.skip('no wiki');
    const page = encodeURIComponent('User:BSitzmann_(WMF)/MCS/Test/Frankenstein').replace(/%3A/g, ':');
    const summary = (await (await c.fetch(`/${c.domain}/v1/page/summary/San_Francisco`)).json()) as Record<string, unknown>;
    assertSameTypes(summary, golden('summary-Tokyo.json'), 'summary', OPTIONAL_SUMMARY);
    const mobile = (await (await c.fetch(`/${c.domain}/v1/page/mobile-sections/${page}`)).json()) as Record<string, unknown>;
    assertSameTypes(mobile, golden('mobile-sections-Frankenstein.json'), 'mobile-sections', new Set(['geo', 'description', 'description_source', 'wikibase_item', 'image', 'hatnotes', 'issues', 'isReferenceSection', 'edit', 'move']));
    const html = await (await c.fetch(`/${c.domain}/v1/page/mobile-html/${page}`)).text();
    const gold = readFileSync(corpusPath('golden', 'mobile-html-Dog.html'), 'utf8');
    for (const marker of ['<div id="pcs" class="mw-parser-output">', '<section data-mw-section-id="0">', '<div class="pcs-edit-section-header v2">', 'class="pcs-edit-section-title"', '<meta property="pcs:locale"']) {
      assert.ok(gold.includes(marker), `golden has ${marker}`);
      assert.ok(html.includes(marker), `mobile-html has ${marker}`);
    }
  });
  it('x-ample table', () => {
    if (process.env.CASCADE_CONTRACT_TABLE) process.stderr.write(`\n${resultTable(results, backend)}\n`);
  });
}

// The summary fields the golden Tokyo summary has but a page can lack (the API omits them then).
const OPTIONAL_SUMMARY = new Set(['wikibase_item', 'thumbnail', 'originalimage', 'description', 'description_source', 'coordinates']);

function golden(name: string): unknown {
  return JSON.parse(readFileSync(corpusPath('golden', name), 'utf8')) as unknown;
}

/** Every field of the golden document is present (unless optional) with the same JSON type; recurses into objects and arrays. */
function assertSameTypes(actual: unknown, gold: unknown, path: string, optional: Set<string>): void {
  const kind = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
  assert.equal(kind(actual), kind(gold), `${path}: type`);
  if (kind(gold) === 'array') {
    const g = gold as unknown[];
    if (g.length) for (const [i, a] of (actual as unknown[]).entries()) assertSameTypes(a, g[Math.min(i, g.length - 1)], `${path}[${i}]`, optional);
    return;
  }
  if (kind(gold) !== 'object') return;
  for (const [k, g] of Object.entries(gold as Record<string, unknown>)) {
    const a = (actual as Record<string, unknown>)[k];
    if (a === undefined) {
      assert.ok(optional.has(k), `${path}.${k} missing`);
      continue;
    }
    assertSameTypes(a, g, `${path}.${k}`, optional);
  }
}
