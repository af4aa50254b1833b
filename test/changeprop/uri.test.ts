// Exec URI templates (src/changeprop/uri.ts): event values fill a URI, never reshape it; and
// the executor's target check per template kind; and the signing of Cascade's own events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileUriTemplate } from '../../src/changeprop/uri.ts';
import { compileRequestTemplate } from '../../src/changeprop/template.ts';
import { HttpExecutor, HostAllowList } from '../../src/changeprop/http.ts';
import { EventSigner, loadSigningKey, KEY_FILE } from '../../src/changeprop/signing.ts';

const ssrf = '/127.0.0.1:7321/w/api.php?action=delete&title=Larkford&format=json&x=';
const msg = (fields: Record<string, unknown>) => ({ message: { meta: { domain: 'en.wikipedia.org' }, ...fields }, match: {} });

const expands: [string, string, Record<string, unknown>, string][] = [
  ['the reported SSRF stays one segment', '/{{message.meta.domain}}/sys/content/page/{message.t}/deleted', { meta: { domain: ssrf }, t: 'X' },
    '/%2F127.0.0.1:7321%2Fw%2Fapi.php%3Faction=delete&title=Larkford&format=json&x=/sys/content/page/X/deleted'],
  ['raw path value: / ? # \\ space encoded', '/p/{{message.t}}/q', { t: 'a/b?c#d\\e f' }, '/p/a%2Fb%3Fc%23d%5Ce%20f/q'],
  ['raw path value: valid escapes kept (pre-encoded titles)', '/p/{{message.t}}', { t: 'AC%2FDC_%C3%A9' }, '/p/AC%2FDC_%C3%A9'],
  ['raw path value: a lone % encoded', '/p/{{message.t}}', { t: '100%_sure%zz' }, '/p/100%25_sure%25zz'],
  ['raw path value: sub-delims and : @ kept', '/p/{{message.t}}', { t: "Talk:A,b;c=d&e@f!$'()*+" }, "/p/Talk:A,b;c=d&e@f!$'()*+"],
  ['encoded value: %, / and dots encoded', '/p/{message.t}', { t: '%2e./x' }, '/p/%252e.%2Fx'],
  ['plus value keeps / only', '/p/{+message.t}', { t: 'a/b?c#d' }, '/p/a/b%3Fc%23d'],
  ['optional segment', '/p{/message.t}', { t: 'a/b' }, '/p/a%2Fb'],
  ['query value cannot add a parameter or a fragment', '/p?t={{message.t}}&u=1', { t: 'a&admin=1#x' }, '/p?t=a%26admin%3D1%23x&u=1'],
  ['lone surrogates do not throw', '/p/{{message.t}}/{message.t}', { t: 'a\uD800b' }, '/p/a%EF%BF%BDb/a%EF%BF%BDb'],
  ['host from the event (variable)', '//{{message.meta.domain}}/api/rest_v1/page/html/{message.t}', { t: 'A B' }, '//en.wikipedia.org/api/rest_v1/page/html/A%20B'],
  ['scheme and host from a match', '{{message.proto}}://{{message.meta.domain}}/x/{{message.t}}', { proto: 'https', t: 'a/b' }, 'https://en.wikipedia.org/x/a%2Fb'],
  ['fixed origin', 'http://127.0.0.1:9/x/{{message.t}}', { t: '@evil.com' }, 'http://127.0.0.1:9/x/@evil.com'],
  ['plus cannot make /\\host (a backslash is a slash to URL parsers)', '/{+message.t}', { t: '\\evil.com/x' }, '/%5Cevil.com/x'],
];
for (const [name, tpl, m, want] of expands) {
  test(`uri template: ${name}`, () => {
    assert.equal(compileUriTemplate(tpl).expand(msg(m)), want);
  });
}

const refusals: [string, string, Record<string, unknown>, RegExp][] = [
  ['a dot segment', '/p/{{message.t}}/q', { t: '..' }, /'\.\.' path segment/],
  ['an encoded dot segment', '/p/{{message.t}}/q', { t: '%2e%2E' }, /path segment/],
  ['a dot segment from plus', '/p/{+message.t}', { t: 'a/../../x' }, /path segment/],
  ['an empty first segment making //host', '/{{message.t}}/v1/x', { t: '' }, /must expand to a path on Cascade/],
  ['plus making //host', '/{+message.t}', { t: '/evil.com/x' }, /must expand to a path on Cascade/],
  ['a host with userinfo', '//{{message.meta.domain}}/x', { meta: { domain: 'en.wikipedia.org@evil.com' } }, /not a host name/],
  ['a host with a path', '//{{message.meta.domain}}/x', { meta: { domain: 'evil.com/x?' } }, /not a host name/],
  ['a scheme other than http(s)', '{{message.p}}://{{message.meta.domain}}/x', { p: 'file' }, /must be http or https/],
];
for (const [name, tpl, m, re] of refusals) {
  test(`uri template refuses ${name}`, () => {
    assert.throws(() => compileUriTemplate(tpl).expand(msg(m)), re);
  });
}

