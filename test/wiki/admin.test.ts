// Admin actions over the action API (delete, undelete, move, revisiondelete) and what readers
// see afterwards; embeddedin paging (the list of transclusions change propagation fans out on).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testWiki, type TestWiki, type Json } from './helpers.ts';

let w: TestWiki;
before(async () => {
  w = await testWiki({ seed: false });
});
after(async () => {
  await w.close();
});

const latestOf = async (title: string) => ((await w.json<Json>(`/w/rest.php/v1/page/${title}/bare`)).body.latest as { id: number }).id;

test('delete → 404 everywhere; undelete → back with the same page id and revisions', async () => {
  const created = await w.put('Doomed', { source: 'one' });
  const pageId = created.body.id as number;
  const rev1 = (created.body.latest as { id: number }).id;
  await w.put('Doomed', { source: 'two', latest: { id: rev1 } });

  const del = await w.api<Json>({ action: 'delete', title: 'Doomed', reason: 'test' }, true);
  assert.equal(del.delete.title, 'Doomed');
  assert.equal(typeof del.delete.logid, 'number');
  assert.equal((await w.get('/w/rest.php/v1/page/Doomed/html')).status, 404);
  assert.equal((await w.get('/w/rest.php/v1/page/Doomed')).status, 404);
  assert.equal((await w.get(`/w/rest.php/v1/revision/${rev1}/bare`)).status, 404);
  const q = await w.api<Json>({ action: 'query', prop: 'info', titles: 'Doomed' });
  assert.equal(q.query.pages[0].missing, true);
  const again = await w.api<Json>({ action: 'delete', title: 'Doomed' }, true);
  assert.equal(again.error.code, 'missingtitle');

  const und = await w.api<Json>({ action: 'undelete', title: 'Doomed', reason: 'oops' }, true);
  assert.deepEqual(und.undelete, { title: 'Doomed', revisions: 2, fileversions: 0, reason: 'oops' });
  const back = await w.json<Json>('/w/rest.php/v1/page/Doomed');
  assert.equal(back.status, 200);
  assert.equal(back.body.id, pageId);
  assert.equal(back.body.source, 'two');
  assert.equal((await w.get(`/w/rest.php/v1/revision/${rev1}/bare`)).status, 200);
});

test('write actions must be POSTed', async () => {
  const r = await w.api<Json>({ action: 'delete', title: 'Doomed' }, false);
  assert.equal(r.error.code, 'mustbeposted');
  assert.equal((await w.get('/w/rest.php/v1/page/Doomed')).status, 200);
});

test('move leaves a redirect by default; noredirect leaves nothing', async () => {
  const created = await w.put('Old_name', { source: "'''Moved''' content" });
  const pageId = created.body.id as number;
  const before = (created.body.latest as { id: number }).id;
  const mv = await w.api<Json>({ action: 'move', from: 'Old name', to: 'New name', reason: 'rename' }, true);
  assert.deepEqual(mv.move, { from: 'Old name', to: 'New name', reason: 'rename', redirectcreated: true, moveoverredirect: false });

  const moved = await w.json<Json>('/w/rest.php/v1/page/New_name');
  assert.equal(moved.body.id, pageId);
  assert.equal(moved.body.source, "'''Moved''' content");
  assert.ok(moved.body.latest.id > before, 'a null revision records the move');
  const hist = await w.json<Json>('/w/rest.php/v1/page/New_name/history');
  assert.match(hist.body.revisions[0].comment, /moved page \[\[Old name\]\] to \[\[New name\]\]: rename/);

  const redirect = await w.json<Json>('/w/rest.php/v1/page/Old_name');
  assert.notEqual(redirect.body.id, pageId);
  assert.equal(redirect.body.source, '#REDIRECT [[New name]]');
  const html = await (await w.get('/w/rest.php/v1/page/Old_name/html')).text();
  assert.match(html, /<link rel="mw:PageProp\/redirect" href=".\/New_name"\/>/);

  const over = await w.api<Json>({ action: 'move', from: 'New name', to: 'Old name' }, true);
  assert.equal(over.error.code, 'articleexists');

  await w.put('Quiet_move', { source: 'q' });
  const quiet = await w.api<Json>({ action: 'move', from: 'Quiet move', to: 'Quietly moved', noredirect: '1' }, true);
  assert.equal(quiet.move.redirectcreated, false);
  assert.equal((await w.get('/w/rest.php/v1/page/Quiet_move')).status, 404);
  assert.equal((await w.get('/w/rest.php/v1/page/Quietly_moved')).status, 200);
});

