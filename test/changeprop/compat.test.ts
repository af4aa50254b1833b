// Rule files as Wikimedia's change-propagation repository has written them over the years:
// YAML merge keys, and the obsolete forms (supported, or refused naming the replacement).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rulesFromYaml, routeEvent } from '../../src/changeprop/rule.ts';
import { ConfigError } from '../../src/config/index.ts';

const ev = { meta: { domain: 'en.wikipedia.org', uri: 'https://en.wikipedia.org/api/rest_v1/page/html/Foo', stream: 'resource_change' }, tags: ['restbase'] };

test('YAML merge keys: a rule (and an exec) built on an anchored spec, own keys winning', () => {
  const rules = rulesFromYaml(`
templates:
  mobile_rerender: &mobile_rerender_spec
    topic: resource_change
    retry_limit: 3
    match:
      meta: { uri: '/^https?:\\/\\/[^\\/]+\\/api\\/rest_v1\\/page\\/html\\/(?<title>[^/]+)$/' }
      tags: [restbase]
    exec: &exec
      method: get
      uri: 'https://{{message.meta.domain}}/api/rest_v1/page/mobile-sections/{{match.meta.uri.title}}'
      headers: { cache-control: no-cache }
  mobile_rerender_transcludes:
    <<: *mobile_rerender_spec
    topic: 'change-prop.transcludes.resource-change'
  two_sources:
    <<: [ { topic: a, retry_limit: 5 }, *mobile_rerender_spec ]
    exec:
      <<: *exec
      method: post
`);
  const [base, transcludes, two] = rules;
  assert.equal(transcludes.topics[0].name, 'change-prop.transcludes.resource-change');
  assert.equal(transcludes.retryLimit, 3);
  const r = routeEvent(transcludes, ev)!;
  assert.equal(r.ruleCase.exec[0].expand(r.scope).uri, 'https://en.wikipedia.org/api/rest_v1/page/mobile-sections/Foo');
  assert.equal(base.retryLimit, 3);
  // Earlier maps of a merge list win over later ones.
  assert.equal(two.retryLimit, 5);
  assert.equal(two.topics[0].name, 'a');
  const r2 = routeEvent(two, ev)!;
  assert.deepEqual([r2.ruleCase.exec[0].expand(r2.scope).method, r2.ruleCase.exec[0].expand(r2.scope).headers], ['POST', { 'cache-control': 'no-cache' }]);
});

test('obsolete forms that still work: switch, parallel, bare-list retry_on/ignore, exec.tags, case limiters, report', () => {
  const [r] = rulesFromYaml(`
templates:
  ores_cache:
    topic: resource_change
    parallel: true
    retry_on: [ 500, '52x' ]
    ignore: [ 404 ]
    report: { status: [400] }
    switch:
      - match: { meta: { domain: en.wikipedia.org } }
        limiters: { blacklist: 'x' }
        exec:
          - { method: get, uri: 'https://{{message.meta.domain}}/a', tags: [restbase] }
          - { method: get, uri: 'https://{{message.meta.domain}}/b' }
`);
  assert.equal(r.cases.length, 1);
  assert.equal(routeEvent(r, ev)!.ruleCase.exec.length, 2);
  assert.deepEqual([500, 521, 503].map((status) => r.shouldRetry({ status })), [true, true, false]);
  assert.equal(r.shouldIgnore({ status: 404 }), true);
});

test("default retry_on is Wikimedia's '50x' (500-509), not 510-599", () => {
  const [r] = rulesFromYaml(`templates: { r: { topic: t, exec: { uri: 'http://x/' } } }`);
  assert.deepEqual([500, 503, 504, 509, 510, 520, 599, 404].map((status) => r.shouldRetry({ status })), [true, true, true, true, false, false, false, false]);
});

test('refused, naming the replacement: {env(...)} and switch beside cases', () => {
  const env = () => rulesFromYaml(`
templates:
  summary:
    topic: resource_change
    exec: { uri: '{env(RESTBASE_URL)}/{{message.meta.domain}}/v1/page/summary/{{match.meta.uri.title}}' }
`, 'old.yaml');
  assert.throws(env, (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /old\.yaml:5:\d+: .*rule 'summary', field 'exec\.uri': \{env\(RESTBASE_URL\)\}: service-runner's environment substitution is not supported.*relative URI/);
    return true;
  });
  assert.throws(() => rulesFromYaml(`
templates:
  r:
    topic: t
    cases: [ { exec: { uri: 'http://x/' } } ]
    switch: [ { exec: { uri: 'http://x/' } } ]
`), /use 'cases' only \('switch' is its older name\)/);
});
