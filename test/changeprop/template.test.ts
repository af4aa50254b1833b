// Table-driven tests of the rule template language (src/changeprop/template.ts, expr.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileStringTemplate, compileValueTemplate, compileRequestTemplate } from '../../src/changeprop/template.ts';
import { compileExpression } from '../../src/changeprop/expr.ts';
import { isTid, tidTime } from '../../src/util/tid.ts';

const scope = {
  message: {
    meta: { domain: 'en.wikipedia.org', dt: '2020-06-10T18:57:16Z', uri: 'https://en.wikipedia.org/wiki/A_B', stream: 'mediawiki.revision-create' },
    page_title: 'AC/DC & Co?',
    rev_id: 123,
    rev_parent_id: 122,
    tags: ['a', 'b'],
    nested: { 'with-dash': 'd', n: 1 },
    encoded: 'Caf%C3%A9',
    ts: '1592000000000',
  },
  match: { meta: { uri: { title: 'A_B', proto: 'https' } } },
};

const cases: [string, string, unknown][] = [
  ['raw value keeps the type', '{{message.rev_id}}', 123],
  ['raw object', '{{message.nested}}', { 'with-dash': 'd', n: 1 }],
  ['raw array', '{{message.tags}}', ['a', 'b']],
  ['raw in text', 'rev={{message.rev_id}}', 'rev=123'],
  ['raw is not encoded', '/x/{{message.page_title}}', '/x/AC/DC & Co?'],
  ['single brace encodes', '/page/{message.page_title}', '/page/AC%2FDC%20%26%20Co%3F'],
  ['whole single brace encodes', '{message.page_title}', 'AC%2FDC%20%26%20Co%3F'],
  ['plus does not encode', '/page/{+message.page_title}', '/page/AC/DC & Co?'],
  ['optional segment present', '/page/html/X{/message.rev_id}', '/page/html/X/123'],
  ['optional segment absent', '/page/html/X{/message.missing}', '/page/html/X'],
  ['optional segment encodes', '/p{/message.page_title}', '/p/AC%2FDC%20%26%20Co%3F'],
  ['absent in text is empty', 'a{{message.nope}}b', 'ab'],
  ['absent raw is undefined', '{{message.nope.deeper}}', undefined],
  ['match captures', '{{match.meta.uri.proto}}://{{message.meta.domain}}/api/rest_v1/page/summary/{{match.meta.uri.title}}', 'https://en.wikipedia.org/api/rest_v1/page/summary/A_B'],
  ['bracket with string', "{{message.nested['with-dash']}}", 'd'],
  ['bracket with expression', '{{message.meta[match.meta.uri.proto]}}', undefined],
  ['array index', '{{message.tags[1]}}', 'b'],
  ['dotted index', '{{message.tags.0}}', 'a'],
  ['date rfc822 default', '{{date(message.meta.dt)}}', 'Wed, 10 Jun 2020 18:57:16 GMT'],
  ['date iso', "{{date(message.meta.dt, 'iso')}}", '2020-06-10T18:57:16.000Z'],
  ['date from ms string', "{{date(message.ts, 'iso')}}", '2020-06-12T22:13:20.000Z'],
  ['decode', '{{decode(message.encoded)}}', 'Café'],
  ['decode bad input kept', "{{decode('%E0%A4%A')}}", '%E0%A4%A'],
  ['default used', "{{default(message.nope, 'dflt')}}", 'dflt'],
  ['default not used', "{{default(message.rev_id, 'dflt')}}", 123],
  ['merge object literal', "{{merge(message.nested, {n: 2, extra: 'x'})}}", { 'with-dash': 'd', n: 1, extra: 'x' }],
  ['strip string', "{{strip(message.nested, 'n')}}", { 'with-dash': 'd' }],
  ['strip array', "{{strip(message.nested, ['n', 'with-dash'])}}", {}],
  ['filter', "{{filter(message.meta, ['domain', 'dt'])}}", { domain: 'en.wikipedia.org', dt: '2020-06-10T18:57:16Z' }],
  ['object literal', "{{ {a: message.rev_id, 'b c': [1, 'two', null]} }}", { a: 123, 'b c': [1, 'two', null] }],
  ['legacy $ and $$', "{{$$.default($.message.nope, $.message.rev_parent_id)}}", 122],
  ['globals alias', '{{globals.message.rev_id}}', 123],
  ['quotes with braces in strings', "{{default(message.nope, '}{')}}", '}{'],
  ['plain string untouched', 'no templates here', 'no templates here'],
  ['numbers in text', '{{message.nested.n}}-{{message.rev_id}}', '1-123'],
];

