// The trusted-proxy model: CIDR matching, forwarding-header parsing, the resolver, and the
// matrix over a started app — who reaches /{domain}/sys/ and which clientIp a handler sees.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { cidrMatcher, parseCidr, isLoopbackIp } from '../../src/router/cidr.ts';
import { ClientResolver, forwardedChain } from '../../src/router/proxy.ts';
import { sendJson } from '../../src/router/server.ts';
import { startApp, type App } from '../../src/app.ts';
import { configFromYaml, ConfigError } from '../../src/config/index.ts';

describe('cidr', () => {
  it('matches IPv4, IPv6 and v4-mapped addresses against ranges', () => {
    const m = cidrMatcher(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', 'fe80::1']);
    for (const ip of ['10.0.0.1', '10.255.255.255', '::ffff:10.1.2.3', '192.168.1.7', '2001:db8::1', '2001:0db8:ffff::', 'fe80::1', '[2001:db8::5]']) {
      assert.equal(m(ip), true, ip);
    }
    for (const ip of ['11.0.0.1', '9.255.255.255', '192.168.1.8', '2001:db9::1', 'fe80::2', 'garbage', '', '10.0.0.1.5', '::ffff:11.0.0.1']) {
      assert.equal(m(ip), false, ip);
    }
    // v4-mapped ranges written as IPv6 match plain IPv4, and ::/0 matches everything
    assert.equal(cidrMatcher(['::ffff:127.0.0.0/104'])('127.9.9.9'), true);
    assert.equal(cidrMatcher(['::/0'])('8.8.8.8'), true);
    assert.equal(cidrMatcher(['0.0.0.0/0'])('2001:db8::1'), false);
    assert.equal(cidrMatcher([])('127.0.0.1'), false);
    // odd prefixes and host bits
    assert.equal(cidrMatcher(['10.1.2.3/15'])('10.0.200.1'), true);
    assert.equal(cidrMatcher(['10.1.2.3/15'])('10.2.0.1'), false);
    assert.equal(cidrMatcher(['2001:db8::/33'])('2001:db8:7fff::1'), true);
    assert.equal(cidrMatcher(['2001:db8::/33'])('2001:db8:8000::1'), false);
    assert.equal(cidrMatcher(['::ffff:1.2.3.4/128'])('1.2.3.4'), true);
  });

  it('refuses what is no address or range, naming it', () => {
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0/8', 'localhost', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/8x', '']) {
      assert.throws(() => parseCidr(bad), (e: Error) => e instanceof TypeError && e.message.includes(JSON.stringify(bad)), bad);
    }
    assert.equal(parseCidr('10.1.2.3/8').prefix, 104);
  });

  it('knows loopback in every spelling', () => {
    for (const ip of ['127.0.0.1', '127.8.9.1', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) assert.equal(isLoopbackIp(ip), true, ip);
    for (const ip of ['128.0.0.1', '::2', '::ffff:10.0.0.1', '127.example', undefined, '']) assert.equal(isLoopbackIp(ip), false, String(ip));
  });
});

describe('forwarding headers', () => {
  it('parses X-Forwarded-For, Forwarded and X-Real-IP into hops (nearest last), junk as undefined', () => {
    assert.deepEqual(forwardedChain('x-forwarded-for', ' 1.2.3.4 , 10.0.0.1:8080,[::1]:80, unknown'), ['1.2.3.4', '10.0.0.1', '::1', undefined]);
    assert.deepEqual(forwardedChain('x-forwarded-for', ['1.2.3.4', '5.6.7.8']), ['1.2.3.4', '5.6.7.8']);
    assert.deepEqual(
      forwardedChain('forwarded', 'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711", proto=https, for=_hidden, for="a,b"'),
      ['192.0.2.60', '2001:db8:cafe::17', undefined, undefined],
    );
    assert.deepEqual(forwardedChain('x-real-ip', '198.51.100.9'), ['198.51.100.9']);
    assert.deepEqual(forwardedChain('x-real-ip', '::ffff:198.51.100.9'), ['198.51.100.9']);
  });
});

