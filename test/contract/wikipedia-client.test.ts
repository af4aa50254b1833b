// The `wikipedia` npm package (a REST client of Wikipedia's API, 2.5.0) pointed at Cascade: its
// REST calls (summary, mobile-html, media, related) go to Cascade's /{domain}/v1/ in front of
// the example wiki and of a real MediaWiki. Its action-API calls (page, content, search, …) go
// to a wiki's api.php, which Cascade does not serve: they are not part of this contract.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import type { AxiosStatic } from 'axios';
import wiki from 'wikipedia';
import { DEFAULT_RESOURCES_YAML } from '../helpers/default-resources.ts';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.ts';
import { startCascade, type CascadeUnderTest } from '../mediawiki/cascade.ts';

// The client builds https://en.wikipedia.org/api/rest_v1/… itself; its axios requests are
// rewritten to the Cascade under test, as a reverse proxy mapping the public path would. The
// client is CommonJS: its axios is the CommonJS build, so the interceptor goes on that one.
const axios = createRequire(import.meta.url)('axios') as AxiosStatic;
let target: { url: string; domain: string } | undefined;
axios.interceptors.request.use((cfg) => {
  const prefix = 'https://en.wikipedia.org/api/rest_v1/';
  if (target && cfg.url?.startsWith(prefix)) cfg.url = `${target.url}/${target.domain}/v1/${cfg.url.slice(prefix.length)}`;
  return cfg;
});

const origins = [
  { name: 'example wiki', title: 'Silver River', marker: /Silver River/ },
  { name: 'real MediaWiki', title: 'Goryeo ware', marker: /Goryeo/ },
] as const;

for (const o of origins) {
  describe(`the wikipedia npm client against Cascade (${o.name})`, () => {
    let c: CascadeUnderTest | undefined;
    let origin: TestOrigin | undefined;
    before(async (t) => {
      origin = await startTestOrigin(t as never, o.name);
      if (!origin) return;
      c = await startCascade(origin.url, { backend: 'sqlite', changes: '{ follow: off }', resources: DEFAULT_RESOURCES_YAML });
      target = { url: c.app.url, domain: c.domain };
    });
    after(async () => {
      target = undefined;
      await c?.close();
      await origin?.close();
    });

    it('summary(): the page summary with its title, extract and URLs', async (t) => {
      if (!c) return t.skip('no origin');
      const s = await wiki.summary(o.title);
      assert.equal(s.type, 'standard');
      // As Wikipedia's: `title` is the canonical (database key) form, `titles.normalized` has spaces.
      assert.equal(s.title, o.title.replace(/ /g, '_'));
      assert.equal(s.titles.normalized, o.title);
      assert.match(s.extract, o.marker);
      assert.ok(s.content_urls?.desktop?.page, 'content_urls.desktop.page');
      assert.ok(s.revision && s.tid, 'revision and tid');
    });

    it('mobileHtml(): PCS-style HTML of the page', async (t) => {
      if (!c) return t.skip('no origin');
      const html = await wiki.mobileHtml(o.title.replace(/ /g, '_'));
      assert.ok(typeof html === 'string', 'HTML text');
      assert.match(html, /<section data-mw-section-id="0"/);
      assert.match(html, o.marker);
    });

    it('media(): the media list of the page', async (t) => {
      if (!c) return t.skip('no origin');
      const m = await wiki.media(o.title);
      assert.ok(Array.isArray(m.items), 'items is an array');
      for (const item of m.items) assert.equal(typeof item.title, 'string');
    });

    it('related(): pages related by the origin search, or a clear 404 where it has none', async (t) => {
      if (!c) return t.skip('no origin');
      // Neither origin runs CirrusSearch (morelike:): the client surfaces Cascade's 404.
      await assert.rejects(wiki.related(o.title), (e: Error) => /404|related/i.test(String(e.message)));
    });
  });
}
