// Rules that target Cascade itself run in process (changeprop.in_process, default on): an edit
// reaches html, summary and mobile-sections with no request to Cascade over a socket, through
// the same handlers (internal caller, x-triggered-by chain) and the same request metrics; with
// in_process off the same propagation goes over loopback HTTP (which proves the count can see it).
// Also the in-process request/response pair on its own (src/router/inprocess.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { startApp, type App } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';
import { startWiki, type WikiHandle } from '../../src/wiki/index.ts';
import { httpRequestDuration } from '../../src/router/metrics.ts';
import { Router, type RequestContext } from '../../src/router/router.ts';
import { createHttpServer, readBody, sendJson } from '../../src/router/server.ts';
import { dispatchInProcess } from '../../src/router/inprocess.ts';
import { readAll, Target, until } from './helpers.ts';
import { requireBackend } from '../helpers/backends.ts';
import { bucketsYaml, dependenciesYaml, testEventLog } from '../helpers/config-yaml.ts';
import { HostAllowList, HttpExecutor, retryAfterMs } from '../../src/changeprop/http.ts';

async function setup(inProcess: boolean, backend: 'sqlite' | 'jetstream' = 'sqlite'): Promise<{ app: App; wiki: WikiHandle; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-cp-inproc-'));
  const log = testEventLog(backend, 'cpinproc');
  const wiki = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, domain: 'example.wiki', testHooks: true, seed: true });
  const config = configFromYaml(
    `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: example.wiki
wiki: { enabled: false }
events:
  log: ${log.yaml}
  streams:
    resource_change: { schema_title: resource_change }
    mediawiki.revision-create: { schema_title: mediawiki/revision/create }
changeprop:
  in_process: ${inProcess}
  dependencies:
${dependenciesYaml('html', 'summary', 'mobile-sections')}
domains:
  example.wiki:
    origin: { url: ${JSON.stringify(wiki.url)} }
    buckets:
${bucketsYaml('html', 'summary', 'mobile-sections', 'page-meta')}
`,
    '<test>',
    {},
  );
  const app = await startApp(config, { quiet: true });
  wiki.setEventsUrl(`${app.url}/v1/events`);
  return {
    app,
    wiki,
    async close() {
      await app.close();
      await wiki.close();
      await log.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const stored = async (app: App, bucket: string, key: string) => (await app.store.getLatest('example.wiki', bucket, key))?.body().toString() ?? '';
/** Observations of the request-duration histogram whose route mentions `word` (any method, status). */
const observed = (word: string) =>
  httpRequestDuration
    .render()
    .split('\n')
    .filter((l) => l.startsWith('cascade_http_request_duration_seconds_count{') && l.includes(word))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

/** Waits until change propagation has been idle (no rule received anything new) for `quietMs`: the seed's own events done. */
async function settle(app: App, quietMs = 400): Promise<void> {
  const snap = () => JSON.stringify(Object.values(app.changeprop!.engine.stats()).map((s) => [s.received, s.succeeded + s.ignored + s.dead]));
  let last = snap();
  let since = Date.now();
  await until(() => {
    const now = snap();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
    return Date.now() - since >= quietMs;
  }, 20_000, 'change propagation to settle');
}

/** Edits Larkford in the wiki and waits for the three representations; returns the socket requests Cascade got meanwhile, the event intake's apart. */
async function propagate(app: App, wiki: WikiHandle, marker: string): Promise<{ socketRequests: string[] }> {
  await settle(app);
  const socketRequests: string[] = [];
  const onRequest = (req: { url?: string }) => {
    if (!req.url?.startsWith('/v1/events')) socketRequests.push(req.url ?? '');
  };
  // 'request' (not 'connection'): the wiki's own event POSTs to the intake may open connections.
  app.server.on('request', onRequest);
  try {
    const edit = await fetch(`${wiki.url}/w/rest.php/v1/page/Larkford`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: `'''Larkford''' is a ${marker} village on the river.\n\n== History ==\nOld mill.`, comment: 'test' }),
    });
    assert.equal(edit.status, 200);
    await until(async () => {
      for (const b of ['html', 'summary', 'mobile-sections']) if (!(await stored(app, b, 'Larkford')).includes(marker)) return false;
      return true;
    }, 15_000, 'html, summary and mobile-sections re-rendered');
  } finally {
    app.server.off('request', onRequest);
  }
  return { socketRequests };
}