describe('ClientResolver', () => {
  const xff = (v: string) => ({ 'x-forwarded-for': v });
  it('without trusted proxies: the peer is the client, any forwarding header makes it external', () => {
    const r = new ClientResolver();
    assert.deepEqual(r.resolve('127.0.0.1', {}), { ip: '127.0.0.1', loopback: true });
    assert.deepEqual(r.resolve('::ffff:127.0.0.1', {}), { ip: '127.0.0.1', loopback: true });
    for (const h of [xff('127.0.0.1'), { forwarded: 'for=127.0.0.1' }, { 'x-real-ip': '127.0.0.1' }, { 'x-real-ip': '' }]) {
      assert.deepEqual(r.resolve('127.0.0.1', h), { ip: '127.0.0.1', loopback: false }, JSON.stringify(h));
    }
    assert.deepEqual(r.resolve('203.0.113.5', {}), { ip: '203.0.113.5', loopback: false });
    assert.deepEqual(new ClientResolver({ loopbackIsInternal: false }).resolve('127.0.0.1', {}), { ip: '127.0.0.1', loopback: false });
  });

  it('walks trusted hops right to left; the first untrusted hop is the client', () => {
    const r = new ClientResolver({ trustedProxies: ['10.0.0.0/8', '127.0.0.2'] });
    assert.deepEqual(r.resolve('10.1.1.1', xff('203.0.113.9')), { ip: '203.0.113.9', loopback: false });
    assert.deepEqual(r.resolve('10.1.1.1', xff('203.0.113.9, 10.2.2.2')), { ip: '203.0.113.9', loopback: false });
    // a client-supplied entry left of the real client is never reached
    assert.deepEqual(r.resolve('10.1.1.1', xff('127.0.0.1, 203.0.113.9')), { ip: '203.0.113.9', loopback: false });
    // a remote proxy's "loopback" is its own loopback, not ours
    assert.deepEqual(r.resolve('10.1.1.1', xff('127.0.0.1')), { ip: '127.0.0.1', loopback: false });
    // a trusted proxy on our loopback forwarding for a loopback client
    assert.deepEqual(r.resolve('127.0.0.2', xff('127.0.0.1')), { ip: '127.0.0.1', loopback: true });
    assert.deepEqual(r.resolve('127.0.0.2', xff('198.51.100.1')), { ip: '198.51.100.1', loopback: false });
    // all hops trusted: the furthest one
    assert.deepEqual(r.resolve('10.1.1.1', xff('10.3.3.3, 10.2.2.2')), { ip: '10.3.3.3', loopback: false });
    // junk stops the walk at the trusted hop that reported it, never internal
    assert.deepEqual(r.resolve('127.0.0.2', xff('nonsense')), { ip: '127.0.0.2', loopback: false });
    // only X-Forwarded-For counts by default: another header from the trusted proxy is unreadable → external
    assert.deepEqual(r.resolve('127.0.0.2', { 'x-real-ip': '203.0.113.9' }), { ip: '127.0.0.2', loopback: false });
    assert.deepEqual(r.resolve('127.0.0.2', {}), { ip: '127.0.0.2', loopback: true });
    // untrusted peers' headers are ignored for the address and make the request external
    assert.deepEqual(r.resolve('203.0.113.1', xff('10.1.1.1')), { ip: '203.0.113.1', loopback: false });
  });

  it('counts the configured headers in their order', () => {
    const r = new ClientResolver({ trustedProxies: ['127.0.0.1'], forwardedHeaders: ['forwarded', 'x-real-ip'] });
    assert.deepEqual(r.resolve('127.0.0.1', { forwarded: 'for=198.51.100.2', 'x-real-ip': '127.0.0.1' }), { ip: '198.51.100.2', loopback: false });
    assert.deepEqual(r.resolve('127.0.0.1', { 'x-real-ip': '198.51.100.3' }), { ip: '198.51.100.3', loopback: false });
    assert.deepEqual(r.resolve('127.0.0.1', { 'x-real-ip': '127.0.0.1' }), { ip: '127.0.0.1', loopback: true });
    // X-Forwarded-For is not counted here: the request names a client we cannot read
    assert.deepEqual(r.resolve('127.0.0.1', xff('127.0.0.1')), { ip: '127.0.0.1', loopback: false });
  });
});

describe('config: http.trusted_proxies', () => {
  it('names the line of a bad range', () => {
    const yaml = `default_domain: a.wiki
http:
  trusted_proxies:
    - 10.0.0.0/8
    - 10.0.0.0/40
domains:
  a.wiki: { origin: { url: "http://127.0.0.1:9" } }
`;
    assert.throws(
      () => configFromYaml(yaml, 'c.yaml', {}),
      (e: unknown) => e instanceof ConfigError && /^c\.yaml:5:7: http\.trusted_proxies\.1: bad prefix length/.test(e.message),
    );
    const ok = configFromYaml('default_domain: a.wiki\ndomains:\n  a.wiki: { origin: { url: "http://x" } }\n', 'c.yaml', {});
    assert.deepEqual(ok.http, { trusted_proxies: [], forwarded_headers: ['x-forwarded-for'] });
  });
});

interface Answer {
  status: number;
  body: string;
}

/** A raw HTTP/1.1 request from a chosen local address (the socket peer Cascade sees). */
function raw(port: number, localAddress: string, target: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, localAddress, path: target, method: 'GET', headers: { connection: 'close', ...headers }, setHost: !('host' in headers) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The request line written as is (absolute-form targets). */
function rawLine(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (out += c));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(text);
  });
}

