// The wiki's events: valid against the public MediaWiki schemas, and delivered in order after
// the intake was down (outbox with retry, surviving a wiki restart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import { corpusPath } from '../helpers/corpus.ts';
import { startWiki } from '../../src/wiki/index.ts';
import { testWiki, type Json } from './helpers.ts';
import { until as waitUntil } from '../helpers/wait.ts';
import { freePort } from '../helpers/net.ts';

type AddFormats = (ajv: Ajv) => unknown;
const addFormats: AddFormats = (ajvFormats as unknown as { default?: AddFormats }).default ?? (ajvFormats as unknown as AddFormats);
const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
const validators = new Map<string, ValidateFunction>();

/** Materialized schemas repeat fragment `$id`s inside one document: keep only the top one. */
function stripNestedIds(node: unknown, top = true): void {
  if (Array.isArray(node)) node.forEach((n) => stripNestedIds(n, false));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (!top) delete o.$id;
    for (const v of Object.values(o)) stripNestedIds(v, false);
  }
}

function validatorFor(schemaUri: string): ValidateFunction {
  let v = validators.get(schemaUri);
  if (!v) {
    const schema = JSON.parse(readFileSync(corpusPath('events', 'schemas', `${schemaUri.replace(/^\//, '')}.json`), 'utf8')) as Record<string, unknown>;
    delete schema.$schema; // names the https draft-07 meta-schema; ajv's default is draft-07
    stripNestedIds(schema);
    v = ajv.compile(schema);
    validators.set(schemaUri, v);
  }
  return v;
}

interface Receiver {
  server: Server;
  events: Json[];
  requests: number;
}

/** A small EventGate stand-in: answers 503 to the first `failFirst` requests, then 201. */
function receiver(port: number, failFirst: number): Promise<Receiver> {
  const r: Receiver = { server: createServer(), events: [], requests: 0 };
  r.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.requests++;
      if (req.url !== '/v1/events' || req.method !== 'POST') {
        res.statusCode = 404;
        res.end();
        return;
      }
      if (r.requests <= failFirst) {
        res.statusCode = 503;
        res.end('{"error":"down"}');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json[];
      r.events.push(...body);
      res.statusCode = 201;
      res.end();
    });
  });
  return new Promise((resolve) => r.server.listen(port, '127.0.0.1', () => resolve(r)));
}

const until = (cond: () => boolean, ms: number) => waitUntil(cond, ms, 'condition', 50);

