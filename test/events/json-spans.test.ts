// json-spans: locating each event (and its meta object) in a request body, so the intake can
// store the bytes it was sent. Bodies are built from the real corpus examples.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eventSpans, withMetaFields } from '../../src/events/json-spans.ts';
import { corpusPath } from '../helpers/corpus.ts';

type Obj = Record<string, unknown>;
const examples: Obj[] = readFileSync(corpusPath('events', 'examples.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => (JSON.parse(l) as { event: Obj }).event);

/** Parses each span alone and returns the results (and the parsed meta at metaAt). */
function sliced(body: Buffer) {
  const spans = eventSpans(body);
  assert.ok(spans, 'spans found');
  return spans.map((s) => ({ event: JSON.parse(body.subarray(s.start, s.end).toString()) as Obj, span: s }));
}

describe('eventSpans', () => {
  it('finds every corpus event of an array body, compact and pretty-printed', () => {
    for (const text of [JSON.stringify(examples), JSON.stringify(examples, null, 2), `\n [ ${examples.map((e) => JSON.stringify(e, null, '\t')).join(' ,\r\n')} ] \n`]) {
      const body = Buffer.from(text);
      const got = sliced(body);
      assert.equal(got.length, examples.length);
      got.forEach((g, i) => assert.deepEqual(g.event, examples[i]));
    }
  });

  it('finds the meta object of each event (the last one, as JSON.parse keeps)', () => {
    const body = Buffer.from(JSON.stringify(examples));
    const got = sliced(body);
    assert.ok(got.filter((g) => g.event.meta).length > 50);
    for (const { event, span } of got) {
      if (!event.meta) {
        assert.equal(span.metaAt, -1);
        continue;
      }
      assert.ok(span.metaAt > span.start);
      assert.equal(body[span.metaAt - 1], 0x7b);
      const meta = body.subarray(span.metaAt - 1, span.end).toString();
      assert.ok(meta.startsWith('{"'));
    }
    const dup = Buffer.from('[{"meta":{"a":1},"x":"]}\\"meta\\":{","meta":{"stream":"s"}}]');
    const [d] = eventSpans(dup)!;
    assert.equal(dup.subarray(d.metaAt - 1, d.metaAt + 13).toString(), '{"stream":"s"}');
  });

  it('handles strings with brackets, quotes, backslashes and non-ASCII text', () => {
    const ev = { ...examples[0], comment: 'a } ] [ { "quoted" \\ back\\\\slash \u00e9\u4e2d\ud83d\ude00', meta: { ...(examples[0].meta as Obj), domain: 'é.wiki' } };
    const body = Buffer.from(JSON.stringify([ev, examples[1]]));
    const got = sliced(body);
    assert.deepEqual(
      got.map((g) => g.event),
      [ev, examples[1]],
    );
  });

  it('a single object body is one span', () => {
    const body = Buffer.from(`  ${JSON.stringify(examples[2])}\n`);
    const got = sliced(body);
    assert.equal(got.length, 1);
    assert.deepEqual(got[0].event, examples[2]);
  });

  it('gives up on what it cannot locate safely', () => {
    assert.equal(eventSpans(Buffer.from('[{"meta":{}}, 5]')), undefined, 'a number element');
    assert.equal(eventSpans(Buffer.from('[{"meta":{}}, "x"]')), undefined, 'a string element');
    assert.equal(eventSpans(Buffer.from('[[1]]')), undefined, 'an array element');
    assert.equal(eventSpans(Buffer.from('"x"')), undefined);
    // A key written with escapes could be `meta` itself: no meta position is claimed.
    assert.equal(eventSpans(Buffer.from('[{"meta":{"a":1},"\\u006deta":{"b":2}}]'))![0].metaAt, -1);
    assert.equal(eventSpans(Buffer.from('[{"meta":{"a":1},"meta":"x"}]'))![0].metaAt, -1);
    assert.equal(eventSpans(Buffer.from('[{"meta":{"a":1},"meta":null}]'))![0].metaAt, -1);
    assert.equal(eventSpans(Buffer.from('[{"x":{"meta":{}}}]'))![0].metaAt, -1, 'a nested meta is not the event meta');
  });
});

describe('withMetaFields', () => {
  it('adds fields to the meta object; the result parses to the event with them', () => {
    // As the intake does: only fields the event lacks are added.
    const withoutIds = examples
      .filter((e) => e.meta)
      .map((e) => {
        const { id: _id, request_id: _rid, ...meta } = e.meta as Obj;
        return { ...e, meta };
      });
    const body = Buffer.from(JSON.stringify(withoutIds, null, 1));
    for (const { event, span } of sliced(body)) {
      const bytes = body.subarray(span.start, span.end);
      const out = withMetaFields(bytes, span.metaAt - span.start, [
        ['id', 'c1b3d1b2-0000-4000-8000-000000000001'],
        ['request_id', 'r"q\\1'],
      ]);
      const expected = { ...event, meta: { ...(event.meta as Obj), id: 'c1b3d1b2-0000-4000-8000-000000000001', request_id: 'r"q\\1' } };
      assert.deepEqual(JSON.parse(out.toString()), expected);
    }
    const empty = Buffer.from('{"meta": { } ,"a":1}');
    const [s] = eventSpans(empty)!;
    assert.deepEqual(JSON.parse(withMetaFields(empty, s.metaAt, [['dt', '2026-01-01T00:00:00Z']]).toString()), { meta: { dt: '2026-01-01T00:00:00Z' }, a: 1 });
  });
});