describe('trusted-proxy matrix against a started app', () => {
  let dir: string;
  let app: App;
  let port: number;
  const TOKEN = 'matrix-admin-token-0123456789';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cascade-proxy-'));
    const config = configFromYaml(
      `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: example.wiki
admin_token: ${TOKEN}
wiki: { enabled: false }
http:
  trusted_proxies: [127.0.0.2, 127.0.0.3]
  forwarded_headers: [x-forwarded-for, forwarded]
domains:
  example.wiki:
    origin: { url: "http://127.0.0.1:9" }
    buckets:
      html: { type: key_rev_value, compression: brotli }
      summary: { type: key_rev_value, compression: gzip }
      mobile-sections: { type: key_rev_value, compression: gzip }
      page-meta: { type: key_value, compression: none }
`,
      '<test>',
      {},
    );
    app = await startApp(config, { quiet: true });
    port = Number(new URL(app.url).port);
    app.router.add('GET', '/_test/whoami', (ctx) => sendJson(ctx.res, 200, { ip: ctx.clientIp, internal: ctx.internal }));
  });
  after(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const SYS = '/example.wiki/sys/key_value/page-meta/Nothing';
  // [peer, headers, expected clientIp, internal?]
  const cases: [string, string, Record<string, string>, string, boolean][] = [
    ['direct loopback', '127.0.0.1', {}, '127.0.0.1', true],
    ['loopback + X-Forwarded-For', '127.0.0.1', { 'x-forwarded-for': '127.0.0.1' }, '127.0.0.1', false],
    ['loopback + Forwarded', '127.0.0.1', { forwarded: 'for=127.0.0.1' }, '127.0.0.1', false],
    ['loopback + X-Real-IP', '127.0.0.1', { 'x-real-ip': '127.0.0.1' }, '127.0.0.1', false],
    ['loopback + empty X-Forwarded-For', '127.0.0.1', { 'x-forwarded-for': '' }, '127.0.0.1', false],
    ['trusted proxy, no header', '127.0.0.2', {}, '127.0.0.2', true],
    ['trusted proxy + XFF external', '127.0.0.2', { 'x-forwarded-for': '203.0.113.9' }, '203.0.113.9', false],
    ['trusted proxy + XFF loopback', '127.0.0.2', { 'x-forwarded-for': '127.0.0.1' }, '127.0.0.1', true],
    ['trusted proxy + Forwarded external', '127.0.0.2', { forwarded: 'for="203.0.113.10:555"' }, '203.0.113.10', false],
    ['trusted proxy + X-Real-IP (not counted)', '127.0.0.2', { 'x-real-ip': '127.0.0.1' }, '127.0.0.2', false],
    ['chain through two trusted proxies', '127.0.0.2', { 'x-forwarded-for': '198.51.100.4, 127.0.0.3' }, '198.51.100.4', false],
    ['spoofed loopback left of the real client', '127.0.0.2', { 'x-forwarded-for': '127.0.0.1, 198.51.100.5' }, '198.51.100.5', false],
    ['untrusted loopback peer with a chain', '127.0.0.4', { 'x-forwarded-for': '127.0.0.1, 127.0.0.2' }, '127.0.0.4', false],
    ['junk in the chain', '127.0.0.2', { 'x-forwarded-for': 'localhost' }, '127.0.0.2', false],
    ['Host header naming localhost from behind a proxy', '127.0.0.1', { host: 'localhost', 'x-forwarded-for': '203.0.113.1' }, '127.0.0.1', false],
    ['admin token through a proxy', '127.0.0.2', { 'x-forwarded-for': '203.0.113.9', 'x-cascade-internal': TOKEN }, '203.0.113.9', true],
    ['wrong admin token', '127.0.0.1', { 'x-forwarded-for': '203.0.113.9', 'x-cascade-internal': TOKEN.slice(1) + 'x' }, '127.0.0.1', false],
  ];
  for (const [name, peer, headers, ip, internal] of cases) {
    it(`${name}: clientIp ${ip}, /sys/ ${internal ? 'open' : '403'}`, async () => {
      const who = await raw(port, peer, '/_test/whoami', headers);
      assert.equal(who.status, 200);
      assert.deepEqual(JSON.parse(who.body), { ip, internal });
      const sys = await raw(port, peer, SYS, headers);
      // internal: the key does not exist (404); external: refused (403)
      assert.equal(sys.status, internal ? 404 : 403, sys.body);
      if (!internal) assert.match(sys.body, /"status":403/);
    });
  }

  it('/metrics: internal callers and the admin token only', async () => {
    assert.equal((await raw(port, '127.0.0.1', '/metrics', {})).status, 200);
    const ext = await raw(port, '127.0.0.2', '/metrics', { 'x-forwarded-for': '203.0.113.9' });
    assert.equal(ext.status, 403);
    assert.match(ext.body, /CASCADE_METRICS_FORBIDDEN/);
    assert.equal((await raw(port, '127.0.0.1', '/metrics', { 'x-real-ip': '203.0.113.9', authorization: `Bearer ${TOKEN}` })).status, 200);
  });

  it('absolute-form request targets naming loopback change nothing', async () => {
    const ext = await rawLine(port, `GET http://127.0.0.1:${port}${SYS} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.1\r\nConnection: close\r\n\r\n`);
    assert.match(ext, /^HTTP\/1\.1 (403|404) /);
    assert.doesNotMatch(ext, /^HTTP\/1\.1 [25]/);
    const viaProxy = await raw(port, '127.0.0.2', `http://localhost${SYS}`, { 'x-forwarded-for': '203.0.113.1' });
    assert.notEqual(viaProxy.status, 200);
    assert.ok(viaProxy.status < 500);
  });
});
