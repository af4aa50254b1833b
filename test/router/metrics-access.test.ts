// /metrics is an operator surface: internal callers and the admin token only, unless
// metrics.public opens it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Router } from '../../src/router/router.ts';
import { createHttpServer } from '../../src/router/server.ts';
import { MetricsRegistry, mountMetrics } from '../../src/router/metrics.ts';

const TOKEN = 'metrics-admin-token-0123456789';

async function serve(access: Parameters<typeof mountMetrics>[2]) {
  const reg = new MetricsRegistry();
  reg.counter('cascade_test_total', 'a test counter', []).inc([]);
  const r = new Router();
  mountMetrics(r, reg, access);
  const server = createHttpServer({ router: r, internalToken: TOKEN });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    get: async (headers: Record<string, string>) => {
      const res = await fetch(`${base}/metrics`, { headers });
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    },
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

describe('/metrics access', () => {
  it('private by default: loopback and the admin token read it, external callers get 403 problem+json', async () => {
    const s = await serve({ token: TOKEN });
    try {
      const direct = await s.get({});
      assert.equal(direct.status, 200);
      assert.match(direct.text, /cascade_test_total 1/);
      const ext = await s.get({ 'x-forwarded-for': '203.0.113.4' });
      assert.equal(ext.status, 403);
      assert.equal(ext.type, 'application/problem+json');
      const p = JSON.parse(ext.text) as Record<string, string>;
      assert.equal(p.code, 'CASCADE_METRICS_FORBIDDEN');
      assert.ok(p.type && p.title && p.detail);
      assert.doesNotMatch(ext.text, /cascade_test_total/);
      assert.equal((await s.get({ 'x-forwarded-for': '203.0.113.4', authorization: `Bearer ${TOKEN}` })).status, 200);
      assert.equal((await s.get({ 'x-forwarded-for': '203.0.113.4', 'x-cascade-internal': TOKEN })).status, 200);
      assert.equal((await s.get({ 'x-forwarded-for': '203.0.113.4', authorization: `Bearer ${TOKEN}x` })).status, 403);
      assert.equal((await s.get({ 'x-forwarded-for': '203.0.113.4', authorization: 'Bearer ' })).status, 403);
    } finally {
      s.close();
    }
  });
  it('without an admin token only internal callers read it', async () => {
    const s = await serve({});
    try {
      assert.equal((await s.get({ forwarded: 'for=203.0.113.4', authorization: 'Bearer undefined' })).status, 403);
      assert.equal((await s.get({})).status, 200);
    } finally {
      s.close();
    }
  });
  it('metrics.public opens it to everyone', async () => {
    const s = await serve({ public: true });
    try {
      assert.equal((await s.get({ 'x-real-ip': '203.0.113.4' })).status, 200);
    } finally {
      s.close();
    }
  });
});
