// Renderer units: the wikitext subset to Parsoid-style HTML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderWikitext, parseTitle } from '../../src/wiki/index.ts';

function render(wikitext: string, pages: Record<string, string> = {}, title = 'Test page') {
  return renderWikitext(wikitext, {
    domain: 'example.wiki',
    title: parseTitle(title)!,
    pageId: 7,
    revId: 42,
    parentRevId: 41,
    timestamp: '2024-05-01T10:00:00Z',
    loadPage: (k) => pages[k],
  });
}

const body = (html: string) => html.slice(html.indexOf('<body'), html.indexOf('</body>'));

test('document head carries page id, revision, title, base href and the body classes', () => {
  const { html } = render('Hello');
  assert.ok(html.startsWith('<!DOCTYPE html>\n<html prefix="dc: http://purl.org/dc/terms/ mw: http://mediawiki.org/rdf/"'));
  assert.match(html, /<meta charset="utf-8"\/>/);
  assert.match(html, /<meta property="mw:pageId" content="7"\/>/);
  assert.match(html, /<meta property="mw:revisionSNo" content="42"\/>/);
  assert.match(html, /<link rel="dc:replaces" resource="mwr:revision\/41"\/>/);
  assert.match(html, /<title>Test page<\/title>/);
  assert.match(html, /<base href="\/\/example.wiki\/wiki\/"\/>/);
  assert.match(html, /<body lang="en" class="[^"]*\bmw-content-ltr\b[^"]*\bmw-parser-output\b[^"]*" dir="ltr">/);
});

test('sections: a lead, one section per heading, nested by level, sequential ids', () => {
  const { html } = render('Lead text.\n== A ==\na\n=== A.1 ===\nx\n==== A.1.1 ====\ny\n== B ==\nb\n');
  const b = body(html);
  assert.equal(
    b.replace(/<body[^>]*>/, '').replace(/<p>[^<]*<\/p>/g, ''),
    '<section data-mw-section-id="0"></section>' +
      '<section data-mw-section-id="1"><h2 id="A">A</h2>' +
      '<section data-mw-section-id="2"><h3 id="A.1">A.1</h3>' +
      '<section data-mw-section-id="3"><h4 id="A.1.1">A.1.1</h4></section></section></section>' +
      '<section data-mw-section-id="4"><h2 id="B">B</h2></section>',
  );
  assert.match(b, /<section data-mw-section-id="0"><p>Lead text.<\/p><\/section>/);
});

test('heading ids: spaces become underscores, markup is dropped, duplicates are numbered', () => {
  const { html } = render("== Early life and '''career''' ==\n== Notes ==\n== Notes ==\n== [[Foo|Bar baz]] ==");
  assert.match(html, /<h2 id="Early_life_and_career">Early life and <b>career<\/b><\/h2>/);
  assert.match(html, /<h2 id="Notes">Notes<\/h2>/);
  assert.match(html, /<h2 id="Notes_2">Notes<\/h2>/);
  assert.match(html, /<h2 id="Bar_baz"><a rel="mw:WikiLink" href=".\/Foo" title="Foo">Bar baz<\/a><\/h2>/);
});

test('paragraphs, bold and italic', () => {
  const b = body(render("One '''bold''' and ''italic'' and '''''both'''''.\nSame paragraph.\n\nSecond.").html);
  assert.match(b, /<p>One <b>bold<\/b> and <i>italic<\/i> and <b><i>both<\/i><\/b>.\nSame paragraph.<\/p><p>Second.<\/p>/);
  // Unclosed formatting is closed at the end of the line.
  assert.match(body(render("''open").html), /<p><i>open<\/i><\/p>/);
});

test('internal links: target, label, link trail, namespaces, fragments, categories', () => {
  const b = body(render('[[foo bar]] [[Target page|the label]] [[Dog]]s [[template:X|tx]] [[Paris#History|h]] [[Category:Rivers]]').html);
  assert.match(b, /<a rel="mw:WikiLink" href=".\/Foo_bar" title="Foo bar">foo bar<\/a>/);
  assert.match(b, /<a rel="mw:WikiLink" href=".\/Target_page" title="Target page">the label<\/a>/);
  assert.match(b, /<a rel="mw:WikiLink" href=".\/Dog" title="Dog">Dogs<\/a>/);
  assert.match(b, /<a rel="mw:WikiLink" href=".\/Template:X" title="Template:X">tx<\/a>/);
  assert.match(b, /<a rel="mw:WikiLink" href=".\/Paris#History" title="Paris">h<\/a>/);
  assert.match(b, /<link rel="mw:PageProp\/Category" href=".\/Category:Rivers"\/>/);
});

