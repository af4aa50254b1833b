// The before/after hooks of a describe block run against a real MediaWiki with something started
// in front of it (Cascade), both closed after the block. Without a MediaWiki (a loud skip outside
// CI) `mw` stays undefined and each test skips itself.
import { after, before } from 'node:test';
import { requireMediaWiki, type MediaWiki, type MediaWikiOptions } from './mediawiki.ts';

export interface MediaWikiSuite<C> {
  mw: MediaWiki | undefined;
  /** What `start` returned; set whenever `mw` is. */
  c: C;
}

export function mediaWikiSuite<C extends { close(): Promise<void> }>(opts: MediaWikiOptions, start: (mw: MediaWiki) => Promise<C>): MediaWikiSuite<C> {
  const s = { mw: undefined } as MediaWikiSuite<C>;
  before(async (t) => {
    s.mw = await requireMediaWiki(t as never, opts);
    if (s.mw) s.c = await start(s.mw);
  });
  after(async () => {
    await (s.c as C | undefined)?.close();
    await s.mw?.close();
  });
  return s;
}
