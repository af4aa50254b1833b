// The pages a fresh example wiki starts with: written for this project (no third-party text).
// A main page, linked articles, a template used by two pages, a redirect.
import type { Wiki } from './wiki.ts';
import { SYSTEM_USER } from './wiki.ts';

export const SEED_PAGES: { title: string; text: string }[] = [
  {
    title: 'Template:Infobox river',
    text: `<div class="infobox">'''{{{name|{{PAGENAME}}}}}''' flows for {{{length|an unknown distance}}} into [[{{{mouth|the sea}}}]].</div><noinclude>
Shows a short fact line about a river. Parameters: <code>name</code>, <code>length</code>, <code>mouth</code>.</noinclude>`,
  },
  {
    title: 'Template:Stub',
    text: `''This article about {{{1|a subject}}} is a stub. You can help by [[Help:Editing|expanding it]].''`,
  },
  {
    title: 'Main Page',
    text: `Welcome to the '''Example Wiki''', the origin that [[Cascade]] serves in its embedded default.

== Featured ==
Read about the [[Silver River]] and the town of [[Larkford]], which stands on its banks.

== About ==
* Every edit here is sent to Cascade as a <code>mediawiki.revision-create</code> event.
* Pages are rendered to Parsoid-style HTML.
* See also [https://www.mediawiki.org/wiki/API:REST_API the MediaWiki REST API].
`,
  },
  {
    title: 'Silver River',
    text: `{{Infobox river|length=212 km|mouth=Grey Bay}}
The '''Silver River''' is a river of the example country. It rises in the [[Highfold Hills]] and reaches the sea at [[Grey Bay]].

== Course ==
The river passes [[Larkford]] before widening into a tidal estuary.

=== Tributaries ===
# The Brook of Ash
# The [[Little Silver]]

== History ==
Mills were built along the river in the 18th century; several of them still stand.

{{Stub|rivers}}
`,
  },
  {
    title: 'Larkford',
    text: `'''Larkford''' is a market town on the [[Silver River]]. Its name refers to an old ford.

== Geography ==
The town lies where the river is shallow enough to cross.

== Economy ==
The weekly market and the river trade made the town prosper; see [[Silver River#History|the river's history]].

{{Stub|towns}}
`,
  },
  { title: 'Silver river', text: '#REDIRECT [[Silver River]]' },
  { title: 'Cascade', text: `'''Cascade''' is the content API that stands in front of this wiki. It keeps rendered pages in a store so that readers never wait for a render.` },
];

/** Writes the seed pages into an empty wiki; returns how many were written. */
export function seedWiki(wiki: Wiki): number {
  if (wiki.pageCount() > 0) return 0;
  // Templates first, so that the pages that use them record their template links.
  for (const p of SEED_PAGES) wiki.edit({ title: p.title, text: p.text, comment: 'Seed page', performer: SYSTEM_USER });
  return SEED_PAGES.length;
}
