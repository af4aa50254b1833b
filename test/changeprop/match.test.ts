// Table-driven tests of rule matching: topics, match/match_not, cases, canaries, sampling,
// retry_on/ignore, defaults and the errors a bad rule gets (src/changeprop/match.ts, rule.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileMatch, compileMatchNot } from '../../src/changeprop/match.ts';
import { rulesFromYaml, routeEvent, resolveRuleStreams, type Rule } from '../../src/changeprop/rule.ts';
import { ConfigError } from '../../src/config/index.ts';
import { corpusPath } from '../helpers/corpus.ts';

// Real example events of the Wikimedia event platform.
const examples = readFileSync(corpusPath('events', 'examples.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { schema: string; event: Record<string, unknown> });
const revisionCreate = examples.find((e) => e.schema.startsWith('/mediawiki/revision/create/'))!.event;
const meta = revisionCreate.meta as Record<string, unknown>;

const ev = {
  meta: { uri: 'https://en.wikipedia.org/api/rest_v1/page/html/Main_Page', domain: 'en.wikipedia.org', id: 'x1' },
  tags: ['restbase', 'change-prop'],
  n: 5,
  flag: false,
  nothing: null,
  pages: [{ ns: 0, title: 'A' }, { ns: 10, title: 'Template:B' }],
};

const matchCases: [string, unknown, unknown, boolean, unknown?][] = [
  ['exact string', { meta: { domain: 'en.wikipedia.org' } }, ev, true, { meta: { domain: 'en.wikipedia.org' } }],
  ['exact string mismatch', { meta: { domain: 'de.wikipedia.org' } }, ev, false],
  ['nested AND all match', { meta: { domain: 'en.wikipedia.org', id: 'x1' }, n: 5 }, ev, true],
  ['nested AND one fails', { meta: { domain: 'en.wikipedia.org', id: 'x2' } }, ev, false],
  ['number exact', { n: 5 }, ev, true, { n: 5 }],
  ['number is not a string', { n: '5' }, ev, false],
  ['boolean', { flag: false }, ev, true],
  ['null', { nothing: null }, ev, true],
  ['undefined: absent field', { missing: 'undefined' }, ev, true, { missing: undefined }],
  ['undefined: present field', { n: 'undefined' }, ev, false],
  ['regex', { meta: { domain: '/wikipedia\\.org$/' } }, ev, true],
  ['regex flags', { meta: { domain: '/WIKIPEDIA/i' } }, ev, true],
  ['regex g flag is stateless', { meta: { domain: '/wiki/g' } }, ev, true],
  ['regex on a non-string', { n: '/5/' }, ev, false],
  ['regex numbered captures', { meta: { uri: '/\\/page\\/(html)\\/(.+)$/' } }, ev, true, { meta: { uri: ['/page/html/Main_Page', 'html', 'Main_Page'] } }],
  ['regex named captures', { meta: { uri: '/^(?<proto>https?):\\/\\/[^/]+\\/api\\/rest_v1\\/page\\/html\\/(?<title>[^/]+)$/' } }, ev, true,
    { meta: { uri: { 0: 'https://en.wikipedia.org/api/rest_v1/page/html/Main_Page', 1: 'https', 2: 'Main_Page', proto: 'https', title: 'Main_Page' } } }],
  ['array: every item found', { tags: ['change-prop', 'restbase'] }, ev, true],
  ['array: one item missing', { tags: ['restbase', 'purge'] }, ev, false],
  ['array: not an array', { n: [5] }, ev, false],
  ['array of objects', { pages: [{ ns: 10 }] }, ev, true, { pages: [{ ns: 10 }] }],
  ['array of regex', { tags: ['/^change-/'] }, ev, true],
  ['empty match matches all', {}, ev, true, {}],
  ['field below a scalar', { n: { x: 1 } }, ev, false],
];
for (const [name, spec, value, ok, expanded] of matchCases) {
  test(`match: ${name}`, () => {
    const m = compileMatch(spec);
    assert.equal(m.test(value), ok);
    if (expanded !== undefined) assert.deepEqual(m.expand(value), expanded);
  });
}

test('match_not: object excludes when it matches, array excludes when any matches (OR)', () => {
  assert.equal(compileMatchNot({ meta: { domain: '/wiktionary/' } })(ev), false);
  assert.equal(compileMatchNot({ meta: { domain: '/wikipedia/' } })(ev), true);
  assert.equal(compileMatchNot([{ n: 1 }, { n: 2 }])(ev), false);
  assert.equal(compileMatchNot([{ n: 1 }, { n: 5 }])(ev), true);
});

test('match: prototype keys in a match are refused', () => {
  assert.throws(() => compileMatch(JSON.parse('{"__proto__": {"x": 1}}')), /not allowed/);
  assert.throws(() => compileMatch({ constructor: 'x' }), /not allowed/);
});

function one(yaml: string): Rule {
  const rules = rulesFromYaml(yaml);
  assert.equal(rules.length, 1);
  return rules[0];
}

test('rule: a Wikimedia rule set (templates:) loads unchanged and routes a real revision-create event', () => {
  const rules = rulesFromYaml(`
templates:
  page_edit:
    topic: mediawiki.revision-create
    exec:
      method: get
      uri: 'https://{{message.meta.domain}}/api/rest_v1/page/html/{message.page_title}/{{message.rev_id}}'
      headers:
        cache-control: no-cache
        x-restbase-parentrevision: '{{message.rev_parent_id}}'
        if-unmodified-since: '{{date(message.meta.dt)}}'
      query:
        redirect: false
  process_redlinks:
    topic: mediawiki.revision-create
    retry_limit: 0
    match:
      rev_parent_id: undefined
    exec:
      method: post
      uri: '/sys/links/backlinks/{message.title}'
      body: '{{globals.message}}'
`);
  assert.deepEqual(rules.map((r) => r.name), ['page_edit', 'process_redlinks']);
  const r = routeEvent(rules[0], revisionCreate)!;
  assert.ok(r);
  assert.deepEqual(r.ruleCase.exec[0].expand(r.scope), {
    method: 'GET',
    uri: `https://${meta.domain}/api/rest_v1/page/html/${revisionCreate.page_title}/${revisionCreate.rev_id}`,
    headers: { 'cache-control': 'no-cache', 'x-restbase-parentrevision': String(revisionCreate.rev_parent_id), 'if-unmodified-since': new Date(String(meta.dt)).toUTCString() },
    query: { redirect: 'false' },
    target: 'variable',
  });
  // rev_parent_id is present in the example, so the redlinks rule does not apply.
  assert.equal(routeEvent(rules[1], revisionCreate), undefined);
  assert.ok(routeEvent(rules[1], { ...revisionCreate, rev_parent_id: undefined }));
  assert.equal(rules[1].retryLimit, 0);
});

test('rule: rules inside a full change-propagation config (services/.../sys/kafka.js options) are found', () => {
  const rules = rulesFromYaml(`
services:
  - name: changeprop
    module: hyperswitch
    conf:
      spec:
        paths:
          /sys/queue:
            x-modules:
              - path: sys/kafka.js
                options:
                  concurrency: 10
                  templates:
                    r1:
                      topic: resource_change
                      exec: { uri: 'http://x/{{message.meta.uri}}' }
`);
  assert.deepEqual(rules.map((r) => r.name), ['r1']);
});

test('rule: defaults (retry_on 50x, ignore 412, limits, delay, factor, canaries discarded)', () => {
  const r = one(`templates: { r: { topic: t, exec: { uri: 'http://x/' } } }`);
  assert.equal(r.retryLimit, 2);
  assert.equal(r.retryDelay, 60000);
  assert.equal(r.retryFactor, 6);
  assert.equal(r.discardCanaryEvents, true);
  for (const [status, retry, ignore] of [[500, true, false], [503, true, false], [509, true, false], [599, false, false], [404, false, false], [412, false, true], [200, false, false]] as const) {
    assert.equal(r.shouldRetry({ status }), retry, `retry ${status}`);
    assert.equal(r.shouldIgnore({ status }), ignore, `ignore ${status}`);
  }
});

test('rule: retry_on and ignore patterns', () => {
  const r = one(`
templates:
  r:
    topic: t
    retry_on: { status: ['50x', 404, '429'] }
    ignore: { status: ['4xx'] }
    exec: { uri: 'http://x/' }
`);
  for (const [s, want] of [[500, true], [503, true], [510, false], [404, true], [429, true], [400, false]] as const) assert.equal(r.shouldRetry({ status: s }), want, String(s));
  assert.equal(r.shouldIgnore({ status: 412 }), true);
  assert.equal(r.shouldIgnore({ status: 500 }), false);
  const b = one(`templates: { r: { topic: t, retry_on: { status: 500, body: { type: retry } }, exec: { uri: 'http://x/' } } }`);
  assert.equal(b.shouldRetry({ status: 500, body: { type: 'retry' } }), true);
  assert.equal(b.shouldRetry({ status: 500, body: { type: 'other' } }), false);
});

test('rule: discard_canary_events (default on, can be turned off)', () => {
  const canary = { meta: { domain: 'canary', id: 'c' } };
  const on = one(`templates: { r: { topic: t, exec: { uri: 'http://x/' } } }`);
  const off = one(`templates: { r: { topic: t, discard_canary_events: false, exec: { uri: 'http://x/' } } }`);
  assert.equal(routeEvent(on, canary), undefined);
  assert.ok(routeEvent(off, canary));
  assert.ok(routeEvent(on, { meta: { domain: 'en.wikipedia.org' } }));
});

test('rule: cases — the first matching case wins, with its own exec and match captures', () => {
  const r = one(`
templates:
  r:
    topic: resource_change
    match_not: { meta: { domain: '/wiktionary/' } }
    cases:
      - match: { meta: { uri: '/\\/page\\/html\\/(?<title>[^/]+)$/' }, tags: [restbase] }
        exec: { uri: 'http://x/summary/{{match.meta.uri.title}}' }
      - match: { meta: { uri: '/\\/page\\/html\\/(?<title>[^/]+)$/' } }
        exec: { uri: 'http://x/other/{{match.meta.uri.title}}' }
      - match_not: { n: 1 }
        exec: { uri: 'http://x/fallback' }
`);
  const uri = (m: unknown) => {
    const x = routeEvent(r, m);
    return x ? x.ruleCase.exec[0].expand(x.scope).uri : undefined;
  };
  assert.equal(uri(ev), 'http://x/summary/Main_Page');
  assert.equal(uri({ ...ev, tags: [] }), 'http://x/other/Main_Page');
  assert.equal(uri({ meta: { uri: 'other' } }), 'http://x/fallback');
  assert.equal(uri({ meta: { uri: 'other' }, n: 1 }), undefined);
  assert.equal(uri({ ...ev, meta: { ...ev.meta, domain: 'en.wiktionary.org' } }), undefined);
});

test('rule: sample is deterministic per hash and close to its rate', () => {
  const r = one(`
templates:
  r:
    topic: t
    sample: { rate: 0.25, hash_template: '{{message.meta.domain}}-{{message.page}}' }
    exec: { uri: 'http://x/' }
`);
  let kept = 0;
  for (let i = 0; i < 4000; i++) {
    const m = { meta: { domain: 'd' }, page: `P${i}` };
    const a = !!routeEvent(r, m);
    assert.equal(!!routeEvent(r, { ...m, other: i }), a, 'same hash, same decision');
    if (a) kept++;
  }
  assert.ok(kept > 850 && kept < 1150, `kept ${kept} of 4000 at rate 0.25`);
  const none = one(`templates: { r: { topic: t, sample: { rate: 0, hash_template: '{{message.x}}' }, exec: { uri: 'http://x/' } } }`);
  const all = one(`templates: { r: { topic: t, sample: { rate: 1, hash_template: '{{message.x}}' }, exec: { uri: 'http://x/' } } }`);
  assert.equal(routeEvent(none, { x: 1 }), undefined);
  assert.ok(routeEvent(all, { x: 1 }));
});

test('rule: topic, topics with /regex/, exclude_topics', () => {
  const r = one(`
templates:
  r:
    topics: [resource_change, '/^mediawiki\\.page-/']
    exclude_topics: ['/undelete$/', mediawiki.page-move]
    exec: { uri: 'http://x/' }
`);
  const known = ['mediawiki.page-delete', 'mediawiki.page-undelete', 'mediawiki.page-move', 'mediawiki.page-create', 'mediawiki.revision-create'];
  assert.deepEqual(resolveRuleStreams(r, known), ['mediawiki.page-create', 'mediawiki.page-delete', 'resource_change']);
  const single = one(`templates: { r: { topic: '/^mediawiki\\.revision/', exec: { uri: 'http://x/' } } }`);
  assert.deepEqual(resolveRuleStreams(single, known), ['mediawiki.revision-create']);
});

test('rule: exec list, timeout, concurrency and the extensions are read', () => {
  const r = one(`
templates:
  r:
    topic: t
    timeout: 1500
    concurrency: 3
    retry_limit: 4
    retry_delay: 10
    retry_factor: 2
    retry_max_delay: 100
    retry_jitter: 0
    order_by: '{{message.meta.uri}}'
    rate_limit: { per_second: 50, burst: 5 }
    circuit_breaker: { failures: 3, park_ms: 1000, key: '{{message.meta.domain}}' }
    exec:
      - { uri: 'http://x/a' }
      - { method: purge, uri: 'http://x/b' }
`);
  assert.equal(r.cases[0].exec.length, 2);
  assert.equal(r.cases[0].exec[1].expand({ message: {} }).method, 'PURGE');
  assert.deepEqual([r.timeout, r.concurrency, r.retryLimit, r.retryDelay, r.retryFactor, r.retryMaxDelay, r.retryJitter], [1500, 3, 4, 10, 2, 100, 0]);
  assert.equal(r.orderBy!({ message: { meta: { uri: 'u' } } }), 'u');
  assert.deepEqual(r.rateLimit, { perSecond: 50, burst: 5 });
  assert.equal(r.circuitBreaker!.failures, 3);
  assert.equal(r.circuitBreaker!.key!({ message: { meta: { domain: 'd' } } }), 'd');
});

// A problem in a map entry stands at the entry's key line or at its value's (src/config's
// locate has done both), so some lines below allow the two.
const badRules: [string, string, RegExp][] = [
  ['no topic', `templates:\n  r:\n    exec: { uri: 'http://x/' }\n`, /<inline>:[23]:\d+: templates\.r: rule 'r': no 'topic'/],
  ['unknown field', `templates:\n  r:\n    topic: t\n    retries: 3\n`, /<inline>:4:\d+: .*rule 'r', field 'retries': unknown setting/],
  ['bad regex', `templates:\n  r:\n    topic: t\n    match:\n      a: '/(unclosed/'\n`, /<inline>:[45]:\d+: .*rule 'r', field 'match': invalid regular expression/],
  ['exec without uri', `templates:\n  r:\n    topic: t\n    exec:\n      - { method: get }\n`, /<inline>:5:\d+: .*field 'exec.0': each request must be an object with a "uri"/],
  ['bad template', `templates:\n  r:\n    topic: t\n    exec:\n      uri: 'http://x/{{message.constructor}}'\n`, /<inline>:[45]:\d+: .*field 'exec': .*not allowed/],
  ['bad status pattern', `templates:\n  r:\n    topic: t\n    retry_on:\n      status: ['5**']\n`, /<inline>:[45]:\d+: .*field 'retry_on': invalid status pattern/],
  ['bad number', `templates:\n  r:\n    topic: t\n    retry_limit: -1\n`, /<inline>:4:\d+: .*field 'retry_limit': must be an integer/],
  ['bad sample', `templates:\n  r:\n    topic: t\n    sample: { rate: 2 }\n`, /<inline>:4:\d+: .*field 'sample'/],
  ['cases and exec', `templates:\n  r:\n    topic: t\n    exec: { uri: 'http://x' }\n    cases:\n      - exec: { uri: 'http://y' }\n`, /field 'exec': cannot be combined with 'cases'/],
  ['bad case field', `templates:\n  r:\n    topic: t\n    cases:\n      - exek: { uri: 'http://y' }\n`, /<inline>:5:\d+: .*field 'cases.0.exek': unknown setting/],
  ['bad name', `templates:\n  'a b':\n    topic: t\n`, /a rule name may contain only/],
  ['yaml syntax', `templates:\n  r: [\n`, /<inline>:\d+:\d+/],
];
for (const [name, yaml, re] of badRules) {
  test(`rule error: ${name} names file, line, rule and field`, () => {
    assert.throws(
      () => rulesFromYaml(yaml),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.message, re);
        return true;
      },
    );
  });
}

test('rule error: every problem of a file is reported at once', () => {
  assert.throws(
    () => rulesFromYaml(`templates:\n  a:\n    topic: t\n    bogus: 1\n  b:\n    exec: { uri: 'http://x' }\n`),
    (e: unknown) => e instanceof ConfigError && e.problems.length === 2 && /rule 'a'/.test(e.message) && /rule 'b'/.test(e.message),
  );
});
