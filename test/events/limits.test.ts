// Hostile bodies on POST /v1/events: a schema flood (one request, 3,000 `$schema` spellings),
// bad `$schema` values, deep nesting, too many events; the schema cache stays bounded and the
// server keeps answering other requests. Real HTTP front, real SQLite log, the public schemas.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { corpusPath } from '../helpers/corpus.ts';
import { startIntake, type IntakeFixture } from './intake-fixture.ts';
import { boundedLogger } from '../../src/events/intake.ts';

const SCHEMA_DIR = corpusPath('events', 'schemas');
const STREAM = 'test.event';

function ev(schema = '/test/event/1.0.0', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { $schema: schema, meta: { stream: STREAM, id: randomUUID(), dt: new Date().toISOString(), domain: 'example.wiki' }, test: 'limits', ...extra };
}

describe('intake limits', () => {
  let fx: IntakeFixture;
  const lines: string[] = [];
  before(async () => {
    fx = await startIntake(
      {
        schema_base_uris: [SCHEMA_DIR],
        streams: { [STREAM]: { schema_title: ['test/event', 'resource_change'] } },
        max_body_bytes: 8 * 1024 * 1024,
        max_events_per_request: 5000,
        schema_cache: { max_entries: 3, negative_max_entries: 100 },
        error_stream: 'limits.error',
      },
      { logger: (msg, fields) => lines.push(JSON.stringify({ msg, ...fields })) },
    );
  });
  after(() => fx.close());

  it('3,000 events whose $schema differs only by query string: one cache entry, other requests answered meanwhile', async () => {
    const events = Array.from({ length: 3000 }, (_, i) => ev(`/test/event/1.0.0?v=${i}`));
    events.push(ev('/test/event/1.0.0#frag'), ev('/test//event/./1.0.0'), ev('/other/../test/event/1.0.0'));
    let floodDone = false;
    const flood = fx.post(events).then((r) => ((floodDone = true), r));
    // Another request while the flood is processed: it must be answered (not wait behind it).
    const other = await fetch(`${fx.url}/v1/events`, { method: 'GET' });
    const answeredDuringFlood = !floodDone;
    const r = await flood;
    assert.equal(other.status, 405, 'the other request was answered');
    console.log(`# concurrent request answered ${answeredDuringFlood ? 'while' : 'after'} the flood ran`);
    assert.equal(r.status, 201, JSON.stringify(r.body)?.slice(0, 500));
    const stats = fx.bus.repo.cacheStats();
    assert.equal(stats.locations, 1, 'one compiled document');
    assert.ok(stats.entries <= 3, `cache entries ${stats.entries}`);
    assert.equal((await fx.records(STREAM)).length, events.length);
  });

  it('3,000 unknown schemas in one request: every one refused (400), negative cache bounded', async () => {
    const events = Array.from({ length: 3000 }, (_, i) => ev(`/nope/${i}/1.0.0`));
    const r = await fx.post(events);
    assert.equal(r.status, 400);
    const body = r.body as { invalid: { context: { message: string } }[] };
    assert.equal(body.invalid.length, 3000);
    assert.match(body.invalid[0].context.message, /no schema found for \$schema \/nope\/0\/1\.0\.0/);
    const stats = fx.bus.repo.cacheStats();
    assert.ok(stats.negative <= 100, `negative entries ${stats.negative}`);
    assert.equal(stats.pending, 0);
  });

  it('more schemas than the cache holds: evicted ones are compiled again, all validate', async () => {
    const schemas = ['/test/event/0.0.2', '/test/event/0.0.3', '/test/event/1.0.0', '/resource_change/1.0.0'];
    for (let round = 0; round < 2; round++) {
      const events = schemas.map((s) => (s.startsWith('/resource') ? { $schema: s, meta: { stream: STREAM, uri: 'https://example.wiki/x', id: randomUUID(), dt: new Date().toISOString() } } : ev(s)));
      const r = await fx.post(events);
      assert.equal(r.status, 201, JSON.stringify(r.body)?.slice(0, 500));
      const stats = fx.bus.repo.cacheStats();
      assert.ok(stats.entries <= 3 && stats.locations <= 3, JSON.stringify(stats));
    }
    const bad = await fx.post([ev('/test/event/0.0.2', { test: 42 })]);
    assert.equal(bad.status, 400, 'an evicted schema still validates');
  });

  it('$schema with NUL, control characters or over 255 characters: 400, nothing looked up', async () => {
    const before = fx.bus.repo.cacheStats().negative;
    for (const [schema, why] of [
      ['/test/event/1.0.0\u0000', /control characters/],
      ['/test/\nevent/1.0.0', /control characters/],
      ['/test/event/' + 'x'.repeat(300), /longer than 255/],
      ['/' + 'a'.repeat(100_000), /longer than 255/],
    ] as const) {
      const r = await fx.post([ev(schema)]);
      assert.equal(r.status, 400);
      const inv = (r.body as { invalid: { context: { message: string } }[] }).invalid[0];
      assert.match(inv.context.message, why);
      assert.ok(inv.context.message.length < 200, 'the message does not repeat the $schema');
    }
    assert.equal(fx.bus.repo.cacheStats().negative, before, 'no lookups for refused URIs');
  });

  it('nesting deeper than max_json_depth: 400 with a short detail, never echoing the body', async () => {
    for (const depth of [65, 5000, 20_000]) {
      const deep = '['.repeat(depth) + ']'.repeat(depth);
      const raw = `[{"$schema":"/test/event/1.0.0","meta":{"stream":"${STREAM}"},"test":"x","nested":${deep}}]`;
      const r = await fx.post(undefined, { raw });
      assert.equal(r.status, 400, `depth ${depth}`);
      const p = r.body as { code: string; detail: string };
      assert.equal(p.code, 'CASCADE_EVENTS_TOO_DEEP');
      assert.ok(JSON.stringify(p).length < 600, 'short, no echo');
    }
    // Invalid JSON nested deeply is refused the same way (the depth check runs first).
    const broken = await fx.post(undefined, { raw: '{"a":' + '['.repeat(10_000) });
    assert.equal(broken.status, 400);
    // 63 levels inside the batch array still pass.
    const ok = '['.repeat(60) + ']'.repeat(60);
    const fine = await fx.post(undefined, { raw: `[${JSON.stringify(ev()).slice(0, -1)},"nested":${ok}}]` });
    assert.equal(fine.status, 201, JSON.stringify(fine.body)?.slice(0, 300));
  });

  it('more events than max_events_per_request: 413 problem+json', async () => {
    const r = await fx.post(Array.from({ length: 5001 }, () => ({})));
    assert.equal(r.status, 413);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    assert.equal((r.body as { code: string }).code, 'CASCADE_EVENTS_TOO_MANY');
  });

  it('intake log lines stay short', () => {
    const out: string[] = [];
    const log = boundedLogger((msg, f) => out.push(JSON.stringify({ msg, ...f })));
    log('x'.repeat(100_000), { schema: 'y'.repeat(100_000), n: 1, obj: { big: 'z'.repeat(100_000) } });
    assert.equal(out.length, 1);
    assert.ok(out[0].length < 2000, `${out[0].length} chars`);
    assert.match(out[0], /\(100000 chars\)/);
    for (const l of lines) assert.ok(l.length < 4000, `a logged line of ${l.length} chars`);
  });
});