for (const [name, tpl, expected] of cases) {
  test(`template: ${name}`, () => {
    assert.deepEqual(compileStringTemplate(tpl)(scope), expected);
  });
}

test('template: date timeuuid is a v1 uuid at the event time', () => {
  const v = compileStringTemplate("{{date(message.meta.dt, 'timeuuid')}}")(scope) as string;
  assert.ok(isTid(v), v);
  assert.equal(tidTime(v), Date.parse('2020-06-10T18:57:16Z'));
});

test('template: timeuuid() is a fresh v1 uuid', () => {
  const e = compileStringTemplate('{{timeuuid()}}');
  const a = e(scope) as string;
  const b = e(scope) as string;
  assert.ok(isTid(a) && isTid(b));
  assert.notEqual(a, b);
  assert.ok(Math.abs(tidTime(a) - Date.now()) < 5000);
});

test('template: date of garbage throws', () => {
  assert.throws(() => compileStringTemplate("{{date('not a date')}}")(scope), /invalid date/);
});

const refused: [string, RegExp][] = [
  ['{{message.__proto__}}', /not allowed/],
  ['{{message.constructor}}', /not allowed/],
  ['{{message.nested.prototype}}', /not allowed/],
  ["{{ {__proto__: 1} }}", /not allowed/],
  ['{{eval(message)}}', /unknown function/],
  ['{{Function(message)}}', /unknown function/],
  ['{{message.a +  1}}', /unexpected/],
  ['{{message.a; 1}}', /unexpected/],
  ['{{message.a', /unbalanced/],
  ['{{}}', /empty expression/],
  ["{{'unterminated}}", /unterminated|unbalanced/],
];
for (const [tpl, re] of refused) {
  test(`template refused at compile time: ${tpl}`, () => {
    assert.throws(() => compileStringTemplate(tpl), re);
  });
}

test('template: computed keys cannot reach the prototype chain', () => {
  const e = compileExpression("message[k]").evaluate;
  for (const k of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype']) {
    assert.equal(e({ message: {}, k }), undefined, k);
  }
  // Nothing leaks from Object.prototype either through plain dotted access.
  assert.equal(compileStringTemplate('{{message.toString}}')({ message: {} }), undefined);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  compileStringTemplate("{{merge(message, {polluted: 1})}}")({ message: JSON.parse('{"__proto__": {"polluted": 1}}') });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('template: value templates (objects, arrays, literals) expand recursively and drop undefined', () => {
  const e = compileValueTemplate({
    a: '{{message.rev_id}}',
    b: ['{message.page_title}', 42, true, null],
    c: { d: 'x-{{message.meta.domain}}', gone: '{{message.nope}}' },
  });
  assert.deepEqual(e(scope), { a: 123, b: ['AC%2FDC%20%26%20Co%3F', 42, true, null], c: { d: 'x-en.wikipedia.org' } });
});

test('request template: method, uri, headers, query, body', () => {
  const t = compileRequestTemplate({
    method: 'post',
    uri: 'http://127.0.0.1:1/page/{message.page_title}/{{message.rev_id}}',
    headers: { 'cache-control': 'no-cache', 'if-unmodified-since': '{{date(message.meta.dt)}}', 'x-none': '{{message.nope}}' },
    query: { redirect: false, rev: '{{message.rev_id}}' },
    body: { title: '{{message.page_title}}', meta: '{{filter(message.meta, ["domain"])}}' },
  });
  assert.deepEqual(t.expand(scope), {
    method: 'POST',
    uri: 'http://127.0.0.1:1/page/AC%2FDC%20%26%20Co%3F/123',
    headers: { 'cache-control': 'no-cache', 'if-unmodified-since': 'Wed, 10 Jun 2020 18:57:16 GMT' },
    query: { redirect: 'false', rev: '123' },
    target: 'fixed',
    origin: 'http://127.0.0.1:1',
    body: { title: 'AC/DC & Co?', meta: { domain: 'en.wikipedia.org' } },
  });
  // The method defaults to GET, and a uri of a single raw expression is still a string.
  const g = compileRequestTemplate({ uri: '{{message.rev_id}}' });
  assert.deepEqual(g.expand(scope), { method: 'GET', uri: '123', headers: {}, query: {}, target: 'variable' });
});
