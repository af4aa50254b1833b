// Conformance: every case of ../shared/corpora/titles/cases.json (taken from the test tables of
// the `mediawiki-title` package) against the cached siteinfo of the wikis they need.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { corpusPath } from '../helpers/corpus.ts';
import { convertByteClassToUnicodeClass, normalizeTitle, parseSiteinfo, TitleError, type SiteInfo } from '../../src/titles/index.ts';

interface Case {
  kind: 'invalid' | 'valid' | 'normalize' | 'defaultNs' | 'byteClass' | 'fragment' | 'prefixedText';
  domain?: string;
  input: string;
  error?: string;
  expected?: string;
  expectedNs?: number;
  defaultNs?: number;
}

const cases = JSON.parse(readFileSync(corpusPath('titles', 'cases.json'), 'utf8')) as Case[];

function siteinfoJson(wiki: string): { query: { general: Record<string, unknown>; namespaces: Record<string, Record<string, unknown>> } } {
  return JSON.parse(readFileSync(corpusPath('titles', 'siteinfo', `${wiki}.json`), 'utf8'));
}

// The corpus ships siteinfo for en, es, tr and kaa. The other domains the cases name are built
// from one of those by changing what differs for the case: the language (az shares Turkish
// casing; ka is a first-letter wiki whose Georgian letters MediaWiki does not uppercase) and,
// for Wiktionary, a case-sensitive main namespace.
function siteFor(domain: string): SiteInfo {
  const lang = domain.split('.')[0]!;
  if (domain === 'en.wiktionary.org') {
    const j = siteinfoJson('enwiki');
    j.query.general.case = 'case-sensitive';
    j.query.namespaces['0']!.case = 'case-sensitive';
    return parseSiteinfo(j);
  }
  if (['en', 'es', 'tr', 'kaa'].includes(lang) && domain.endsWith('.wikipedia.org')) return parseSiteinfo(siteinfoJson(`${lang}wiki`));
  const j = siteinfoJson(lang === 'az' ? 'trwiki' : 'enwiki');
  j.query.general.lang = lang;
  return parseSiteinfo(j);
}

const sites = new Map<string, SiteInfo>();
function site(domain = 'en.wikipedia.org'): SiteInfo {
  let s = sites.get(domain);
  if (!s) sites.set(domain, (s = siteFor(domain)));
  return s;
}

function label(c: Case): string {
  const input = c.input.length > 40 ? `${c.input.slice(0, 40)}…(${c.input.length})` : c.input;
  return `${c.kind} ${c.domain ?? ''} ${JSON.stringify(input)}`;
}

test('the corpus has all 128 cases', () => {
  assert.equal(cases.length, 128);
});

for (const c of cases) {
  test(label(c), () => {
    switch (c.kind) {
      case 'invalid':
        assert.throws(
          () => normalizeTitle(c.input, site(c.domain)),
          (e: unknown) => e instanceof TitleError && e.titleCode === c.error && e.status === 400,
        );
        break;
      case 'valid': {
        const t = normalizeTitle(c.input, site(c.domain));
        assert.equal(typeof t.prefixedDbKey, 'string');
        break;
      }
      case 'normalize':
        assert.equal(normalizeTitle(c.input, site(c.domain)).prefixedDbKey, c.expected);
        break;
      case 'prefixedText':
        assert.equal(normalizeTitle(c.input, site(c.domain)).prefixedText, c.expected);
        break;
      case 'fragment':
        assert.equal(normalizeTitle(c.input, site(c.domain)).fragment, c.expected);
        break;
      case 'defaultNs': {
        const t = normalizeTitle(c.input, site(c.domain), c.defaultNs);
        assert.equal(t.namespace, c.expectedNs);
        assert.equal(t.prefixedDbKey, c.expected);
        break;
      }
      case 'byteClass':
        assert.equal(convertByteClassToUnicodeClass(c.input), c.expected);
        break;
      default:
        assert.fail(`unknown case kind ${String((c as Case).kind)}`);
    }
  });
}