test('uri template kinds: fixed (with its origin), relative, variable', () => {
  assert.deepEqual([compileUriTemplate('http://a.b:8/x/{{y}}').target, compileUriTemplate('http://a.b:8/x/{{y}}').origin], ['fixed', 'http://a.b:8']);
  assert.equal(compileUriTemplate('/sys/purge').target, 'relative');
  assert.equal(compileUriTemplate('//{{message.meta.domain}}/x').target, 'variable');
  assert.equal(compileUriTemplate('https://{{message.meta.domain}}/x').target, 'variable');
  assert.equal(compileUriTemplate('{{message.meta.uri}}').target, 'variable');
  assert.deepEqual([compileUriTemplate('//a.b/{{x}}').target, compileUriTemplate('//a.b/{{x}}').origin], ['fixed', '//a.b']);
  // A value inside the authority makes the host variable (checked against the domains when sent).
  assert.equal(compileUriTemplate('http://a.b{{x}}/').target, 'variable');
});

test('request template: no line breaks in headers, a method name only', () => {
  const t = compileRequestTemplate({ uri: '/x', method: '{{message.m}}', headers: { 'x-a': '{{message.h}}' } });
  assert.throws(() => t.expand(msg({ m: 'get', h: 'a\r\nx-injected: 1' })), /line break/);
  assert.throws(() => t.expand(msg({ m: 'GET /evil HTTP/1.1', h: 'a' })), /not an HTTP method/);
  assert.equal(t.expand(msg({ m: 'post', h: 'a' })).method, 'POST');
});

test('executor: relative URIs stay on the base, variable hosts only reach the configured domains and origins', () => {
  const http = new HttpExecutor({
    allowed: new HostAllowList(['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3', 'en.wikipedia.org']),
    variableHosts: new HostAllowList(['en.wikipedia.org', 'http://127.0.0.1:2']),
    baseUri: 'http://127.0.0.1:1',
    userAgent: 't',
  });
  const req = (uri: string, target?: 'fixed' | 'relative' | 'variable') => ({ method: 'GET', uri, headers: {}, query: {}, target });
  assert.equal(http.target(req('/x', 'relative')).href, 'http://127.0.0.1:1/x');
  assert.throws(() => http.target(req('//127.0.0.1:3/x', 'relative')), /must stay on Cascade/);
  assert.equal(http.target(req('//127.0.0.1:2/x', 'variable')).href, 'http://127.0.0.1:2/x');
  assert.equal(http.target(req('https://en.wikipedia.org/x', 'variable')).host, 'en.wikipedia.org');
  // In allowed_hosts, but not a domain or origin: an event cannot steer there.
  assert.throws(() => http.target(req('http://127.0.0.1:3/x', 'variable')), /not a configured domain or origin/);
  assert.throws(() => http.target(req('http://u:p@127.0.0.1:2/x', 'variable')), /credentials/);
  // A Host header from a rule (Wikimedia's job runner rules set one): a configured domain only.
  assert.equal(http.target({ ...req('/x', 'relative'), headers: { host: 'en.wikipedia.org' } }).port, '1');
  assert.throws(() => http.target({ ...req('/x', 'relative'), headers: { Host: 'victim.example' } }), /Host header "victim\.example" is not a configured domain/);
  // Requests Cascade builds itself (no target kind) keep the allow-list only.
  assert.equal(http.target(req('http://127.0.0.1:3/x')).port, '3');
  void http.close();
});

test('signing: a signed event verifies after a JSON round trip; any change, a missing or another key does not', () => {
  const s = new EventSigner('0123456789abcdef0123456789abcdef');
  const ev = { b: 1, a: { z: [1, { y: 'é' }], u: undefined }, retries_left: 2 };
  const signed = s.sign(ev);
  assert.ok(s.verify(JSON.parse(JSON.stringify(signed))));
  assert.ok(!s.verify({ ...JSON.parse(JSON.stringify(signed)), retries_left: 1e9 }));
  assert.ok(!s.verify(ev));
  assert.ok(!s.verify({ ...ev, signature: 'x'.repeat(43) }));
  assert.ok(!new EventSigner('another key, long enough to use!').verify(signed));
  assert.ok(!s.verify(null) && !s.verify('x'));
});

test('signing key: generated once in the data dir (mode 0600) and reused; a configured key wins', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-cp-key-'));
  try {
    const k1 = loadSigningKey(undefined, join(dir, 'data'));
    assert.equal(k1.length, 32);
    const file = join(dir, 'data', KEY_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(loadSigningKey(undefined, join(dir, 'data')), k1);
    assert.equal(readFileSync(file, 'utf8').trim(), k1.toString('hex'));
    assert.deepEqual(loadSigningKey('configured-key-configured-key-123', join(dir, 'data')), Buffer.from('configured-key-configured-key-123'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
