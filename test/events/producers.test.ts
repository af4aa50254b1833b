// Producer authorization on POST /v1/events: networks, bearer tokens, internal streams, the
// default for configs without `events.producers`, and config errors. Real HTTP front, real
// SQLite log; clients on other addresses are real sockets bound to 127.0.0.2 or this host's
// own non-loopback address.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { randomUUID } from 'node:crypto';
import { corpusPath } from '../helpers/corpus.ts';
import { startIntake, type IntakeFixture } from './intake-fixture.ts';
import { configFromYaml, ConfigError } from '../../src/config/index.ts';
import { openEventBus, checkEventsConfig } from '../../src/events/index.ts';
import { eventBusShared } from '../../src/config/shared.ts';
import type { CascadeConfig } from '../../src/config/index.ts';
import { loadCheckedConfig } from '../../src/config/check.ts';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCHEMA_DIR = corpusPath('events', 'schemas');
// Any stream admits the test schema, so authorization is the only thing that differs.
const STREAMS = { '/.*/': { schema_title: ['test/event'] } };
const TOKEN = 'tok-' + randomUUID();

function ev(stream: string): Record<string, unknown> {
  return { $schema: '/test/event/1.0.0', meta: { stream, id: randomUUID(), dt: new Date().toISOString() }, test: 'producer test' };
}

/** This host's first non-loopback IPv4 address (a client that is not loopback), if it has one. */
const externalAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> | undefined;
}

