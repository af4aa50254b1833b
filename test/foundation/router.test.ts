import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from '../../src/router/router.ts';
import { createHttpServer } from '../../src/router/server.ts';
import { CascadeError, Errors } from '../../src/errors/index.ts';
import type { AddressInfo } from 'node:net';

const noop = () => {};

test('literal segments win over parameters, params are decoded', () => {
  const r = new Router();
  r.add('GET', '/{domain}/v1/page/html/{title}', noop);
  r.add('GET', '/{domain}/v1/page/html/{title}/', noop);
  r.add('GET', '/{domain}/v1/page/html/{title}/{revision}', noop);
  r.add('GET', '/{domain}/v1/page/title/', noop);
  const m = r.find('GET', '/en.wiki/v1/page/html/Caf%C3%A9');
  assert.ok(m && 'handler' in m);
  assert.deepEqual(m.params, { domain: 'en.wiki', title: 'Café' });
  assert.equal(m.route, '/{domain}/v1/page/html/{title}');
  const list = r.find('GET', '/en.wiki/v1/page/html/X/');
  assert.ok(list && 'handler' in list);
  assert.equal(list.route, '/{domain}/v1/page/html/{title}/');
  const rev = r.find('GET', '/en.wiki/v1/page/html/X/42');
  assert.ok(rev && 'handler' in rev);
  assert.equal(rev.params.revision, '42');
  assert.equal(r.find('GET', '/en.wiki/v1/page/nothing'), undefined);
});

test('rest parameters take the remainder; wrong methods list what is allowed', () => {
  const r = new Router();
  r.add(['GET', 'PUT'], '/{domain}/sys/{+path}', noop);
  const m = r.find('GET', '/d/sys/a/b%2Fc/d');
  assert.ok(m && 'handler' in m);
  assert.equal(m.params.path, 'a/b/c/d');
  const head = r.find('HEAD', '/d/sys/x');
  assert.ok(head && 'handler' in head, 'HEAD falls back to GET');
  const del = r.find('DELETE', '/d/sys/x');
  assert.ok(del && 'allowed' in del);
  assert.deepEqual(del.allowed.sort(), ['GET', 'PUT']);
});

test('the server answers problem+json, sets request ids and security headers', async () => {
  const r = new Router();
  r.add('GET', '/boom', () => {
    throw new CascadeError(Errors.badRequest, 'bad thing');
  });
  r.add('GET', '/crash', () => {
    throw new Error('secret internals');
  });
  r.add('GET', '/who', (ctx) => {
    ctx.res.end(String(ctx.internal));
  });
  const server = createHttpServer({ router: r });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const a = await fetch(`${base}/boom`, { headers: { 'x-request-id': 'abc-1' } });
    assert.equal(a.status, 400);
    assert.equal(a.headers.get('content-type'), 'application/problem+json');
    assert.equal(a.headers.get('x-request-id'), 'abc-1');
    assert.equal(a.headers.get('x-content-type-options'), 'nosniff');
    const body = (await a.json()) as Record<string, unknown>;
    assert.equal(body.code, 'CASCADE_BAD_REQUEST');
    assert.equal(body.detail, 'bad thing');

    const c = await fetch(`${base}/crash`);
    assert.equal(c.status, 500);
    const cb = await c.text();
    assert.ok(!cb.includes('secret internals'), 'internal error details are not leaked');
    assert.match(c.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);

    const n = await fetch(`${base}/nope`);
    assert.equal(n.status, 404);
    const m = await fetch(`${base}/boom`, { method: 'POST' });
    assert.equal(m.status, 405);
    assert.equal(m.headers.get('allow'), 'GET');

    assert.equal(await (await fetch(`${base}/who`)).text(), 'true');
    assert.equal(await (await fetch(`${base}/who`, { headers: { 'x-forwarded-for': '1.2.3.4' } })).text(), 'false');
    const opt = await fetch(`${base}/who`, { method: 'OPTIONS' });
    assert.equal(opt.status, 204);
    assert.match(opt.headers.get('access-control-expose-headers') ?? '', /etag/i);
  } finally {
    server.close();
    server.closeAllConnections();
  }
});
