// Behaviour beyond the conformance corpus: formatversion 2 siteinfo, errors as problem+json,
// and the remaining rows of MediaWiki's own title tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { corpusPath } from '../helpers/corpus.ts';
import { isCascadeError } from '../../src/errors/index.ts';
import { normalizeTitle, parseSiteinfo, sanitizeIP, TitleError, type SiteInfo } from '../../src/titles/index.ts';

// The corpus files are in the formatversion=2 shape (`name`/`alias` keys, real booleans).
const enV2 = JSON.parse(readFileSync(corpusPath('titles', 'siteinfo', 'enwiki.json'), 'utf8')) as {
  query: { general: Record<string, unknown>; namespaces: Record<string, Record<string, unknown>>; namespacealiases: Record<string, unknown>[] };
};
const en = parseSiteinfo(enV2);

/** The same siteinfo as formatversion=1 sends it: `*` keys, booleans as present empty strings. */
function toV1(v2: typeof enV2): unknown {
  const namespaces: Record<string, unknown> = {};
  for (const [id, ns] of Object.entries(v2.query.namespaces)) {
    const { name, subpages, content, nonincludable, ...rest } = ns;
    namespaces[id] = {
      ...rest,
      '*': name,
      ...(subpages === true ? { subpages: '' } : {}),
      ...(content === true ? { content: '' } : {}),
      ...(nonincludable === true ? { nonincludable: '' } : {}),
    };
  }
  const namespacealiases = v2.query.namespacealiases.map(({ alias, ...rest }) => ({ ...rest, '*': alias }));
  return { batchcomplete: '', query: { general: v2.query.general, namespaces, namespacealiases } };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof TitleError, `expected TitleError, got ${String(e)}`);
    return e.titleCode;
  }
}

test('formatversion 1 and 2 siteinfo give the same tables', () => {
  const v1 = parseSiteinfo(toV1(enV2));
  assert.equal(v1.namespaceIndex.size, en.namespaceIndex.size);
  assert.deepEqual([...v1.namespaceIndex].sort(), [...en.namespaceIndex].sort());
  assert.equal(v1.namespaces.get(3)!.name, 'User talk');
  assert.equal(v1.namespaces.get(2)!.subpages, true);
  assert.equal(v1.namespaces.get(0)!.content, true);
  for (const t of ['WP:eger', 'image talk:x.png', 'user_Talk:::1', 'Foo:bar']) {
    assert.deepEqual(normalizeTitle(t, v1), normalizeTitle(t, en), t);
  }
});

test('a small hand-written formatversion 2 siteinfo (the example wiki shape)', () => {
  const site = parseSiteinfo({
    query: {
      general: { lang: 'de', case: 'first-letter', mainpage: 'Hauptseite', server: 'http://127.0.0.1:7240', articlepath: '/wiki/$1' },
      namespaces: {
        '0': { id: 0, case: 'first-letter', name: '', subpages: false, content: true },
        '1': { id: 1, case: 'first-letter', name: 'Diskussion', canonical: 'Talk', subpages: true, content: false },
        '6': { id: 6, case: 'first-letter', name: 'Datei', canonical: 'File', subpages: false, content: false },
        '14': { id: 14, case: 'case-sensitive', name: 'Kategorie', canonical: 'Category', subpages: true, content: false },
      },
      namespacealiases: [{ id: 6, alias: 'Bild' }],
    },
  });
  assert.equal(normalizeTitle('bild:foo.jpg', site).prefixedDbKey, 'Datei:Foo.jpg');
  assert.equal(normalizeTitle('FILE:foo.jpg', site).prefixedDbKey, 'Datei:Foo.jpg');
  assert.equal(normalizeTitle('talk:über uns', site).prefixedText, 'Diskussion:Über uns');
  assert.equal(normalizeTitle('Category:kleine_Dinge', site).prefixedDbKey, 'Kategorie:kleine_Dinge');
  // No legaltitlechars in general: MediaWiki's default set applies.
  assert.equal(code(() => normalizeTitle('a|b', site)), 'title-invalid-characters');
});