for (const backend of ['sqlite', 'jetstream'] as const) {
  test(`${backend}, in process: an edit re-renders html, summary and mobile-sections with no request to Cascade over a socket; same chain, same metrics`, async (t) => {
    if (backend === 'jetstream' && !(await requireBackend(t, 'nats'))) return;
    const { app, wiki, close } = await setup(true, backend);
    try {
      const summaryBefore = observed('summary');
      const { socketRequests } = await propagate(app, wiki, 'INPROC-EDIT');
      assert.deepEqual(socketRequests, [], 'no rule request reached Cascade through a socket');
      // The server's onResponse hook counted the in-process renders like any request.
      assert.ok(observed('summary') > summaryBefore, 'the summary render is in the request metrics');
      // Same headers and semantics: the summary's resource_change carries the x-triggered-by chain.
      const dc = app.config.datacenter;
      await until(async () => {
        const ev = (await readAll(app.events.log, `${dc}.resource_change`)).findLast((e) => (e.meta as { uri: string }).uri.endsWith('/page/summary/Larkford') && e.triggered_by);
        return ev !== undefined && /^mediawiki\.revision-create:[^,]+Larkford,resource_change:https:\/\/example\.wiki\/api\/rest_v1\/page\/html\/Larkford$/.test(String(ev.triggered_by));
      }, 5000, 'a summary resource_change with the x-triggered-by chain');
      const stats = app.changeprop!.engine.stats();
      for (const [name, s] of Object.entries(stats)) assert.equal(s.dead, 0, `${name}: no dead letters`);
    } finally {
      await close();
    }
  });
}

test('in_process: false sends the same rules over loopback HTTP', async () => {
  const { app, wiki, close } = await setup(false);
  try {
    const { socketRequests } = await propagate(app, wiki, 'HTTP-EDIT');
    assert.ok(socketRequests.some((u) => u.includes('/page/summary/Larkford')), `summary re-rendered over HTTP (got ${JSON.stringify(socketRequests)})`);
  } finally {
    await close();
  }
});

test('dispatchInProcess: internal loopback caller, request id and headers through, body both ways, default headers, HEAD, streams, timeout', async () => {
  const router = new Router();
  const seen: { internal: boolean; clientIp: string; header?: string }[] = [];
  router.add('POST', '/echo', async (ctx: RequestContext) => {
    seen.push({ internal: ctx.internal, clientIp: ctx.clientIp, header: ctx.req.headers['x-triggered-by'] as string });
    const body = await readBody(ctx.req, 1024);
    sendJson(ctx.res, 201, { got: body.toString(), requestId: ctx.requestId }, { 'set-cookie': 'a=1' });
  });
  router.add('GET', '/stream', (ctx: RequestContext) => {
    ctx.res.writeHead(200, { 'content-type': 'text/plain' });
    void pipeline(Readable.from(['one ', 'two ', 'three']), ctx.res);
  });
  router.add('GET', '/never', () => new Promise<void>(() => {}));
  let responses = 0;
  const server = createHttpServer({ router, loopbackIsInternal: false, onResponse: () => responses++ });
  const post = await dispatchInProcess(server.dispatch, { method: 'POST', url: '/echo', headers: { 'x-request-id': 'rid-1', 'x-triggered-by': 'a:b' }, body: 'hello' }, { timeoutMs: 5000, maxBody: 1024 });
  assert.equal(post.status, 201);
  assert.deepEqual(JSON.parse(post.body.toString()), { got: 'hello', requestId: 'rid-1' });
  assert.equal(post.headers['x-request-id'], 'rid-1');
  assert.equal(post.headers['x-content-type-options'], 'nosniff');
  assert.equal(post.headers['set-cookie'], 'a=1');
  assert.equal(post.headers.connection, undefined);
  // Internal even where loopback callers are not (loopbackIsInternal: false): it is the process itself.
  assert.deepEqual(seen, [{ internal: true, clientIp: '127.0.0.1', header: 'a:b' }]);

  const streamed = await dispatchInProcess(server.dispatch, { method: 'GET', url: '/stream', headers: {} }, { timeoutMs: 5000, maxBody: 1024 });
  assert.equal(streamed.status, 200);
  assert.equal(streamed.body.toString(), 'one two three');
  const capped = await dispatchInProcess(server.dispatch, { method: 'GET', url: '/stream', headers: {} }, { timeoutMs: 5000, maxBody: 3 });
  assert.equal(capped.body.toString(), 'one');
  const head = await dispatchInProcess(server.dispatch, { method: 'HEAD', url: '/stream', headers: {} }, { timeoutMs: 5000, maxBody: 1024 });
  assert.equal(head.body.length, 0);

  const missing = await dispatchInProcess(server.dispatch, { method: 'GET', url: '/nope', headers: {} }, { timeoutMs: 5000, maxBody: 1024 });
  assert.equal(missing.status, 404);
  assert.match(String(missing.headers['content-type']), /problem\+json/);
  assert.equal((JSON.parse(missing.body.toString()) as { detail: string }).detail, 'no route for /nope');

  const hung = await dispatchInProcess(server.dispatch, { method: 'GET', url: '/never', headers: {} }, { timeoutMs: 50, maxBody: 1024 });
  assert.equal(hung.status, 504);
  assert.equal(hung.timedOut, true);
  await until(() => responses === 5, 2000, 'the onResponse hook ran for each finished request');
});

