// The HTTP front's lean paths: default headers added at writeHead (a handler's own value
// wins), precomputed heads with a per-request x-request-id, cached route matches, metrics
// series without per-call keys.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Router, type Handler, type RequestContext } from '../../src/router/router.ts';
import { createHttpServer, DEFAULT_HEADERS, precomputeHeaders, writePrecomputed } from '../../src/router/server.ts';
import { Histogram, metrics, MetricsRegistry } from '../../src/router/metrics.ts';

async function serve(r: Router, onResponse?: Parameters<typeof createHttpServer>[0]['onResponse']) {
  const server = createHttpServer({ router: r, ...(onResponse ? { onResponse } : {}) });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

describe('server: default headers and precomputed heads', () => {
  it('adds the defaults to every kind of response; a handler value wins; precomputed heads carry each request its own id', async () => {
    const head = precomputeHeaders([
      ['content-type', 'text/plain'],
      ['content-length', 2],
      ['access-control-expose-headers', 'etag, x-own'],
    ]);
    const r = new Router();
    // Returns what res.end() returns (the response), as handlers written loosely do.
    r.add('GET', '/implicit', ((ctx: RequestContext) => ctx.res.end('ok')) as unknown as Handler);
    r.add('GET', '/own-csp', (ctx) => {
      ctx.res.setHeader('content-security-policy', "script-src 'self'");
      ctx.res.writeHead(200, { 'content-type': 'text/plain' });
      ctx.res.end('ok');
    });
    r.add('GET', '/pre', (ctx) => {
      writePrecomputed(ctx.res, 200, head);
      ctx.res.end(ctx.query.get('x') ?? 'ok');
    });
    r.add('GET', '/async', async (ctx) => {
      await new Promise((res) => setTimeout(res, 5));
      ctx.res.end('late');
    });
    const seen: string[] = [];
    const s = await serve(r, (ctx) => seen.push(`${ctx.route} ${ctx.res.statusCode}`));
    try {
      for (const path of ['/implicit', '/own-csp', '/pre', '/async']) {
        const res = await fetch(s.base + path);
        assert.equal(res.status, 200, path);
        for (const [k, v] of DEFAULT_HEADERS) {
          if (path === '/own-csp' && k === 'content-security-policy') continue;
          if (path === '/pre' && k === 'access-control-expose-headers') continue;
          assert.equal(res.headers.get(k), v, `${path}: ${k}`);
        }
        assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, path);
        await res.arrayBuffer();
      }
      const own = await fetch(`${s.base}/own-csp`);
      assert.equal(own.headers.get('content-security-policy'), "script-src 'self'");
      const a = await fetch(`${s.base}/pre`, { headers: { 'x-request-id': 'first-id' } });
      const b = await fetch(`${s.base}/pre`, { headers: { 'x-request-id': 'second-id' } });
      assert.equal(a.headers.get('x-request-id'), 'first-id');
      assert.equal(b.headers.get('x-request-id'), 'second-id');
      assert.equal(a.headers.get('access-control-expose-headers'), 'etag, x-own');
      // One value per header name: the precomputed head replaces the default, it does not add to it.
      assert.equal(a.headers.get('content-type'), 'text/plain');
      assert.equal(await a.text(), 'ok');
      const q = await fetch(`${s.base}/pre?x=hi`);
      assert.equal(await q.text(), 'hi');
      // Problems and 404s get them too, and every finished request is observed once.
      const nf = await fetch(`${s.base}/nothing`);
      assert.equal(nf.status, 404);
      assert.equal(nf.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(nf.headers.get('x-request-id'));
      await nf.arrayBuffer();
      assert.deepEqual(seen.slice(0, 4), ['/implicit 200', '/own-csp 200', '/pre 200', '/async 200']);
      assert.equal(seen.at(-1), 'unmatched 404');
    } finally {
      s.close();
    }
  });
});

describe('router: cached matches', () => {
  it('returns the same frozen match for a path, and forgets matches when routes change', () => {
    const r = new Router();
    const h1 = () => {};
    const h2 = () => {};
    r.add('GET', '/{domain}/v1/page/html/{title}', h1);
    const a = r.find('GET', '/d/v1/page/html/Caf%C3%A9');
    const b = r.find('GET', '/d/v1/page/html/Caf%C3%A9');
    assert.ok(a && 'handler' in a);
    assert.equal(a, b);
    assert.deepEqual(a.params, { domain: 'd', title: 'Café' });
    assert.ok(Object.isFrozen(a.params));
    // Method-specific: a PUT on the same path is not the GET's match.
    assert.ok(r.find('PUT', '/d/v1/page/html/Caf%C3%A9') && 'allowed' in r.find('PUT', '/d/v1/page/html/Caf%C3%A9')!);
    r.add('GET', '/{domain}/v1/page/html/Caf%C3%A9', h2);
    const c = r.find('GET', '/d/v1/page/html/Caf%C3%A9');
    assert.ok(c && 'handler' in c);
    assert.equal(c.handler, h2, 'a literal route added later wins over the cached parameter match');
    // Distinct paths beyond the cache size still match correctly.
    for (let i = 0; i < 5000; i++) {
      const m = r.find('GET', `/d/v1/page/html/T${i}`);
      assert.ok(m && 'handler' in m && m.params.title === `T${i}`);
    }
  });
});

describe('metrics: series', () => {
  it('numbers and their strings are one series; observe3 and observe agree; buckets render cumulatively', () => {
    const reg = new MetricsRegistry();
    const h: Histogram = reg.histogram('req_seconds', 'help', ['route', 'method', 'status'], [0.001, 0.01]);
    h.observe3('/a', 'GET', 200, 0.0005);
    h.observe(['/a', 'GET', '200'], 0.005);
    h.observe3('/a', 'GET', '200', 0.5);
    h.observe3('/a', 'GET', 404, 0.0001);
    assert.equal(h.count(['/a', 'GET', 200]), 3);
    assert.equal(h.count(['/a', 'GET', '404']), 1);
    const text = reg.render();
    assert.match(text, /req_seconds_bucket\{route="\/a",method="GET",status="200",le="0.001"\} 1\n/);
    assert.match(text, /req_seconds_bucket\{route="\/a",method="GET",status="200",le="0.01"\} 2\n/);
    assert.match(text, /req_seconds_bucket\{route="\/a",method="GET",status="200",le="\+Inf"\} 3\n/);
    assert.equal(text.match(/status="200",le="0.001"/g)?.length, 1, 'one series for 200 and "200"');
    const c = reg.counter('hits_total', 'help', ['endpoint', 'outcome']);
    const hit = c.labels(['html', 'hit']);
    hit.inc();
    hit.inc(2);
    c.inc(['html', 'hit']);
    assert.equal(c.get(['html', 'hit']), 4);
    assert.match(reg.render(), /hits_total\{endpoint="html",outcome="hit"\} 4\n/);
  });
});

describe('metrics: event-loop delay', () => {
  it('reports a blocked loop, and resets at each scrape', async () => {
    metrics.render();
    await new Promise((r) => setTimeout(r, 60)); // the first interval after a reset is not recorded
    const until = performance.now() + 120;
    while (performance.now() < until); // block the loop
    await new Promise((r) => setTimeout(r, 60));
    const max = (text: string) => Number(/^cascade_event_loop_delay_seconds\{quantile="1"\} (\S+)$/m.exec(text)?.[1]);
    const first = max(metrics.render());
    assert.ok(first >= 0.08 && first < 5, String(first));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(max(metrics.render()) < first, 'the next scrape no longer sees the blocked interval');
  });
});