test('parseSiteinfo refuses input without namespaces', () => {
  assert.throws(() => parseSiteinfo({ query: { general: {} } }), TypeError);
  assert.throws(() => parseSiteinfo(null), TypeError);
});

test('TitleError is a 400 CascadeError carrying the MediaWiki code in problem+json', () => {
  try {
    normalizeTitle('A [ B', en);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isCascadeError(e));
    assert.equal(e.status, 400);
    assert.equal(e.code, 'CASCADE_TITLE_INVALID');
    const problem = e.toProblem('/en.wikipedia.org/v1/page/html/A%20%5B%20B');
    assert.equal(problem.title_error, 'title-invalid-characters');
    assert.equal(problem.invalid, '[');
    assert.equal(problem.status, 400);
  }
});

test('rows of MediaWiki title tests that the corpus does not carry', () => {
  const cases: [string, string][] = [
    ['WP:eger', 'Wikipedia:Eger'],
    ['Foo:bar', 'Foo:bar'],
    [':_Test_', 'Test'],
    ['Foo\u200E\u200F\u202A\u202B\u202C\u202D\u202Ebar', 'Foobar'],
    ['User: 1.2.4.5', 'User:1.2.4.5'],
    ['User:010.0.000.1', 'User:10.0.0.1'],
    ['User:::', 'User:0:0:0:0:0:0:0:0'],
    ['User_talk:::1/24', 'User_talk:0:0:0:0:0:0:0:1/24'],
    ['User:Bar.01', 'User:Bar.01'],
    ['list of Neighbours characters (2016)#Tom Quill', 'List_of_Neighbours_characters_(2016)'],
    ['Special:OrphanedPages', 'Special:LonelyPages'],
    ['Special:NotSpecial', 'Special:NotSpecial'],
    ['Talk:Foo:Sandbox', 'Talk:Foo:Sandbox'],
    ['ǆemal', 'ǅemal'],
    ['ﬂ', 'ﬂ'],
    ['ⅳ', 'ⅳ'],
    ['éclair', 'Éclair'],
  ];
  for (const [input, expected] of cases) assert.equal(normalizeTitle(input, en).prefixedDbKey, expected, input);
  assert.equal(normalizeTitle('X-Men_(film_series)', en).prefixedText, 'X-Men (film series)');
  assert.equal(normalizeTitle(':User:Test', en, 0).namespace, 2);
  assert.equal(normalizeTitle('File:Example.svg', en, 2).namespace, 6);
});

test('invalid titles beyond the corpus', () => {
  const cases: [string, string][] = [
    [':', 'title-invalid-empty'],
    ['A [ B', 'title-invalid-characters'],
    ['A | B', 'title-invalid-characters'],
    ['A%2523B', 'title-invalid-characters'],
    ['A &amp; B', 'title-invalid-characters'],
    ['..', 'title-invalid-relative'],
    ['Sandbox/..', 'title-invalid-relative'],
    ['A ~~~~~ Timestamp', 'title-invalid-magic-tilde'],
    ['Talk::Foo', 'title-invalid-leading-colon'],
    ['Category: ', 'title-invalid-empty'],
    ['bad \uD800 surrogate', 'title-invalid-utf8'],
    // 85 × 3-byte characters = 255 bytes is the limit; one more is too long.
    ['東'.repeat(86), 'title-invalid-too-long'],
  ];
  for (const [input, expected] of cases) assert.equal(code(() => normalizeTitle(input, en)), expected, input);
  assert.equal(normalizeTitle('東'.repeat(85), en).dbKey.length, 85);
});

test('sanitizeIP leaves non-addresses alone', () => {
  assert.equal(sanitizeIP('Foo.1000.00'), 'Foo.1000.00');
  assert.equal(sanitizeIP('256.1.1.1'), '256.1.1.1');
  assert.equal(sanitizeIP('1:2:3'), '1:2:3');
  assert.equal(sanitizeIP('fe80::1/64'), 'FE80:0:0:0:0:0:0:1/64');
});

test('an unknown default namespace is a programming error, not a client error', () => {
  const site: SiteInfo = en;
  assert.throws(() => normalizeTitle('x', site, 12345), RangeError);
});