test('HttpExecutor with a local dispatch: only relative URIs go in process; absolute ones go over HTTP and keep the allow-list; the target checks still apply', async () => {
  const router = new Router();
  const local: string[] = [];
  router.add('GET', '/{+rest}', (ctx: RequestContext) => {
    local.push(`${ctx.path} host=${String(ctx.req.headers.host)} ua=${String(ctx.req.headers['user-agent'])} xtb=${String(ctx.req.headers['x-triggered-by'])}`);
    sendJson(ctx.res, ctx.path.endsWith('/busy') ? 503 : 200, { ok: true }, ctx.path.endsWith('/busy') ? { 'retry-after': '7' } : undefined);
  });
  const server = createHttpServer({ router });
  const target = await new Target().start();
  // Cascade's own address: nothing listens there, so a request that escaped the in-process path would fail.
  const self = 'http://127.0.0.1:9';
  const http = new HttpExecutor({ allowed: new HostAllowList([self, target.host]), baseUri: self, userAgent: 'Cascade-ChangeProp', local: server.dispatch });
  try {
    const rel = await http.send({ method: 'GET', uri: '/example.wiki/v1/page/html/A', headers: {}, query: { redirect: 'false' }, target: 'relative' }, { 'x-triggered-by': 'a:b' }, 5000);
    assert.equal(rel.status, 200);
    assert.deepEqual(local, ['/example.wiki/v1/page/html/A host=127.0.0.1:9 ua=Cascade-ChangeProp xtb=a:b']);
    // A failure keeps what the retry logic reads: status, Retry-After, the problem body.
    const busy = await http.send({ method: 'GET', uri: '/x/busy', headers: {}, query: {}, target: 'relative' }, {}, 5000);
    assert.equal(busy.status, 503);
    assert.equal(retryAfterMs(busy.headers), 7000);
    assert.deepEqual(busy.body, { ok: true });

    const abs = await http.send({ method: 'GET', uri: `${target.url}/elsewhere`, headers: {}, query: {}, target: 'fixed', origin: target.url }, {}, 5000);
    assert.equal(abs.status, 200);
    assert.equal(target.count('/elsewhere'), 1, 'an absolute URI goes over HTTP');
    assert.equal(local.length, 2);
    // Cascade's own origin written out in full is not relative: over HTTP (and here nothing listens).
    const selfAbs = await http.send({ method: 'GET', uri: `${self}/example.wiki/v1/page/html/A`, headers: {}, query: {}, target: 'fixed', origin: self }, {}, 5000);
    assert.equal(selfAbs.status, 503);
    assert.equal(local.length, 2);
    await assert.rejects(http.send({ method: 'GET', uri: 'http://127.0.0.2:1/x', headers: {}, query: {}, target: 'fixed', origin: 'http://127.0.0.2:1' }, {}, 5000), /not in changeprop.allowed_hosts/);
    // A rule's Host header naming a configured domain is kept, as over HTTP.
    const vhost = new HttpExecutor({ allowed: new HostAllowList([self]), variableHosts: new HostAllowList(['example.wiki']), baseUri: self, userAgent: 'UA', local: server.dispatch });
    assert.equal((await vhost.send({ method: 'GET', uri: '/v', headers: { Host: 'example.wiki' }, query: {}, target: 'relative' }, {}, 5000)).status, 200);
    assert.equal(local.pop(), '/v host=example.wiki ua=UA xtb=undefined');
    await vhost.close();
    // A relative template's Host header cannot name another host, in process either.
    await assert.rejects(http.send({ method: 'GET', uri: '/x', headers: { host: 'evil.example' }, query: {}, target: 'relative' }, {}, 5000), /Host header/);
    assert.equal(local.length, 2);
  } finally {
    await http.close();
    await target.close();
  }
});
