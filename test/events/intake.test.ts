// POST /v1/events on the real HTTP front and a real SQLite log, with the public Wikimedia
// schemas of ../shared/corpora/events as the schema repository and its 85 example events.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusPath } from '../helpers/corpus.ts';
import { startIntake, UUID_V4, type IntakeFixture } from './intake-fixture.ts';
import { cloudEventIdentity, formatErrors, type LogRecord } from '../../src/events/index.ts';
import type { EventValidationError } from '../../src/events/validation-errors.ts';
import { valueWithin } from '../helpers/wait.ts';

type Obj = Record<string, unknown>;
interface Example {
  line: number;
  schema: string;
  event: Obj;
}

const SCHEMA_DIR = corpusPath('events', 'schemas');
const examples: Example[] = readFileSync(corpusPath('events', 'examples.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l, i) => ({ line: i + 1, ...(JSON.parse(l) as { schema: string; event: Obj }) }));
const schemaDoc = (uri: string): Obj => JSON.parse(readFileSync(join(SCHEMA_DIR, uri + '.json'), 'utf8')) as Obj;
const metaOf = (e: Obj) => (e.meta && typeof e.meta === 'object' ? (e.meta as Obj) : undefined);
// Full events name their schema and stream; the rest are fragment examples (no $schema, no meta),
// which go through the intake as CloudEvents whose envelope names schema and stream.
const full = examples.filter((e) => typeof e.event.$schema === 'string' && typeof metaOf(e.event)?.stream === 'string');
const fragments = examples.filter((e) => !full.includes(e));
const FRAGMENT_STREAM = 'corpus.fragments';
const ERROR_STREAM = 'intake.error';

/** Stream config derived from the corpus: each stream admits the titles of its examples' schemas. */
function corpusStreams(): Record<string, { schema_title: string[] }> {
  const streams: Record<string, { schema_title: string[] }> = {};
  const add = (stream: string, uri: string) => {
    const title = schemaDoc(uri).title as string;
    const s = (streams[stream] ??= { schema_title: [] });
    if (!s.schema_title.includes(title)) s.schema_title.push(title);
  };
  for (const e of full) add(metaOf(e.event)!.stream as string, e.schema);
  for (const e of fragments) add(FRAGMENT_STREAM, e.schema);
  streams['/^test\\.regex\\..+$/'] = { schema_title: ['test/event'] };
  return streams;
}

const clone = <T>(v: T): T => structuredClone(v);
const parse = (r: LogRecord) => JSON.parse(r.value.toString('utf8')) as Obj;

/** The stored event minus the meta fields the intake may add, for comparison with what was sent. */
function withoutAddedMeta(stored: Obj, sent: Obj): Obj {
  const meta = { ...(metaOf(stored) ?? {}) };
  const sentMeta = metaOf(sent) ?? {};
  for (const k of ['id', 'dt', 'request_id']) if (!(k in sentMeta)) delete meta[k];
  return metaOf(stored) ? { ...stored, meta } : stored;
}

function revisionCreate(overrides: Obj = {}): Obj {
  const ex = full.find((e) => e.schema === '/mediawiki/revision/create/2.0.0')!;
  return { ...clone(ex.event), ...overrides };
}

describe('event intake over HTTP with the public schemas', () => {
  let fx: IntakeFixture;
  before(async () => {
    fx = await startIntake({
      schema_base_uris: [SCHEMA_DIR],
      streams: corpusStreams(),
      error_stream: ERROR_STREAM,
      error_schema: '/error/2.1.0',
      max_body_bytes: 200_000,
    });
  });
  after(() => fx.close());

  it('accepts all 85 corpus examples (201) and stores each identity exactly once', async () => {
    assert.equal(examples.length, 85);
    assert.ok(full.length > 50 && fragments.length > 0, `${full.length} events, ${fragments.length} fragments`);
    const r1 = await fx.post(full.map((e) => e.event));
    assert.equal(r1.status, 201, JSON.stringify(r1.body)?.slice(0, 2000));
    const ces = fragments.map((e) => ({
      specversion: '1.0',
      id: `examples.jsonl:${e.line}`,
      source: 'shared/corpora/events',
      type: 'org.wikimedia.example',
      dataschema: e.schema,
      stream: FRAGMENT_STREAM,
      data: e.event,
    }));
    const r2 = await fx.post(ces, { contentType: 'application/cloudevents-batch+json' });
    assert.equal(r2.status, 201, JSON.stringify(r2.body)?.slice(0, 2000));

    const byStream = new Map<string, Example[]>();
    for (const e of full) {
      const s = metaOf(e.event)!.stream as string;
      byStream.set(s, [...(byStream.get(s) ?? []), e]);
    }
    // Some examples share a meta.id (nine say "dolor"): the log's dedup keeps the first of each
    // identity and acknowledges the rest as duplicates.
    let stored = 0;
    let duplicates = 0;
    for (const [stream, list] of byStream) {
      const records = await fx.records(stream);
      const events = records.map(parse);
      const firstOfId = new Map<string, Example>();
      let dupsHere = 0;
      for (const e of list) {
        const id = metaOf(e.event)!.id as string | undefined;
        if (id !== undefined && firstOfId.has(id)) {
          duplicates++;
          dupsHere++;
          const dup = events.filter((s) => metaOf(s)!.id === id);
          assert.equal(dup.length, 1, `example line ${e.line}: meta.id ${id} stored once in ${stream}`);
          assert.equal(JSON.stringify(withoutAddedMeta(dup[0], firstOfId.get(id)!.event)), JSON.stringify(firstOfId.get(id)!.event));
          continue;
        }
        if (id !== undefined) firstOfId.set(id, e);
        const matches = events.filter((s) => JSON.stringify(withoutAddedMeta(s, e.event)) === JSON.stringify(e.event));
        assert.equal(matches.length, 1, `example line ${e.line} (${e.schema}) stored once in ${stream}`);
        const storedId = metaOf(matches[0])!.id as string;
        if (id === undefined) assert.match(storedId, UUID_V4);
        assert.equal(records[events.indexOf(matches[0])].id, storedId, 'log id is meta.id');
        stored++;
      }
      assert.equal(events.length, list.length - dupsHere, `stream ${stream}: one record per identity`);
    }
    assert.equal(stored + duplicates, full.length);
    assert.equal(duplicates, 9, 'eight more "dolor" ids and one repeated test/event id');
    const frag = await fx.records(FRAGMENT_STREAM);
    assert.equal(frag.length, fragments.length);
    for (const [i, e] of fragments.entries()) {
      const rec = frag.find((r) => r.id === cloudEventIdentity('shared/corpora/events', ces[i].id));
      assert.ok(rec, `fragment example line ${e.line} stored under its CloudEvents identity`);
      assert.deepEqual(parse(rec), e.event);
    }
  });

  it('rejects mutated examples with 400 and the AJV errors naming the field (EventGate: errors, errorsText)', async () => {
    const missing: { event: Obj; field: string }[] = [];
    const wrongType: { event: Obj; field: string }[] = [];
    const unknown: { event: Obj; field: string }[] = [];
    for (const e of full) {
      const schema = schemaDoc(e.schema);
      const props = schema.properties as Record<string, Obj>;
      const required = ((schema.required as string[]) ?? []).filter((f) => f !== '$schema' && f !== 'meta');
      // Missing required field (meta itself when nothing else is required).
      const m = clone(e.event);
      const drop = required[0] ?? 'meta';
      delete m[drop];
      missing.push({ event: m, field: drop });
      // Wrong type: a required typed field, else meta.dt.
      const typed = required.find((f) => typeof props[f]?.type === 'string');
      const w = clone(e.event);
      if (typed) {
        w[typed] = wrongValueFor(props[typed].type as string);
        wrongType.push({ event: w, field: typed });
      } else {
        metaOf(w)!.dt = 12345;
        wrongType.push({ event: w, field: 'meta/dt' });
      }
      unknown.push({ event: { ...clone(e.event), $schema: '/does/not/exist/1.0.0' }, field: '$schema' });
    }
    for (const [kind, list] of [['missing', missing], ['wrong type', wrongType]] as const) {
      const before = (await fx.records(ERROR_STREAM)).length;
      const r = await fx.post(list.map((x) => x.event));
      assert.equal(r.status, 400, kind);
      // EventGate's body as members of a problem+json document.
      assert.equal(r.headers.get('content-type'), 'application/problem+json', kind);
      assert.equal((r.body as { status: number; code: string }).code, 'CASCADE_EVENTS_INVALID');
      const body = r.body as { invalid: { index: number; event: unknown; context: { message: string; errors: EventValidationError[]; errorsText: string } }[]; error: unknown[] };
      assert.equal(body.invalid.length, list.length, kind);
      assert.equal(body.error.length, 0);
      for (const inv of body.invalid) {
        const want = list[inv.index];
        const named = formatErrors(inv.context.errors);
        assert.ok(named.some((msg) => msg.includes(`/${want.field}`)), `${kind}: reason for ${want.field} in ${JSON.stringify(inv.context.errors)}`);
        for (const e of inv.context.errors) {
          assert.equal(typeof e.keyword, 'string');
          assert.equal(typeof e.schemaPath, 'string');
          assert.equal(e.dataPath, e.instancePath.replace(/\//g, '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]'), 'ajv 6 style dataPath');
        }
        assert.equal(inv.context.errorsText, inv.context.errors.map((e) => `'${e.dataPath}' ${e.message}`).join(', '), 'EventGate errorsText');
        assert.deepEqual(inv.event, want.event, 'the invalid event is reported as sent');
      }
      const errs = (await fx.records(ERROR_STREAM)).slice(before).map(parse);
      assert.equal(errs.length, list.length, `${kind}: one error event per invalid event`);
    }
    // A schema that cannot be loaded is the client's mistake by default (events.unloadable_schema:
    // invalid): 400, each event reported as invalid with EventGate's message.
    const r = await fx.post(unknown.map((x) => x.event));
    assert.equal(r.status, 400);
    const body = r.body as { invalid: { index: number; context: { message: string } }[]; error: unknown[] };
    assert.equal(body.invalid.length, unknown.length);
    assert.match(body.invalid[0].context.message, /no schema found for \$schema \/does\/not\/exist\/1\.0\.0/);
    // A single invalid event is a 400 too, with the field named.
    const one = await fx.post(missing[0].event);
    assert.equal(one.status, 400);
    assert.match(JSON.stringify(one.body), new RegExp(`/${missing[0].field}`));
  });

  it('sends invalid events to the error stream in the shape of the public error schema', async () => {
    const bad = revisionCreate({ page_id: 'not-a-number' });
    const before = (await fx.records(ERROR_STREAM)).length;
    const r = await fx.post([bad], { headers: { 'x-request-id': 'req-error-1' } });
    assert.equal(r.status, 400);
    const [ev] = (await fx.records(ERROR_STREAM)).slice(before).map(parse);
    assert.equal(ev.$schema, '/error/2.1.0');
    assert.equal(ev.raw_event, JSON.stringify(bad));
    assert.match(ev.message as string, /\/page_id must be integer/);
    assert.equal(ev.errored_schema_uri, bad.$schema);
    assert.equal(ev.errored_stream_name, metaOf(bad)!.stream);
    assert.equal(ev.emitter_id, 'cascade-intake');
    const meta = metaOf(ev)!;
    assert.equal(meta.stream, ERROR_STREAM);
    assert.equal(meta.request_id, 'req-error-1');
    assert.match(meta.id as string, UUID_V4);
    // The public /error/2.1.0 forbids additional properties: nothing beyond its fields.
    const allowed = Object.keys(schemaDoc('/error/2.1.0').properties as Obj);
    for (const k of Object.keys(ev)) assert.ok(allowed.includes(k), `field ${k} is in /error/2.1.0`);
  });

  it('answers 207 for a mixed batch and stores only the valid events', async () => {
    const stream = metaOf(revisionCreate())!.stream as string;
    const before = (await fx.records(stream)).length;
    const a = revisionCreate({ rev_id: 9001 });
    const b = revisionCreate({ rev_id: 'nine thousand two' });
    const c = revisionCreate({ rev_id: 9003 });
    const r = await fx.post([a, b, c]);
    assert.equal(r.status, 207);
    const body = r.body as { invalid: { index: number; context: { errors: EventValidationError[]; errorsText: string } }[]; error: unknown[] };
    assert.deepEqual(body.invalid.map((i) => i.index), [1]);
    assert.ok(body.invalid[0].context.errors.some((e) => e.instancePath === '/rev_id' && e.dataPath === '.rev_id' && e.keyword === 'type'));
    assert.match(body.invalid[0].context.errorsText, /^'\.rev_id' must be integer/);
    const added = (await fx.records(stream)).slice(before).map(parse);
    assert.deepEqual(added.map((e) => e.rev_id), [9001, 9003]);
  });

  it('fills meta.id, meta.dt and meta.request_id when absent, keeps them when present', async () => {
    const stream = metaOf(revisionCreate())!.stream as string;
    const before = (await fx.records(stream)).length;
    const bare = revisionCreate({ rev_id: 7001 });
    const meta = metaOf(bare)!;
    delete meta.id;
    delete meta.dt;
    delete meta.request_id;
    const given = revisionCreate({ rev_id: 7002, meta: { ...meta, id: 'c8b3a3f4-4f0e-4c38-9a55-2f6e8a0b1c2d', dt: '2021-01-01T00:00:00Z' } });
    const t0 = Date.now();
    const r = await fx.post([bare, given], { headers: { 'x-request-id': 'req-meta-1' } });
    assert.equal(r.status, 201);
    const recs = (await fx.records(stream)).slice(before);
    const [s1, s2] = recs.map(parse);
    const m1 = metaOf(s1)!;
    assert.match(m1.id as string, UUID_V4);
    assert.equal(recs[0].id, m1.id, 'log id is meta.id');
    assert.ok(Math.abs(Date.parse(m1.dt as string) - t0) < 10_000, 'meta.dt is the receive time');
    assert.equal(m1.request_id, 'req-meta-1');
    assert.equal(metaOf(s2)!.id, 'c8b3a3f4-4f0e-4c38-9a55-2f6e8a0b1c2d');
    assert.equal(metaOf(s2)!.dt, '2021-01-01T00:00:00Z');
    assert.equal(recs[1].id, 'c8b3a3f4-4f0e-4c38-9a55-2f6e8a0b1c2d');
  });

  it('stores each event as the bytes it was sent in, plus the meta fields it lacked', async () => {
    const stream = metaOf(revisionCreate())!.stream as string;
    const before = (await fx.records(stream)).length;
    const given = revisionCreate({ rev_id: 7101, comment: 'ünïcode } ] "quoted" \\ text' });
    metaOf(given)!.id = 'a4f1c3e2-7b6d-4c1e-9f0a-3b2c1d0e9f8a';
    metaOf(given)!.request_id = 'sent-by-producer';
    const bare = revisionCreate({ rev_id: 7102 });
    delete metaOf(bare)!.id;
    // Pretty-printed with tabs: the stored bytes keep the producer's formatting.
    const givenText = JSON.stringify(given, null, '\t');
    const raw = `[\n${givenText},\n  ${JSON.stringify(bare, null, 1)}\n]`;
    const r = await fx.post(undefined, { raw, headers: { 'x-request-id': 'req-bytes-1' } });
    assert.equal(r.status, 201);
    const recs = (await fx.records(stream)).slice(before);
    assert.equal(recs.length, 2);
    assert.equal(recs[0].value.toString('utf8'), givenText, 'nothing added: stored byte for byte');
    const s2 = parse(recs[1]);
    assert.match(metaOf(s2)!.id as string, UUID_V4);
    assert.equal(recs[1].id, metaOf(s2)!.id);
    assert.equal(metaOf(s2)!.request_id, 'req-bytes-1');
    assert.deepEqual(s2, { ...bare, meta: { ...metaOf(bare), id: metaOf(s2)!.id, request_id: 'req-bytes-1' } });
  });

  it('rejects a missing meta.stream, unknown streams and schemas a stream does not admit', async () => {
    const noStream = revisionCreate();
    delete metaOf(noStream)!.stream;
    const unknownStream = revisionCreate({ meta: { ...metaOf(revisionCreate()), stream: 'no.such.stream' } });
    const wrongTitle = revisionCreate({ meta: { ...metaOf(revisionCreate()), stream: 'test.regex.x' } });
    const viaRegex = { ...clone(full.find((e) => e.schema === '/test/event/1.0.0')!.event), meta: { stream: 'test.regex.anything' } };
    const r = await fx.post([noStream, unknownStream, wrongTitle, viaRegex]);
    assert.equal(r.status, 207);
    const inv = (r.body as { invalid: { index: number; context: { message: string } }[] }).invalid;
    assert.deepEqual(inv.map((i) => i.index), [0, 1, 2]);
    assert.match(inv[0].context.message, /meta\.stream is required/);
    assert.match(inv[1].context.message, /no\.such\.stream is not configured/);
    assert.match(inv[2].context.message, /not allowed in stream test\.regex\.x/);
    const stored = (await fx.records('test.regex.anything')).map(parse);
    assert.equal(stored.length, 1, 'a /regex/ stream admits its schema; topic {datacenter}.{stream}');
  });

  it('accepts text/plain bodies (sendBeacon)', async () => {
    const ev = revisionCreate({ rev_id: 6001 });
    const r = await fx.post(undefined, { contentType: 'text/plain;charset=UTF-8', raw: JSON.stringify(ev) });
    assert.equal(r.status, 201);
    const stored = (await fx.records(metaOf(ev)!.stream as string)).map(parse);
    assert.equal(stored.filter((s) => s.rev_id === 6001).length, 1);
  });

  it('answers 202 at once with ?hasty=true and stores the events afterwards', async () => {
    const ev = revisionCreate({ rev_id: 5001 });
    const r = await fx.post([ev], { query: '?hasty=true' });
    assert.equal(r.status, 202);
    const stream = metaOf(ev)!.stream as string;
    const found = await valueWithin(async () => (await fx.records(stream)).map(parse).filter((s) => s.rev_id === 5001).length || undefined, 10_000, 'the hasty event stored');
    assert.equal(found, 1);
  });

  it('answers 413 beyond max_body_bytes, 415 for other media types, 400 for broken JSON', async () => {
    const big = Array.from({ length: 400 }, (_, i) => revisionCreate({ rev_id: i }));
    const r = await fx.post(big);
    assert.equal(r.status, 413);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    const r2 = await fx.post(undefined, { contentType: 'application/xml', raw: '<event/>' });
    assert.equal(r2.status, 415);
    const r3 = await fx.post(undefined, { raw: '[{"$schema": ' });
    assert.equal(r3.status, 400);
    assert.equal((r3.body as { code: string }).code, 'CASCADE_EVENTS_BAD_BODY');
    const r4 = await fx.post([]);
    assert.equal(r4.status, 400);
  });

  it('accepts structured CloudEvents and drops a redelivered one (source + id)', async () => {
    const ev = revisionCreate({ rev_id: 4001 });
    delete metaOf(ev)!.id;
    const ce = { specversion: '1.0', id: 'rev-4001', source: 'https://example.wiki/w/api.php', type: 'mediawiki.revision-create', datacontenttype: 'application/json', data: ev };
    const stream = metaOf(ev)!.stream as string;
    const before = (await fx.records(stream)).length;
    const r1 = await fx.post(ce, { contentType: 'application/cloudevents+json' });
    assert.equal(r1.status, 201, JSON.stringify(r1.body));
    const r2 = await fx.post(ce, { contentType: 'application/cloudevents+json' });
    assert.equal(r2.status, 201, 'a duplicate is acknowledged');
    const added = (await fx.records(stream)).slice(before);
    assert.equal(added.length, 1, 'stored once');
    const identity = cloudEventIdentity(ce.source, ce.id);
    assert.equal(added[0].id, identity);
    assert.equal(metaOf(parse(added[0]))!.id, identity, 'meta.id is the CloudEvents identity');
    const bad = await fx.post({ ...ce, specversion: '0.3' }, { contentType: 'application/cloudevents+json' });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /specversion/);
    const batchOfOne = await fx.post(ce, { contentType: 'application/cloudevents-batch+json' });
    assert.equal(batchOfOne.status, 400, 'a batch must be an array');
  });

  it('answers 503 with Retry-After when the log cannot store anything (closed), 207 when some events are invalid', async () => {
    const fx2 = await startIntake({ schema_base_uris: [SCHEMA_DIR], streams: corpusStreams(), error_stream: '' });
    try {
      await fx2.bus.log.close();
      const r = await fx2.post([revisionCreate({ rev_id: 1 }), revisionCreate({ rev_id: 2 })]);
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
      assert.equal((r.body as { code: string }).code, 'CASCADE_EVENTS_LOG_UNAVAILABLE');
      const mixed = await fx2.post([revisionCreate({ rev_id: 'x' }), revisionCreate({ rev_id: 3 })]);
      assert.equal(mixed.status, 207, 'invalid plus failed, none accepted');
    } finally {
      await fx2.close().catch(() => {});
    }
  });
});

function wrongValueFor(type: string): unknown {
  const candidates: [string[], unknown][] = [
    [['integer', 'number'], 'not-a-number'],
    [['string'], 12345],
    [['boolean'], 'not-a-boolean'],
    [['object'], 'not-an-object'],
    [['array'], 'not-an-array'],
  ];
  for (const [types, value] of candidates) if (types.includes(type)) return value;
  return { unexpected: true };
}
