// The in-process request/response pair (src/router/inprocess.ts) against the real thing: the
// same handlers answered over a loopback socket and in process must give the same status,
// headers and body; and the pair's own edges (streams, errors, aborts, header rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { Router, type RequestContext } from '../../src/router/router.ts';
import { createHttpServer, precomputeHeaders, readBody, sendJson, writePrecomputed } from '../../src/router/server.ts';
import { dispatchInProcess, type InProcessResponse } from '../../src/router/inprocess.ts';
import { CascadeError, Errors } from '../../src/errors/index.ts';

const HEAD = precomputeHeaders([['content-type', 'text/plain'], ['etag', '"e1"']]);

function routes(): Router {
  const r = new Router();
  r.add('POST', '/echo', async (ctx: RequestContext) => {
    const body = await readBody(ctx.req, 1024);
    const seen = { method: ctx.method, url: ctx.req.url, internal: ctx.internal, ip: ctx.clientIp, len: ctx.req.headers['content-length'], x: ctx.req.headers['x-thing'] };
    sendJson(ctx.res, 201, { got: body.toString(), seen }, { 'set-cookie': 'a=1' });
  });
  // setHeader then writeHead: the writeHead value wins; a flat array may repeat a name; a handler's own default wins.
  r.add('GET', '/merge', (ctx: RequestContext) => {
    ctx.res.setHeader('x-a', 'from-set');
    ctx.res.setHeader('x-n', 7);
    ctx.res.setHeader('access-control-allow-origin', 'https://one.example');
    ctx.res.writeHead(202, { 'x-a': 'from-writeHead', 'content-type': 'text/plain' });
    ctx.res.end('merged');
  });
  r.add('GET', '/flat', (ctx: RequestContext) => {
    ctx.res.setHeader('x-a', 'replaced');
    ctx.res.writeHead(200, ['x-a', 'one', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'content-length', '4']);
    ctx.res.end('flat');
  });
  r.add('GET', '/precomputed', (ctx: RequestContext) => {
    writePrecomputed(ctx.res, ctx.req.headers['if-none-match'] === '"e1"' ? 304 : 200, HEAD);
    ctx.res.end(ctx.method === 'HEAD' ? undefined : 'cached');
  });
  r.add('GET', '/status', (ctx: RequestContext) => {
    ctx.res.statusCode = 204;
    ctx.res.end('dropped');
  });
  r.add('GET', '/stream', async (ctx: RequestContext) => {
    ctx.res.writeHead(200, { 'content-type': 'text/plain' });
    await pipeline(Readable.from(['one ', Buffer.from('two '), 'three']), ctx.res);
  });
  r.add('GET', '/writes', (ctx: RequestContext) => {
    ctx.res.setHeader('content-type', 'text/plain');
    ctx.res.write('a');
    ctx.res.write(Buffer.from('b'));
    ctx.res.end('c');
  });
  r.add('GET', '/refused', () => {
    throw new CascadeError(Errors.badRequest, 'no thanks', { extra: { retry_after: 3 } });
  });
  r.add('GET', '/bug', () => {
    throw new Error('a bug');
  });
  r.add('GET', '/bad-header', (ctx: RequestContext) => {
    ctx.res.setHeader('x-bad', 'a\r\nb');
    ctx.res.end();
  });
  return r;
}

