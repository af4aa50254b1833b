// The recentchanges follower (src/origins/mediawiki/feed.ts) against both origins: the example
// wiki (its list=recentchanges, its own event posting off) and a real MediaWiki. Every change
// kind becomes its standard event on the log (validated by the intake on the way in), with ids
// derived from the rcid; a first start does not replay the world; a restart loses nothing and
// replays nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventId } from '../../src/origins/mediawiki/index.ts';
import { startWiki } from '../../src/wiki/index.ts';
import { until } from '../changeprop/helpers.ts';
import { requireMediaWiki } from '../helpers/mediawiki.ts';
import { startCascade, type CascadeUnderTest } from './cascade.ts';

type Ev = Record<string, unknown>;
const title = (e: Ev) => String(e.page_title);

async function waitFor(c: CascadeUnderTest, stream: string, pred: (e: Ev) => boolean, what: string): Promise<Ev> {
  let found: Ev | undefined;
  await until(async () => (found = (await c.events(stream)).find(pred)) !== undefined, 15_000, what);
  return found!;
}

test('example wiki: each change kind becomes its event; ids from the rcid; no replay on first start; a restart loses and repeats nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-feed-'));
  // No events URL: the wiki does not post its events; Cascade has to follow recentchanges.
  const wiki = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, domain: 'example.wiki', seed: true });
  const c = await startCascade(wiki.url, { backend: 'sqlite', domain: 'example.wiki', changeprop: false, changes: '{ follow: recentchanges, poll_interval_ms: 100 }' });
  const api = async (params: Record<string, string>) => {
    const r = await fetch(`${wiki.url}/w/api.php`, { method: 'POST', body: new URLSearchParams({ format: 'json', formatversion: '2', ...params }) });
    const j = (await r.json()) as Ev;
    assert.equal(j.error, undefined, JSON.stringify(j.error));
    return j;
  };
  try {
    const feed = c.app.changeFeeds.feeds.get('example.wiki')!;
    assert.ok(feed, 'the follower runs for the domain');
    await until(() => feed.stats().watermark !== undefined, 10_000, 'the follower to start');
    assert.equal((await c.events('mediawiki.revision-create')).length, 0, 'the seeded pages are not replayed');

    const edit = (await api({ action: 'edit', title: 'Feed page', text: 'One.' })).edit as Ev;
    const created = await waitFor(c, 'mediawiki.revision-create', (e) => e.rev_id === edit.newrevid, 'revision-create of the edit');
    assert.equal(title(created), 'Feed_page');
    const rc = ((await api({ action: 'query', list: 'recentchanges', rclimit: '1' })).query as { recentchanges: { rcid: number }[] }).recentchanges[0];
    assert.equal((created.meta as Ev).id, eventId('example.wiki', rc.rcid, 0), 'the event id derives from the rcid');

    const second = (await api({ action: 'edit', title: 'Feed page', text: 'Two.' })).edit as Ev;
    await api({ action: 'revisiondelete', type: 'revision', target: 'Feed page', ids: String(edit.newrevid), hide: 'content' });
    const vis = await waitFor(c, 'mediawiki.revision-visibility-change', (e) => e.rev_id === edit.newrevid, 'visibility-change');
    assert.deepEqual(vis.visibility, { text: false, user: true, comment: true });
    await api({ action: 'move', from: 'Feed page', to: 'Feed page moved' });
    const move = await waitFor(c, 'mediawiki.page-move', (e) => title(e) === 'Feed_page_moved', 'page-move');
    assert.equal((move.prior_state as Ev).page_title, 'Feed_page');
    await api({ action: 'delete', title: 'Feed page moved' });
    await waitFor(c, 'mediawiki.page-delete', (e) => title(e) === 'Feed_page_moved', 'page-delete');
    await api({ action: 'undelete', title: 'Feed page moved' });
    const undel = await waitFor(c, 'mediawiki.page-undelete', (e) => title(e) === 'Feed_page_moved', 'page-undelete');
    assert.ok(Number(undel.rev_id) >= Number(second.newrevid), 'undelete names the restored latest revision');

    // Changes while Cascade is down arrive after the restart, once each.
    await c.stop();
    const during: number[] = [];
    for (let i = 0; i < 5; i++) during.push(Number(((await api({ action: 'edit', title: `Down ${i}`, text: `While down ${i}.` })).edit as Ev).newrevid));
    await c.restart();
    await until(async () => {
      const revs = new Set((await c.events('mediawiki.revision-create')).map((e) => e.rev_id));
      return during.every((r) => revs.has(r));
    }, 15_000, 'the edits made while Cascade was down');
    const after = await api({ action: 'edit', title: 'After restart', text: 'After.' });
    await waitFor(c, 'mediawiki.revision-create', (e) => e.rev_id === (after.edit as Ev).newrevid, 'an edit after the restart');
    const all = await c.events('mediawiki.revision-create');
    const ids = all.map((e) => (e.meta as Ev).id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    assert.equal(all.filter((e) => e.rev_id === edit.newrevid).length, 1, 'changes before the restart are not replayed');
  } finally {
    await c.close();
    await wiki.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('real MediaWiki: edit, revision deletion, move, delete, undelete become valid events', async (t) => {
  const mw = await requireMediaWiki(t);
  if (!mw) return;
  const c = await startCascade(mw.url, { backend: 'sqlite', changeprop: false, changes: '{ follow: recentchanges, poll_interval_ms: 100 }' });
  try {
    const feed = c.app.changeFeeds.feeds.get(c.domain)!;
    await until(() => feed.stats().watermark !== undefined, 10_000, 'the follower to start');
    const e1 = await mw.edit('Feed test page', 'First.');
    const created = await waitFor(c, 'mediawiki.revision-create', (e) => e.rev_id === e1.revid, 'revision-create');
    assert.equal(title(created), 'Feed_test_page');
    assert.equal(created.database, 'wiki', 'database is the wiki id from siteinfo');
    assert.equal(created.rev_content_changed, true);
    const e2 = await mw.edit('Feed test page', 'Second.');
    const c2 = await waitFor(c, 'mediawiki.revision-create', (e) => e.rev_id === e2.revid, 'second revision-create');
    assert.equal(c2.rev_parent_id, e1.revid);

    await mw.suppressRevision(e1.revid);
    const vis = await waitFor(c, 'mediawiki.revision-visibility-change', (e) => e.rev_id === e1.revid, 'visibility-change');
    assert.deepEqual(vis.visibility, { text: false, user: true, comment: true });
    assert.deepEqual((vis.prior_state as Ev).visibility, { text: true, user: true, comment: true });

    await mw.move('Feed test page', 'Feed test page moved');
    const move = await waitFor(c, 'mediawiki.page-move', (e) => title(e) === 'Feed_test_page_moved', 'page-move');
    assert.equal((move.prior_state as Ev).page_title, 'Feed_test_page');
    await mw.edit('Template:Feed tpl', 'x');
    const tpl = await waitFor(c, 'mediawiki.revision-create', (e) => title(e) === 'Template:Feed_tpl', 'a template edit');
    assert.equal(tpl.page_namespace, 10);

    const before = await mw.latestRevision('Feed test page moved');
    await mw.delete('Feed test page moved');
    await waitFor(c, 'mediawiki.page-delete', (e) => title(e) === 'Feed_test_page_moved', 'page-delete');
    await mw.undelete('Feed test page moved');
    const undel = await waitFor(c, 'mediawiki.page-undelete', (e) => title(e) === 'Feed_test_page_moved', 'page-undelete');
    assert.equal(undel.rev_id, before);
    assert.equal(feed.stats().errors, 0, feed.stats().lastError);
  } finally {
    await c.close();
    await mw.close();
  }
});

test('real MediaWiki: a $wgRCFeeds UDP datagram wakes the follower long before its poll interval', async (t) => {
  const { createSocket } = await import('node:dgram');
  // A free UDP port for MediaWiki to send to.
  const probe = createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const port = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  const mw = await requireMediaWiki(t, { rcFeedUdpPort: port });
  if (!mw) return;
  const c = await startCascade(mw.url, { backend: 'sqlite', changeprop: false, changes: `{ follow: recentchanges, poll_interval_ms: 600000, rcfeed_udp_port: ${port} }` });
  try {
    const feed = c.app.changeFeeds.feeds.get(c.domain)!;
    await until(() => feed.stats().watermark !== undefined, 10_000, 'the follower to start');
    const e = await mw.edit('UDP woken page', 'Pushed.');
    // The poll interval is 10 minutes: only the datagram can bring the event this soon.
    await waitFor(c, 'mediawiki.revision-create', (x) => x.rev_id === e.revid, 'the event after the UDP wake-up');
    assert.ok(feed.stats().wakeups >= 1, 'woken by UDP');
  } finally {
    await c.close();
    await mw.close();
  }
});

test('a wiki that goes away: the follower backs off and reports, then catches up when it is back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-feed-down-'));
  const dbPath = join(dir, 'wiki.sqlite');
  let wiki = await startWiki({ dbPath, port: 0, domain: 'example.wiki', seed: true });
  const port = Number(new URL(wiki.url).port);
  const c = await startCascade(wiki.url, { backend: 'sqlite', domain: 'example.wiki', changeprop: false, changes: '{ follow: recentchanges, poll_interval_ms: 100 }' });
  try {
    const feed = c.app.changeFeeds.feeds.get('example.wiki')!;
    await until(() => feed.stats().watermark !== undefined, 10_000, 'the follower to start');
    await wiki.close();
    await until(() => feed.stats().errors >= 2, 10_000, 'failed polls to be counted');
    assert.match(feed.stats().lastError ?? '', /origin|ECONNREFUSED|fetch failed/i);
    // Cascade itself still answers.
    assert.equal((await c.fetch('/metrics')).status, 200);
    wiki = await startWiki({ dbPath, port, domain: 'example.wiki' });
    const r = await fetch(`${wiki.url}/w/api.php`, { method: 'POST', body: new URLSearchParams({ action: 'edit', title: 'Back again', text: 'Back.', format: 'json', formatversion: '2' }) });
    const rev = ((await r.json()) as { edit: { newrevid: number } }).edit.newrevid;
    // Back-off is capped at 30 s; the change arrives after the next successful poll.
    await waitFor(c, 'mediawiki.revision-create', (e) => e.rev_id === rev, 'the edit made after the outage');
  } finally {
    await c.close();
    await wiki.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('origin.changes is validated with file and line', async () => {
  const { configFromYaml } = await import('../../src/config/index.ts');
  const yaml = 'default_domain: w.test\ndomains:\n  w.test:\n    origin:\n      url: http://127.0.0.1:1\n      changes: { follow: sometimes }\n';
  assert.throws(() => configFromYaml(yaml, 'bad.yaml', {}), (e: Error) => /bad\.yaml:6:\d+: .*follow/.test(e.message));
  const ok = configFromYaml(yaml.replace('sometimes', 'recentchanges'), 'ok.yaml', {});
  assert.deepEqual(ok.domains['w.test'].origin.changes, { follow: 'recentchanges', poll_interval_ms: 1000, lookback_seconds: 10, batch: 500 });
  const old = configFromYaml('default_domain: w.test\ndomains:\n  w.test:\n    origin: { url: "http://127.0.0.1:1" }\n', 'old.yaml', {});
  assert.equal(old.domains['w.test'].origin.changes?.follow, 'off', 'an old config without changes keeps working: nothing followed');
});
