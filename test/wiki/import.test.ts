// Importing the real articles of ../shared/corpora/wikitext: every one is stored and renders
// through the REST API without error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { corpusPath } from '../helpers/corpus.ts';
import { testWiki, type Json } from './helpers.ts';
import { importWikitextDir, parseTitle } from '../../src/wiki/index.ts';
import { titleFromFileName } from '../../src/wiki/import.ts';

const dir = corpusPath('wikitext');
const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));

test('importing the corpus stores every article and renders each one through /html', async () => {
  assert.ok(files.length >= 70);
  const w = await testWiki({ seed: false });
  try {
    const r = w.importWikitextDir(dir);
    assert.equal(r.imported, files.length);
    assert.deepEqual(r.skipped, []);
    let bytes = 0;
    const t0 = performance.now();
    for (const f of files) {
      const key = parseTitle(titleFromFileName(f))!.key;
      const src = await w.json<Json>(`/w/rest.php/v1/page/${encodeURIComponent(key)}`);
      assert.equal(src.status, 200, key);
      assert.equal(src.body.source, readFileSync(`${dir}/${f}`, 'utf8'), key);
      const res = await w.get(`/w/rest.php/v1/page/${encodeURIComponent(key)}/html`);
      assert.equal(res.status, 200, key);
      const html = await res.text();
      bytes += html.length;
      assert.match(html, /^<!DOCTYPE html>/, key);
      assert.match(html, /<section data-mw-section-id="0">/, key);
      assert.ok(html.endsWith('</section></body></html>'), key);
      assert.match(html, new RegExp(`<meta property="mw:pageId" content="${src.body.id}"/>`), key);
      assert.doesNotMatch(html, /<script/i, key);
    }
    const ms = performance.now() - t0;
    console.log(`# rendered ${files.length} articles (${(bytes / 1e6).toFixed(1)} MB of HTML) over HTTP in ${ms.toFixed(0)} ms`);
    // A big article has real structure: sections with heading ids and wiki links.
    const uk = await (await w.get('/w/rest.php/v1/page/United-Kingdom/html')).text();
    assert.ok((uk.match(/<section data-mw-section-id=/g) ?? []).length > 20);
    assert.match(uk, /<h2 id="History">History<\/h2>/);
    assert.ok((uk.match(/rel="mw:WikiLink"/g) ?? []).length > 500);
    // The corpus' redirect file is a redirect page.
    const redirect = await (await w.get('/w/rest.php/v1/page/Redirect/html')).text();
    assert.match(redirect, /<link rel="mw:PageProp\/redirect" href=".\/Toronto"\/>/);
    // Re-importing changes nothing (null edits).
    assert.equal(w.importWikitextDir(dir).unchanged, files.length);
  } finally {
    await w.close();
  }
});

test('importWikitextDir works on a wiki database without a server', async () => {
  const w = await testWiki({ seed: false });
  const dbPath = `${w.dir}/other.sqlite`;
  try {
    const r = await importWikitextDir(dir, { dbPath, seed: true });
    assert.equal(r.imported, files.length);
  } finally {
    await w.close();
  }
});