/** What a client sees, minus what only a socket adds (date, connection, keep-alive, framing). */
function comparable(status: number, headers: Record<string, string | string[] | undefined>, body: Buffer) {
  const h: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(headers)) if (!['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'x-request-id'].includes(k)) h[k] = v;
  return { status, headers: h, body: body.toString() };
}

test('in process and over a socket, the same handlers give the same status, headers and body', async () => {
  const server = createHttpServer({ router: routes() });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cases: { method: string; url: string; headers?: Record<string, string>; body?: string }[] = [
    { method: 'POST', url: '/echo?q=1', headers: { 'x-thing': 'T', 'content-type': 'text/plain' }, body: 'hello' },
    { method: 'GET', url: '/merge' },
    { method: 'GET', url: '/flat' },
    { method: 'GET', url: '/precomputed' },
    { method: 'GET', url: '/precomputed', headers: { 'if-none-match': '"e1"' } },
    { method: 'HEAD', url: '/precomputed' },
    { method: 'GET', url: '/status' },
    { method: 'GET', url: '/stream' },
    { method: 'HEAD', url: '/stream' },
    { method: 'GET', url: '/writes' },
    { method: 'GET', url: '/refused' },
    { method: 'GET', url: '/bug' },
    { method: 'GET', url: '/bad-header' },
    { method: 'GET', url: '/missing' },
    { method: 'DELETE', url: '/merge' },
    { method: 'OPTIONS', url: '/merge' },
  ];
  try {
    for (const c of cases) {
      const headers = { ...c.headers, 'x-request-id': 'rid-7' };
      const viaSocket = await request(base + c.url, { method: c.method as 'GET', headers, ...(c.body !== undefined ? { body: c.body } : {}) });
      const socketBody = Buffer.from(await viaSocket.body.arrayBuffer());
      const local = await dispatchInProcess(server.dispatch, { method: c.method, url: c.url, headers: { host: 'x', ...headers }, ...(c.body !== undefined ? { body: c.body } : {}) }, { timeoutMs: 5000, maxBody: 1 << 20 });
      assert.equal(local.error, undefined, `${c.method} ${c.url}`);
      assert.deepEqual(comparable(local.status, local.headers, local.body), comparable(viaSocket.statusCode, viaSocket.headers, socketBody), `${c.method} ${c.url}`);
      assert.equal(local.headers['x-request-id'], 'rid-7');
      assert.match(String(local.headers.date), /GMT$/);
    }
    // The echo saw the same request both ways; in process it is an internal caller from loopback.
    const local = await dispatchInProcess(server.dispatch, { method: 'POST', url: '/echo', headers: { 'x-thing': 'T' }, body: 'hé' }, { timeoutMs: 5000, maxBody: 1024 });
    assert.deepEqual(JSON.parse(local.body.toString()), { got: 'hé', seen: { method: 'POST', url: '/echo', internal: true, ip: '127.0.0.1', len: '3', x: 'T' } });
    const bad = await dispatchInProcess(server.dispatch, { method: 'GET', url: '/bad-header', headers: {} }, { timeoutMs: 5000, maxBody: 1024 });
    assert.equal(bad.status, 500);
    assert.equal(bad.headers['content-type'], 'application/problem+json');
  } finally {
    server.close();
  }
});

test('in process: headers cannot change once sent, a destroyed response is a failure, the body is capped, events fire', async () => {
  const r = new Router();
  const events: string[] = [];
  let lateError: unknown;
  r.add('GET', '/late', (ctx: RequestContext) => {
    ctx.res.writeHead(200);
    try {
      ctx.res.setHeader('x-late', '1');
    } catch (e) {
      lateError = e;
    }
    ctx.res.once('finish', () => events.push('finish'));
    ctx.res.once('close', () => events.push('close'));
    ctx.res.end('ok', () => events.push('end callback'));
  });
  // Fails after the head went out: the server can only abort (sendProblem destroys it).
  r.add('GET', '/abort', async (ctx: RequestContext) => {
    ctx.res.writeHead(200);
    ctx.res.write('partial');
    await Promise.resolve();
    throw new Error('midway');
  });
  r.add('GET', '/big', (ctx: RequestContext) => {
    ctx.res.end('x'.repeat(5000));
  });
  const server = createHttpServer({ router: r });
  const go = (url: string, maxBody = 1024): Promise<InProcessResponse> => dispatchInProcess(server.dispatch, { method: 'GET', url, headers: {} }, { timeoutMs: 2000, maxBody });
  const late = await go('/late');
  assert.equal(late.status, 200);
  assert.equal(late.headers['x-late'], undefined);
  assert.equal((lateError as { code?: string }).code, 'ERR_HTTP_HEADERS_SENT');
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(events, ['end callback', 'finish', 'close']);

  const aborted = await go('/abort');
  assert.equal(aborted.status, 503);
  assert.match(String(aborted.error), /aborted/);

  const big = await go('/big', 100);
  assert.equal(big.status, 200);
  assert.equal(big.body.length, 100);
});
