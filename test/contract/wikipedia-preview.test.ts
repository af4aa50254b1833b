// Wikimedia's wikipedia-preview popup library (1.12.4, from npm) in Debian's Chromium, on a
// page whose requests to https://en.wikipedia.org/api/rest_v1/ are answered by Cascade (in
// front of the example wiki and of a real MediaWiki): a plain preview takes the summary and
// the media list, a section preview (`Title#Section`) the mobile-html.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { DEFAULT_RESOURCES_YAML } from '../helpers/default-resources.ts';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.ts';
import { startCascade, type CascadeUnderTest } from '../mediawiki/cascade.ts';
import { launchChromium, requireChromium } from '../ops/chromium.ts';

// The package's CommonJS entry is its UMD build, the file a site includes with a <script>.
const LIBRARY = readFileSync(createRequire(import.meta.url).resolve('wikipedia-preview'), 'utf8');
const REST = 'https://en.wikipedia.org/api/rest_v1/';
const SITE = 'https://reader.example/';

const origins = [
  { name: 'example wiki', title: 'Silver River', marker: /Silver River/, section: { id: 'History', marker: /Mills were built/ } },
  { name: 'real MediaWiki', title: 'Goryeo ware', marker: /Goryeo/ },
] as const;

for (const o of origins) {
  describe(`wikipedia-preview in Chromium against Cascade (${o.name})`, () => {
    let c: CascadeUnderTest | undefined;
    let origin: TestOrigin | undefined;
    let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
    const asked: string[] = [];

    before(async (t) => {
      if (!requireChromium(t as never)) return;
      origin = await startTestOrigin(t as never, o.name);
      if (!origin) return;
      c = await startCascade(origin.url, { backend: 'sqlite', changes: '{ follow: off }', resources: DEFAULT_RESOURCES_YAML });
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await c?.close();
      await origin?.close();
    });

    /** A reader's page with the library; Wikipedia's REST API answered by Cascade, nothing else reachable. */
    async function readerPage(body: string): Promise<Page> {
      const page = await browser!.context.newPage();
      await page.route('**/*', async (route) => {
        const u = route.request().url();
        if (u === SITE) return route.fulfill({ contentType: 'text/html', body: `<!doctype html><html><head><script>${LIBRARY}</script></head><body>${body}<script>wikipediaPreview.init({ lang: 'en' })</script></body></html>` });
        if (u.startsWith(REST)) {
          asked.push(new URL(u).pathname.replace('/api/rest_v1/', ''));
          const r = await fetch(`${c!.app.url}/${c!.domain}/v1/${u.slice(REST.length)}`, { headers: { origin: 'https://reader.example' } });
          return route.fulfill({ status: r.status, headers: Object.fromEntries(r.headers), body: Buffer.from(await r.arrayBuffer()) });
        }
        return route.abort();
      });
      await page.goto(SITE);
      return page;
    }

    it('a plain preview: the popup shows the summary (summary and media-list from Cascade)', async (t) => {
      if (!c || !browser) return t.skip('no origin or no Chromium');
      const page = await readerPage(`<p>Read about <span id="w" data-wikipedia-preview data-wp-title="${o.title}">it</span>.</p>`);
      await page.click('#w');
      // The popup opens with loading placeholders; the extract replaces them.
      await page.locator('.wikipediapreview-body', { hasText: o.marker }).waitFor({ state: 'visible', timeout: 15_000 });
      assert.equal(await page.locator('.wikipediapreview-body-message').count(), 0, 'no error message in the popup');
      assert.ok(asked.some((p) => p.startsWith('page/summary/')), 'summary asked');
      assert.ok(asked.some((p) => p.startsWith('page/media-list/')), 'media-list asked');
      await page.close();
    });

    // Sections of the example wiki's seeded page (the real wiki's articles are checked by the plain preview).
    const sec = 'section' in o ? o.section : undefined;
    if (sec) {
      it('a section preview: the popup shows the section (mobile-html from Cascade)', async (t) => {
        if (!c || !browser) return t.skip('no origin or no Chromium');
        const page = await readerPage(`<p>Read about <span id="s" data-wikipedia-preview data-wp-title="${o.title}#${sec.id}">its history</span>.</p>`);
        await page.click('#s');
        await page.locator('.wikipediapreview-body', { hasText: sec.marker }).waitFor({ state: 'visible', timeout: 15_000 });
        assert.ok(asked.some((p) => p.startsWith('page/mobile-html/')), 'mobile-html asked');
        await page.close();
      });
    }
  });
}
