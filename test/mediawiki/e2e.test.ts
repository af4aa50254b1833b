// End to end in front of a real MediaWiki (Debian's 1.39, SQLite, core Parsoid) with Cascade's
// recentchanges follower on and change propagation running, on both log backends: changes
// made in MediaWiki reach Cascade's html, summary and mobile-sections, deletes/undeletes,
// moves and revision deletion take effect, and a restart of Cascade loses no change.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { until } from '../changeprop/helpers.ts';
import { requireBackend } from '../helpers/backends.ts';
import { requireMediaWiki, type MediaWiki } from '../helpers/mediawiki.ts';
import { startCascade, type CascadeUnderTest } from './cascade.ts';

const KINDS = ['html', 'summary', 'mobile-sections'] as const;

for (const backend of ['sqlite', 'jetstream'] as const) {
  describe(`real MediaWiki behind Cascade (${backend} log)`, () => {
    let mw: MediaWiki | undefined;
    let c: CascadeUnderTest | undefined;
    before(async (t) => {
      if (backend === 'jetstream' && !(await requireBackend(t as never, 'nats'))) return;
      mw = await requireMediaWiki(t as never);
      if (mw) c = await startCascade(mw.url, { backend });
    });
    after(async () => {
      await c?.close();
      await mw?.close();
    });

    const get = (path: string) => c!.fetch(`/${c!.domain}/v1/page/${path}`, { redirect: 'manual' });
    const body = async (kind: string, title: string) => {
      const r = await get(`${kind}/${encodeURIComponent(title.replace(/ /g, '_'))}`);
      return { status: r.status, text: await r.text() };
    };
    /** Waits until every representation of `title` is served with a 200 containing `marker`. */
    const fresh = async (title: string, marker: string, timeoutMs = 30_000) => {
      for (const kind of KINDS) {
        await until(async () => {
          const b = await body(kind, title);
          return b.status === 200 && b.text.includes(marker);
        }, timeoutMs, `${kind}/${title} to show ${marker}`);
      }
    };
    const status = async (title: string, want: number, timeoutMs = 15_000) => {
      await until(async () => (await body('html', title)).status === want, timeoutMs, `html/${title} to answer ${want}`);
    };

    it('an edit in MediaWiki shows in html, summary and mobile-sections', async (t) => {
      if (!c || !mw) return t.skip('no MediaWiki');
      const title = 'Charlie Milstead';
      for (const kind of KINDS) assert.equal((await body(kind, title)).status, 200, `${kind} served before the edit`);
      const marker = `Edited-${backend}-${Date.now()}`;
      await mw.edit(title, `'''Charlie Milstead''' ${marker} was a baseball pitcher.\n\n== Career ==\nHe pitched.\n`);
      await fresh(title, marker);
    });

    it('a delete gives 404, an undelete brings the page back', async (t) => {
      if (!c || !mw) return t.skip('no MediaWiki');
      const title = 'RNDIS';
      assert.equal((await body('html', title)).status, 200);
      await mw.delete(title);
      await status(title, 404);
      await mw.undelete(title);
      await status(title, 200);
    });

    it('a move leaves the old title redirecting to the new one', async (t) => {
      if (!c || !mw) return t.skip('no MediaWiki');
      const from = `Move source ${backend}`;
      const to = `Move target ${backend}`;
      await mw.edit(from, `Moved page ${backend}.`);
      await fresh(from, `Moved page ${backend}`);
      await mw.move(from, to);
      await until(async () => {
        const r = await get(`html/${encodeURIComponent(from.replace(/ /g, '_'))}`);
        await r.arrayBuffer();
        return r.status === 302 && (r.headers.get('location') ?? '').includes(encodeURIComponent(to.replace(/ /g, '_')));
      }, 15_000, 'the old title to redirect to the new one');
      await fresh(to, `Moved page ${backend}`);
    });

    it('a revision deletion (hidden text) gives 403 for that revision', async (t) => {
      if (!c || !mw) return t.skip('no MediaWiki');
      const title = `Hidden rev ${backend}`;
      const first = await mw.edit(title, 'Secret first version.');
      const key = encodeURIComponent(title.replace(/ /g, '_'));
      await until(async () => (await get(`html/${key}/${first.revid}`)).status === 200, 15_000, 'the first revision served');
      await mw.edit(title, 'Public second version.');
      await mw.suppressRevision(first.revid);
      await until(async () => (await get(`html/${key}/${first.revid}`)).status === 403, 15_000, 'the hidden revision refused');
      await fresh(title, 'Public second version');
    });

    it('a Cascade restart mid-stream loses no change', async (t) => {
      if (!c || !mw) return t.skip('no MediaWiki');
      const titles = ['BBDO', 'Goryeo ware', 'HMS Irresistible'];
      for (const title of titles) assert.equal((await body('html', title)).status, 200);
      const marker = `Restart-${backend}-${Date.now()}`;
      // One edit before the stop, two while Cascade is down, one right after the restart.
      await mw.edit(titles[0], `${titles[0]} ${marker}.\n\n== Section ==\nText.`);
      await c.stop();
      await mw.edit(titles[1], `${titles[1]} ${marker}.\n\n== Section ==\nText.`);
      await mw.delete('Bodmin');
      await c.restart();
      await mw.edit(titles[2], `${titles[2]} ${marker}.\n\n== Section ==\nText.`);
      for (const title of titles) await fresh(title, marker);
      await status('Bodmin', 404);
      const stats = c.app.changeFeeds.feeds.get(c.domain)!.stats();
      assert.equal(stats.errors, 0, stats.lastError);
    });


    it('a template edit reaches the pages that transclude it', async (t) => {
      if (!c || !mw) return t.skip('no MediaWiki');
      const tpl = `Template:Note ${backend}`;
      await mw.edit(tpl, 'OLD-NOTE');
      const pages = [1, 2, 3].map((i) => `Transcluding ${backend} ${i}`);
      for (const p of pages) await mw.edit(p, `${p} says {{Note ${backend}}}.`);
      for (const p of pages) await fresh(p, 'OLD-NOTE');
      await mw.edit(tpl, 'NEW-NOTE');
      // A re-render that MediaWiki answers from a stale parser cache is retried by the rule
      // (0.5, 2, 8, 32 s …): on a loaded machine the fan-out may need a few of those retries.
      for (const p of pages) await fresh(p, 'NEW-NOTE', 90_000);
    });
  });
}
