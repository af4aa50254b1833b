// Invisible and illegal characters in titles, as MediaWiki's Title::newFromText treats them:
// bidi marks are stripped and white space variants collapse (a 301 to the canonical spelling
// at the API), C0 controls, U+FFFE/U+FFFF and broken UTF-8 are refused (title-invalid-utf8 /
// -characters), and a byte order mark is refused (400) rather than passed to the origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { corpusPath } from '../helpers/corpus.ts';
import { normalizeTitle, parseSiteinfo, TitleError } from '../../src/titles/index.ts';

const en = parseSiteinfo(JSON.parse(readFileSync(corpusPath('titles', 'siteinfo', 'enwiki.json'), 'utf8')));

test('stripped or collapsed like MediaWiki: the canonical form differs (the API answers 301)', () => {
  const cases: [string, string][] = [
    ['\u200EFoo\u200F', 'Foo'],
    ['Foo\u202Abar', 'Foobar'],
    ['\u00A0Foo\u3000bar\u2028', 'Foo_bar'],
    ['Foo \u2009 bar', 'Foo_bar'],
  ];
  for (const [input, want] of cases) assert.equal(normalizeTitle(input, en).prefixedDbKey, want, JSON.stringify(input));
});

test('kept: joiners that scripts need are legal title characters', () => {
  assert.equal(normalizeTitle('\u0645\u06CC\u200C\u0631\u0648\u062F', en).prefixedDbKey, '\u0645\u06CC\u200C\u0631\u0648\u062F');
  assert.equal(normalizeTitle('क्\u200Dष', en).prefixedDbKey, 'क्\u200Dष');
});

test('refused with a 400 TitleError, never anything else', () => {
  const cases: [string, string][] = [
    ['\uFEFFFoo', 'title-invalid-characters'],
    ['Foo\uFEFF', 'title-invalid-characters'],
    ['Fo\uFEFFo', 'title-invalid-characters'],
    ['Foo\u0000', 'title-invalid-characters'],
    ['Foo\u0007bar', 'title-invalid-characters'],
    ['Foo\tbar', 'title-invalid-characters'],
    ['Foo\nbar', 'title-invalid-characters'],
    ['Foo\u007Fbar', 'title-invalid-characters'],
    ['Foo\uFFFE', 'title-invalid-utf8'],
    ['Foo\uFFFF', 'title-invalid-utf8'],
    ['Foo\uFFFD', 'title-invalid-utf8'],
    ['Foo\uD800', 'title-invalid-utf8'],
    ['\uFEFF', 'title-invalid-characters'],
    ['%EF%BB%BFFoo', 'title-invalid-characters'],
  ];
  for (const [input, code] of cases) {
    assert.throws(
      () => normalizeTitle(input, en),
      (e: unknown) => e instanceof TitleError && e.status === 400 && e.titleCode === code && e.toProblem().type.length > 0,
      JSON.stringify(input),
    );
  }
});