test('every kind of change produces a schema-valid event, delivered in order once the intake is up', async () => {
  const port = await freePort();
  const w = await testWiki({ seed: false, eventsUrl: `http://127.0.0.1:${port}/v1/events` });
  let rec: Receiver | undefined;
  try {
    const a = await w.put('Event_page', { source: 'one', comment: 'first' });
    const rev1 = (a.body.latest as { id: number }).id;
    const b = await w.put('Event_page', { source: 'two', comment: 'second', latest: { id: rev1 } });
    const rev2 = (b.body.latest as { id: number }).id;
    await w.api({ action: 'delete', title: 'Event page', reason: 'del' }, true);
    await w.api({ action: 'undelete', title: 'Event page', reason: 'undel' }, true);
    await w.api({ action: 'move', from: 'Event page', to: 'Event page moved', reason: 'mv' }, true);
    await w.api({ action: 'revisiondelete', target: 'Event page moved', ids: String(rev1), hide: 'content|user', reason: 'rd' }, true);

    // The intake is down: nothing is lost, everything waits in the outbox (once a delivery
    // attempt has provably failed, not merely after some time).
    await until(() => w.stats().events.lastError !== undefined, 20_000);
    assert.equal(w.stats().events.pending, 7);
    assert.equal(w.stats().events.sent, 0);

    rec = await receiver(port, 1); // up, but the first request still fails with 503
    await until(() => rec!.events.length >= 7, 20_000);
    await until(() => w.stats().events.pending === 0, 2000);
    assert.ok(rec.requests >= 2, 'the 503 was retried');

    const streams = rec.events.map((e) => e.meta.stream);
    assert.deepEqual(streams, [
      'mediawiki.revision-create',
      'mediawiki.revision-create',
      'mediawiki.page-delete',
      'mediawiki.page-undelete',
      'mediawiki.page-move',
      'mediawiki.revision-create',
      'mediawiki.revision-visibility-change',
    ]);
    for (const e of rec.events) {
      const validate = validatorFor(e.$schema);
      const valid: boolean = validate(e); // (not a type guard: `e` keeps its type)
      assert.ok(valid, `${e.$schema}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(e)}`);
      assert.equal(e.meta.domain, 'example.wiki');
      assert.equal(e.database, 'examplewiki');
      assert.match(e.meta.id, /^[0-9a-f-]{36}$/);
      assert.match(e.meta.dt, /^\d{4}-\d\d-\d\dT/);
      assert.match(e.meta.uri, /^https:\/\/example\.wiki\/wiki\//);
    }
    const [c1, c2, del, undel, move, redirect, vis] = rec.events;
    assert.equal(c1.$schema, '/mediawiki/revision/create/2.0.0');
    assert.equal(c1.rev_id, rev1);
    assert.equal(c1.rev_parent_id, undefined);
    assert.equal(c1.page_title, 'Event_page');
    assert.equal(c1.page_namespace, 0);
    assert.equal(c1.comment, 'first');
    assert.equal(c1.performer.user_text, '127.0.0.1');
    assert.equal(c2.rev_id, rev2);
    assert.equal(c2.rev_parent_id, rev1);
    assert.equal(c2.rev_len, 3);
    assert.equal(c2.page_id, c1.page_id);
    assert.equal(del.$schema, '/mediawiki/page/delete/1.0.0');
    assert.equal(del.rev_id, rev2);
    assert.equal(del.rev_count, 2);
    assert.equal(undel.$schema, '/mediawiki/page/undelete/1.0.0');
    assert.equal(undel.prior_state.page_id, c1.page_id);
    assert.equal(move.$schema, '/mediawiki/page/move/1.0.0');
    assert.equal(move.page_title, 'Event_page_moved');
    assert.deepEqual(move.prior_state, { page_title: 'Event_page', page_namespace: 0, rev_id: rev2 });
    assert.equal(move.new_redirect_page.page_title, 'Event_page');
    assert.equal(redirect.page_id, move.new_redirect_page.page_id);
    assert.equal(redirect.page_is_redirect, true);
    assert.equal(vis.$schema, '/mediawiki/revision/visibility-change/1.0.0');
    assert.equal(vis.rev_id, rev1);
    assert.deepEqual(vis.visibility, { text: false, user: false, comment: true });
    assert.deepEqual(vis.prior_state, { visibility: { text: true, user: true, comment: true } });
  } finally {
    await w.close();
    if (rec) await new Promise((r) => rec!.server.close(r));
  }
});

test('undelivered events survive a wiki restart', async () => {
  const port = await freePort();
  const first = await testWiki({ seed: false, eventsUrl: `http://127.0.0.1:${port}/v1/events` });
  const dbPath = join(first.dir, 'wiki.sqlite');
  await first.put('Durable', { source: 'x' });
  await first.put('Durable_2', { source: 'y' });
  // Close the server and the database but keep the files (close() of the helper deletes them).
  await first.wiki.close();
  await new Promise((r) => first.server.close(r));
  first.server.closeAllConnections();

  const rec = await receiver(port, 0);
  const again = await startWiki({ dbPath, port: 0, seed: false, eventsUrl: `http://127.0.0.1:${port}/v1/events` });
  try {
    await until(() => rec.events.length >= 2, 10_000);
    assert.deepEqual(rec.events.map((e) => e.page_title), ['Durable', 'Durable_2']);
    for (const e of rec.events) assert.ok(validatorFor(e.$schema)(e));
  } finally {
    await again.close();
    await new Promise((r) => rec.server.close(r));
  }
});

test('events the intake rejects (4xx) are set aside, not retried forever', async () => {
  const port = await freePort();
  let calls = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      res.statusCode = 400;
      res.end('{"invalid":[]}');
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const w = await testWiki({ seed: false, eventsUrl: `http://127.0.0.1:${port}/v1/events` });
  try {
    await w.put('Rejected', { source: 'x' });
    await until(() => w.stats().events.dead === 1, 5000);
    assert.equal(w.stats().events.pending, 0);
    assert.equal(calls, 1);
    // A later event is delivered (and rejected) after it, in order: had the first been kept
    // for a retry, it would have been sent again before this one.
    await w.put('Rejected_sentinel', { source: 'y' });
    await until(() => w.stats().events.dead === 2 && w.stats().events.pending === 0, 5000);
    assert.equal(calls, 2, 'the rejected batch was not sent again');
  } finally {
    await w.close();
    await new Promise((r) => server.close(r));
  }
});