test('revisiondelete: hidden content is 403, hidden user/comment are null; the current text cannot be hidden', async () => {
  const first = (await w.put('Secret', { source: 'private data', comment: 'oops, private' })).body.latest as { id: number };
  await w.put('Secret', { source: 'clean', comment: 'cleanup', latest: first });
  const current = await latestOf('Secret');

  const r = await w.api<Json>({ action: 'revisiondelete', type: 'revision', target: 'Secret', ids: String(first.id), hide: 'content|comment|user', suppress: 'yes', reason: 'privacy' }, true);
  assert.equal(r.revisiondelete.status, 'Success');
  assert.equal(r.revisiondelete.items[0].texthidden, true);
  assert.equal(r.revisiondelete.items[0].userhidden, true);

  const html = await w.get(`/w/rest.php/v1/revision/${first.id}/html`);
  assert.equal(html.status, 403);
  const err = (await html.json()) as Json;
  assert.equal(err.errorKey, 'rest-permission-denied-revision');
  assert.equal(err.httpCode, 403);
  assert.equal((await w.get(`/w/rest.php/v1/revision/${first.id}`)).status, 403);
  const bare = await w.json<Json>(`/w/rest.php/v1/revision/${first.id}/bare`);
  assert.equal(bare.status, 200);
  assert.equal(bare.body.user, null);
  assert.equal(bare.body.comment, null);
  const q = await w.api<Json>({ action: 'query', prop: 'revisions', revids: String(first.id), rvprop: 'ids|user|comment|content' });
  const rev = q.query.pages[0].revisions[0];
  assert.equal(rev.texthidden, true);
  assert.equal(rev.suppressed, true);
  assert.equal(rev.userhidden, true);
  assert.equal(rev.commenthidden, true);
  assert.equal(rev.slots.main.content, undefined);

  const cur = await w.api<Json>({ action: 'revisiondelete', target: 'Secret', ids: String(current), hide: 'content' }, true);
  assert.equal(cur.revisiondelete.status, 'Fail');
  assert.equal(cur.revisiondelete.items[0].errors[0].code, 'revdelete-hide-current');
  assert.equal((await w.get('/w/rest.php/v1/page/Secret/html')).status, 200);

  const shown = await w.api<Json>({ action: 'revisiondelete', target: 'Secret', ids: String(first.id), show: 'content|comment|user' }, true);
  assert.equal(shown.revisiondelete.items[0].texthidden, false);
  assert.equal((await w.get(`/w/rest.php/v1/revision/${first.id}/html`)).status, 200);
});

test('embeddedin: pages transcluding a template, paged with eicontinue, deleted pages excluded', async () => {
  await w.put('Template:Shared', { source: "''shared'' {{Inner}}" });
  await w.put('Template:Inner', { source: 'inner' });
  const users: number[] = [];
  for (let i = 0; i < 7; i++) users.push((await w.put(`User_${i}`, { source: `Page ${i} {{Shared}}` })).body.id as number);
  await w.put('Talk:User_0', { source: '{{shared}}' });
  await w.put('Unrelated', { source: 'no templates' });

  const seen: { pageid: number; ns: number; title: string }[] = [];
  let cont: string | undefined;
  let calls = 0;
  do {
    const r = await w.api<Json>({ action: 'query', list: 'embeddedin', eititle: 'Template:Shared', eilimit: '3', ...(cont ? { eicontinue: cont } : {}) });
    assert.ok(r.query.embeddedin.length <= 3);
    seen.push(...r.query.embeddedin);
    cont = r.continue?.eicontinue;
    if (cont) assert.equal(r.continue.continue, '-||');
    calls++;
  } while (cont && calls < 10);
  assert.equal(calls, 3);
  assert.deepEqual(seen.filter((p) => p.ns === 0).map((p) => p.pageid), users);
  assert.deepEqual(seen[0], { pageid: users[0], ns: 0, title: 'User 0' });
  assert.equal(seen[seen.length - 1].title, 'Talk:User 0');

  // Transitive: the pages using Shared also use Inner through it.
  const inner = await w.api<Json>({ action: 'query', list: 'embeddedin', eititle: 'Template:Inner', eilimit: 'max' });
  // 7 users, the talk page, and Template:Shared itself (MediaWiki lists it too).
  assert.equal(inner.query.embeddedin.length, 9);
  assert.ok(inner.query.embeddedin.some((p: { title: string }) => p.title === 'Template:Shared'));
  // Namespace filter, deleted pages excluded.
  await w.api({ action: 'delete', title: 'User 3' }, true);
  const main = await w.api<Json>({ action: 'query', list: 'embeddedin', eititle: 'Template:Shared', einamespace: '0', eilimit: '50' });
  assert.deepEqual(main.query.embeddedin.map((p: { pageid: number }) => p.pageid), users.filter((_, i) => i !== 3));
  assert.equal(main.continue, undefined);
  // Removing the transclusion removes the link.
  const l = await latestOf('User_1');
  await w.put('User_1', { source: 'no longer', latest: { id: l } });
  const after1 = await w.api<Json>({ action: 'query', list: 'embeddedin', eititle: 'Template:Shared', einamespace: '0', eilimit: '50' });
  assert.ok(!after1.query.embeddedin.some((p: { pageid: number }) => p.pageid === users[1]));
  const badCont = await w.api<Json>({ action: 'query', list: 'embeddedin', eititle: 'Template:Shared', eicontinue: 'garbage' });
  assert.equal(badCont.error.code, 'badcontinue');
});

test('a template edit changes the HTML of the pages that use it', async () => {
  await w.put('Template:Sig', { source: 'version one' });
  await w.put('Signed', { source: 'Text {{Sig}}' });
  assert.match(await (await w.get('/w/rest.php/v1/page/Signed/html')).text(), /version one/);
  const l = await latestOf('Template:Sig');
  await w.put('Template:Sig', { source: 'version two', latest: { id: l } });
  assert.match(await (await w.get('/w/rest.php/v1/page/Signed/html')).text(), /version two/);
});
