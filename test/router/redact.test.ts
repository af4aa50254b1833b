// Public error details never name internal hosts or ports; internal callers and the log get
// the full detail; log lines stay bounded whatever the request carried.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DetailRedactor } from '../../src/router/redact.ts';
import { createLogger, MAX_FIELD } from '../../src/util/logger.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { CascadeError, Errors } from '../../src/errors/index.ts';
import type { App } from '../../src/app.ts';

describe('DetailRedactor', () => {
  const r = new DetailRedactor(['origin.internal', 'example.wiki']);
  it('hides every address in server errors', () => {
    const cases: [string, string][] = [
      ['origin origin.internal failed: connect ECONNREFUSED 127.0.0.1:7321', 'origin [internal address] failed: connect ECONNREFUSED [internal address]'],
      ['fetch http://10.1.2.3:8080/w/rest.php/v1/page failed', 'fetch [internal address] failed'],
      ['connect ECONNREFUSED ::1:7321', 'connect ECONNREFUSED [internal address]'],
      ['connect ECONNREFUSED [fe80::1%eth0]:80', 'connect ECONNREFUSED [internal address]'],
      ['getaddrinfo ENOTFOUND localhost:5432', 'getaddrinfo ENOTFOUND [internal address]'],
      ['timeout after 12:30:45', 'timeout after 12:30:45'],
    ];
    for (const [detail, want] of cases) assert.equal(r.redact(detail, 502), want);
  });
  it('hides URLs and internal host names in client errors, keeps what the client sent', () => {
    assert.equal(r.redact('origin page: HTTP 404 (see https://origin.internal/w/x)', 404), 'origin page: HTTP 404 (see [internal address])');
    assert.equal(r.redact('User:127.0.0.1 has been deleted', 404), 'User:127.0.0.1 has been deleted');
    assert.equal(r.redact('origin.internal:7321 refused', 400), '[internal address] refused');
  });
  it('copies the error only when something changed, extras included', () => {
    const plain = new CascadeError(Errors.notFound, 'no route for /x');
    assert.equal(r.apply(plain), plain);
    const leaky = new CascadeError(Errors.badGateway, 'connect ECONNREFUSED 127.0.0.1:9', { extra: { upstream: 'http://127.0.0.1:9/', n: 1 } });
    const pub = r.apply(leaky).toProblem();
    assert.equal(pub.detail, 'connect ECONNREFUSED [internal address]');
    assert.equal(pub.upstream, '[internal address]');
    assert.equal(pub.n, 1);
    assert.equal(pub.status, 502);
    assert.equal(pub.code, Errors.badGateway.code);
  });
});

describe('log lines', () => {
  it('cut every field to about 2 KB', () => {
    const written: string[] = [];
    createLogger({ destination: { write: (s: string) => void written.push(s) } })('request failed', { detail: 'x'.repeat(100_000), event: { nested: 'y'.repeat(100_000) }, n: 5 });
    assert.equal(written.length, 1);
    const line = written[0];
    assert.ok(line.length < 3 * MAX_FIELD, `line of ${line.length}`);
    const j = JSON.parse(line) as Record<string, unknown>;
    assert.match(j.detail as string, /^x{2048}… \[97952 more characters\]$/);
    assert.equal(j.n, 5);
    assert.equal(typeof j.event, 'string');
  });
});

describe('error details over HTTP', () => {
  let t: TestApp;
  let app: App;
  let dead: Server;
  let deadPort: number;
  const lines: string[] = [];
  before(async () => {
    // A port that refuses: listen, note it, close.
    dead = createServer();
    await new Promise<void>((res) => dead.listen(0, '127.0.0.1', res));
    deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((res) => dead.close(() => res()));
    t = await startTestApp('redact', `domains:\n  example.wiki: { origin: { url: "http://127.0.0.1:${deadPort}" } }\n`, {
      logger: createLogger({ destination: { write: (s: string) => void lines.push(s) } }),
    });
    app = t.app;
  });
  after(() => t?.close());

  it('an unreachable origin: external callers see no address, internal callers the reason, the log the address', async () => {
    {
      const ext = await fetch(`${app.url}/example.wiki/v1/page/html/Foo`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
      assert.ok(ext.status >= 500, String(ext.status));
      assert.equal(ext.headers.get('content-type'), 'application/problem+json');
      const extBody = await ext.text();
      assert.doesNotMatch(extBody, /127\.0\.0\.1|ECONNREFUSED [^[]/, extBody);
      assert.ok(!extBody.includes(String(deadPort)), extBody);
      assert.match(extBody, /"detail":"[^"]+"/);
      const int = await fetch(`${app.url}/example.wiki/v1/page/html/Foo`);
      const intBody = await int.text();
      assert.ok(int.status >= 500);
      assert.match(intBody, /ECONNREFUSED/, intBody);
      const logged = lines.filter((l) => l.includes('request failed'));
      assert.ok(logged.some((l) => l.includes(`127.0.0.1:${deadPort}`)), 'the log has the full detail');
      for (const l of lines) assert.ok(l.length < 8 * MAX_FIELD, `log line of ${l.length}`);
    }
  });
});