test('external links: labelled, numbered and bare; no javascript: URLs', () => {
  const b = body(render('[https://example.org/a?b=1&c=2 Example] [http://x.org] see https://e.org/p. [javascript:alert(1) x]').html);
  assert.match(b, /<a rel="mw:ExtLink" class="external text" href="https:\/\/example.org\/a\?b=1&amp;c=2">Example<\/a>/);
  assert.match(b, /<a rel="mw:ExtLink" class="external autonumber" href="http:\/\/x.org"><\/a>/);
  assert.match(b, /<a rel="mw:ExtLink" class="external free" href="https:\/\/e.org\/p">https:\/\/e.org\/p<\/a>\./);
  assert.doesNotMatch(b, /href="javascript/);
});

test('lists: unordered, ordered, nested, definition', () => {
  const b = body(render('* a\n** a1\n* b\n# one\n# two\n; term : def').html);
  assert.match(b, /<ul><li>a<ul><li>a1<\/li><\/ul><\/li><li>b<\/li><\/ul><ol><li>one<\/li><li>two<\/li><\/ol><dl><dt>term<\/dt><dd>def<\/dd><\/dl>/);
});

test('templates: positional and named parameters, defaults, nesting, transclusion markup', () => {
  const pages = {
    'Template:Greet': "Hi '''{{{1}}}''' from {{{place|nowhere}}}{{Dot}}<noinclude>docs</noinclude>",
    'Template:Dot': '.',
  };
  const r = render('A {{greet|World|place=Paris}} B {{Greet|You}}', pages);
  const b = body(r.html);
  const spans = [...b.matchAll(/<span typeof="mw:Transclusion" about="(#mwt\d+)" data-mw="([^"]*)">(.*?)<\/span>/g)];
  assert.equal(spans.length, 2);
  assert.deepEqual(spans.map((s) => s[1]), ['#mwt1', '#mwt2']);
  assert.equal(spans[0][3], 'Hi <b>World</b> from Paris.');
  assert.equal(spans[1][3], 'Hi <b>You</b> from nowhere.');
  const dataMw = JSON.parse(spans[0][2].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&'));
  assert.deepEqual(dataMw.parts[0].template.target, { wt: 'greet', href: './Template:Greet' });
  assert.deepEqual(dataMw.parts[0].template.params, { 1: { wt: 'World' }, place: { wt: 'Paris' } });
  assert.doesNotMatch(b, /docs/);
  assert.deepEqual(r.templates, ['Template:Dot', 'Template:Greet']);
});

test('a block template alone on a line renders as a block; a missing template is a link to it', () => {
  const r = render('{{Box}}\ntext {{Nope}}', { 'Template:Box': '* one\n* two' });
  const b = body(r.html);
  assert.match(b, /<div typeof="mw:Transclusion" about="#mwt1" data-mw="[^"]*"><ul><li>one<\/li><li>two<\/li><\/ul><\/div>/);
  assert.match(b, /<span typeof="mw:Transclusion" about="#mwt2" data-mw="[^"]*"><a rel="mw:WikiLink" href=".\/Template:Nope" title="Template:Nope">Template:Nope<\/a><\/span>/);
  assert.deepEqual(r.templates, ['Template:Box', 'Template:Nope']);
});

test('template loops and parser functions do not crash', () => {
  const r = render('{{Loop}} {{#invoke:Mod|f}} {{#if: x | yes | no}} {{DISPLAYTITLE:x}} {{{1}}}', { 'Template:Loop': 'L{{Loop}}' });
  const b = body(r.html);
  assert.match(b, /Template loop detected/);
  assert.match(b, />yes<\/span>/);
  assert.match(b, /about="#mwt2" data-mw="[^"]*invoke[^"]*"><\/span>/); // dropped: no output
  assert.match(b, /\{\{\{1\}\}\}/);
});

test('redirect pages render a mw:PageProp/redirect link', () => {
  const r = render('#REDIRECT [[silver river]]\n[[Category:Redirects]]');
  assert.equal(r.redirect, 'Silver_river');
  assert.match(body(r.html), /<section data-mw-section-id="0"><link rel="mw:PageProp\/redirect" href=".\/Silver_river"\/>/);
  assert.equal(render('#redirect:[[Toronto]]').redirect, 'Toronto');
  assert.equal(render('Not #REDIRECT [[X]]').redirect, undefined);
});

test('escaping: no markup or script injection from wikitext', () => {
  const attack = [
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '<span onmouseover="alert(1)">hover</span>',
    '[[Foo|<script>x</script>]]',
    '[https://e.org/" onclick="alert(1) label]',
    '"><svg onload=alert(1)>',
    '{{T|<script>y</script>}}',
    '== <script>z</script> ==',
    '&lt;script&gt; &#0; &#xD800; &bogus;',
  ].join('\n\n');
  const b = body(render(attack, { 'Template:T': '{{{1}}}' }).html);
  assert.doesNotMatch(b, /<script/i);
  assert.doesNotMatch(b, /<img/i);
  assert.doesNotMatch(b, /<svg/i);
  // No element carries an event handler attribute (the text may mention one, escaped).
  for (const tag of b.match(/<[a-z][^>]*>/gi) ?? []) assert.doesNotMatch(tag, /\son\w+=/i, tag);
  assert.match(b, /<span>hover<\/span>/); // allowed tag, attributes dropped
  assert.match(b, /&amp;#0;/);
  assert.match(b, /&amp;#xD800;/);
});

test('constructs outside the subset: tables, refs, files, comments, nowiki are dropped or escaped', () => {
  const wt = [
    'Before<ref>{{cite web|url=http://x}}</ref> after<ref name="a"/>.',
    '{| class="wikitable"\n|-\n| cell || {{X}}\n{|\n| nested\n|}\n|}',
    '[[File:Pic.jpg|thumb|A [[caption]] link]] text',
    '<!-- hidden --> visible <nowiki>[[not a link]] \'\'x\'\'</nowiki>',
    '<references />',
  ].join('\n\n');
  const b = body(render(wt).html);
  assert.match(b, /<p>Before after.<\/p>/);
  assert.doesNotMatch(b, /cell|nested|cite|caption|hidden|Pic/);
  assert.match(b, /<p> text<\/p>|<p>text<\/p>/);
  assert.match(b, /visible \[\[not a link\]\] &#39;&#39;x&#39;&#39;/);
});

test('rendering is deterministic (a re-render is byte-identical)', () => {
  const wt = "== A ==\n{{T|1}} [[B]] ''c''\n* d";
  const pages = { 'Template:T': 'x{{{1}}}' };
  assert.equal(render(wt, pages).html, render(wt, pages).html);
});