/** POST with a chosen source address and headers (fetch cannot bind the client side). */
function post(url: string, body: unknown, o: { from?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL('/v1/events', url);
  if (o.from && o.from !== '127.0.0.1') u.hostname = o.from === '127.0.0.2' ? '127.0.0.1' : o.from;
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(u, { method: 'POST', localAddress: o.from, headers: { 'content-type': 'application/json', 'content-length': data.length, ...o.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode!, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('producer authorization: default (no events.producers in the config)', () => {
  let fx: IntakeFixture;
  const logged: string[] = [];
  before(async () => {
    fx = await startIntake(
      { schema_base_uris: [SCHEMA_DIR], streams: { ...STREAMS, 'mediawiki.revision-create': { schema_title: 'test/event' } } },
      { producers: null, host: '0.0.0.0', logger: (msg) => logged.push(msg) },
    );
  });
  after(() => fx.close());

  it('loads with a warning that says what to add', () => {
    const w = logged.find((m) => m.includes('events.producers is not set'));
    assert.ok(w, `a warning, got ${JSON.stringify(logged)}`);
    assert.match(w, /only loopback may produce mediawiki\.\*/);
  });

  it('loopback may produce mediawiki.* and nothing else', async () => {
    const ok = await post(fx.url, ev('mediawiki.revision-create'));
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const other = await post(fx.url, ev('test.event'));
    assert.equal(other.status, 403);
    assert.equal(other.headers['content-type'], 'application/problem+json');
    assert.equal(other.body?.code, 'CASCADE_EVENTS_PRODUCER_FORBIDDEN');
    assert.equal((await fx.records('test.event')).length, 0);
  });

  it('internal streams are refused over HTTP even from loopback', async () => {
    for (const stream of ['resource_change', 'change-prop.retry.page_edit', 'change-prop.transcludes.continue', 'change-prop.error.page_edit']) {
      const r = await post(fx.url, ev(stream));
      assert.equal(r.status, 403, stream);
      assert.match(String(r.body?.detail), /internal streams/);
      assert.equal((await fx.records(stream)).length, 0, stream);
    }
  });

  it('a request forwarded by an undeclared proxy on loopback is not loopback', async () => {
    const forwardings: Record<string, string>[] = [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }, { 'x-real-ip': '203.0.113.9' }];
    for (const h of forwardings) {
      const r = await post(fx.url, ev('mediawiki.revision-create'), { headers: h });
      assert.equal(r.status, 403, JSON.stringify(h));
    }
  });

  it('a client on another address may produce nothing', { skip: externalAddress ? false : 'this host has no non-loopback IPv4 address' }, async () => {
    const r = await post(fx.url, ev('mediawiki.revision-create'), { from: externalAddress });
    assert.equal(r.status, 403);
    assert.match(String(r.body?.detail), new RegExp(externalAddress!.replace(/\./g, '\\.')));
  });

  it('Cascade\'s own producer still produces internal streams', async () => {
    await fx.bus.producer.produce([ev('resource_change')]);
    assert.equal((await fx.records('resource_change')).length, 1);
  });
});

describe('producer authorization: networks, tokens, internal streams', () => {
  let fx: IntakeFixture;
  before(async () => {
    fx = await startIntake(
      { schema_base_uris: [SCHEMA_DIR], streams: STREAMS },
      {
        host: '0.0.0.0',
        env: { PRODUCER_TOKEN: TOKEN },
        producers: [
          { streams: ['/^mediawiki\\./'], from: ['loopback'] },
          { streams: ['from.lan'], from: [`${externalAddress ?? '192.0.2.1'}/24`] },
          { streams: ['only.127-0-0-2'], from: ['127.0.0.2'] },
          { streams: ['/^tok\\./', 'change-prop.retry.opened'], tokens: [{ env: 'PRODUCER_TOKEN' }] },
          { streams: ['change-prop.retry.opened'], tokens: [{ env: 'PRODUCER_TOKEN' }], internal: true },
          { streams: ['/.*/'], from: ['any'], tokens: [{ env: 'PRODUCER_TOKEN' }] },
        ],
      },
    );
  });
  after(() => fx.close());

  it('a bearer token opens its streams; none or a wrong one is 401 with WWW-Authenticate', async () => {
    const none = await post(fx.url, ev('tok.a'));
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    assert.equal(none.body?.code, 'CASCADE_EVENTS_PRODUCER_UNAUTHENTICATED');
    const wrong = await post(fx.url, ev('tok.a'), { headers: { authorization: 'Bearer not-the-token-at-all' } });
    assert.equal(wrong.status, 401);
    const ok = await post(fx.url, ev('tok.a'), { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal((await fx.records('tok.a')).length, 1);
  });

  it('a valid token does not open internal streams unless a rule says internal: true', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const closed = await post(fx.url, ev('change-prop.retry.other'), { headers: auth });
    assert.equal(closed.status, 403, 'matched by /.*/ but internal');
    const rc = await post(fx.url, ev('resource_change'), { headers: auth });
    assert.equal(rc.status, 403);
    const opened = await post(fx.url, ev('change-prop.retry.opened'), { headers: auth });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
  });

  it('a batch with one refused stream is refused whole: nothing stored', async () => {
    const r = await post(fx.url, [ev('mediawiki.x'), ev('mediawiki.x'), ev('resource_change')]);
    assert.equal(r.status, 403);
    assert.match(String(r.body?.detail), /"resource_change"/);
    assert.equal((await fx.records('mediawiki.x')).length, 0);
    const ok = await post(fx.url, [ev('mediawiki.x'), ev('mediawiki.x')]);
    assert.equal(ok.status, 201);
  });

  it('networks: an address rule admits only that address', async () => {
    const from2 = await post(fx.url, ev('only.127-0-0-2'), { from: '127.0.0.2' });
    assert.equal(from2.status, 201, JSON.stringify(from2.body));
    const from1 = await post(fx.url, ev('only.127-0-0-2'));
    // Loopback without a token: the token rule (/.*/) would admit it, so 401 tells it to authenticate.
    assert.equal(from1.status, 401);
  });

  it('networks: a CIDR admits its clients, loopback is not in it', { skip: externalAddress ? false : 'this host has no non-loopback IPv4 address' }, async () => {
    const lan = await post(fx.url, ev('from.lan'), { from: externalAddress });
    assert.equal(lan.status, 201, JSON.stringify(lan.body));
    const mw = await post(fx.url, ev('mediawiki.y'), { from: externalAddress });
    assert.equal(mw.status, 401, 'loopback-only stream from the LAN: only the token rule could admit it');
  });
});

describe('producer authorization behind a trusted proxy', () => {
  let fx: IntakeFixture;
  before(async () => {
    fx = await startIntake(
      { schema_base_uris: [SCHEMA_DIR], streams: STREAMS },
      { trustedProxies: ['127.0.0.1'], producers: [{ streams: ['/^mediawiki\\./'], from: ['loopback', '198.51.100.0/24'] }] },
    );
  });
  after(() => fx.close());

  it('network rules see the client the trusted proxy names', async () => {
    const lan = await post(fx.url, ev('mediawiki.a'), { headers: { 'x-forwarded-for': '198.51.100.7' } });
    assert.equal(lan.status, 201, JSON.stringify(lan.body));
    const outside = await post(fx.url, ev('mediawiki.a'), { headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(outside.status, 403);
    assert.match(String(outside.body?.detail), /203\.0\.113\.9/);
    const spoofed = await post(fx.url, ev('mediawiki.a'), { headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' } });
    assert.equal(spoofed.status, 403, 'only the hop the trusted proxy saw counts');
    const direct = await post(fx.url, ev('mediawiki.a'));
    assert.equal(direct.status, 201, 'the proxy host itself, no forwarding header');
  });
});

describe('producer config', () => {
  const base = (producers: unknown) =>
    JSON.stringify({ data_dir: '/tmp/unused', default_domain: 'w', domains: { w: { origin: { url: 'http://127.0.0.1:1' } } }, events: { producers } });

  it('a bad network is refused with the setting named', () => {
    assert.throws(() => configFromYaml(base([{ streams: ['a'], from: ['10.0.0.0/8', 'everyone'] }]), 'c.yaml', {}), (e: unknown) => e instanceof ConfigError && /c\.yaml:\d+:\d+: events\.producers\.0\.from\.1/.test(e.message));
    assert.throws(() => configFromYaml(base([{ streams: ['a'] }]), 'c.yaml', {}), ConfigError, 'a rule needs from or tokens');
  });

  it('a CIDR that parses but is wrong, or a missing token variable, fails the start naming it', async () => {
    assert.throws(() => configFromYaml(base([{ streams: ['a'], from: ['10.0.0.0/33'] }]), 'c.yaml', {}), ConfigError, 'prefix beyond /32');
    assert.throws(() => configFromYaml(base([{ streams: ['a'], from: ['300.1.1.1'] }]), 'c.yaml', {}), ConfigError, 'octet beyond 255');
    const bad = configFromYaml(base([{ streams: ['a'], from: ['1:2:3:4:5:6:7:8:9'] }]), 'c.yaml', {});
    await assert.rejects(openEventBus(bad.events, eventBusShared(bad)), (e: unknown) => e instanceof ConfigError && /events\.producers\.0\.from.*1:2:3:4:5:6:7:8:9/.test(e.message));
    const noEnv = configFromYaml(base([{ streams: ['a'], tokens: [{ env: 'NO_SUCH_TOKEN_VAR' }] }]), 'c.yaml', {});
    await assert.rejects(openEventBus(noEnv.events, eventBusShared(noEnv), { env: {} }), (e: unknown) => e instanceof ConfigError && /NO_SUCH_TOKEN_VAR.*not set/.test(e.message));
  });

  it('checkEventsConfig (check-config) refuses what serve would: a bad stream pattern, a missing schema directory', () => {
    const check = (c: CascadeConfig, env: NodeJS.ProcessEnv) => checkEventsConfig(c.events, eventBusShared(c), env);
    const cfg = (events: unknown) => configFromYaml(JSON.stringify({ data_dir: '/tmp/unused', default_domain: 'w', domains: { w: { origin: { url: 'http://127.0.0.1:1' } } }, events }), 'c.yaml', {});
    assert.throws(() => check(cfg({ streams: { '/a(/': { schema_title: 'x' } } }), {}), (e: unknown) => e instanceof ConfigError && /events\.streams\.\/a\(\/: not a valid stream pattern/.test(e.message));
    assert.throws(() => check(cfg({ schema_base_uris: ['builtin', '/no/such/schema/dir'] }), {}), (e: unknown) => e instanceof ConfigError && /schema_base_uris\.1: \/no\/such\/schema\/dir is not a directory/.test(e.message));
    assert.doesNotThrow(() => check(cfg({}), {}));
  });

  it('check-config names the file and line of a bad producer rule', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cascade-prodcfg-'));
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(file, ['default_domain: w', `data_dir: ${dir}`, 'domains: { w: { origin: { url: "http://127.0.0.1:1" } } }', 'changeprop: { enabled: false }', 'events:', '  producers:', '    - { streams: [a], from: [loopback] }', '    - { streams: ["/b(/"], tokens: [{ env: NO_SUCH_PRODUCER_TOKEN }] }', ''].join('\n'));
      await assert.rejects(loadCheckedConfig(file, {}), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:8:\\d+: events\\.producers\\.1`));
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
