// EventGate's schema-repository behaviour, over the real intake: schema files without an
// extension, draft-04 schemas, refusal of schemas that are not secure for compilation (ajv's
// json-schema-secure, as EventGate's EventValidator checks) and its "error" status for schemas
// that cannot be loaded. The schemas are written here, modelled on EventGate's test cases.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { corpusPath } from '../helpers/corpus.ts';
import { startIntake, type IntakeFixture } from './intake-fixture.ts';

const STREAM = 'test.event';

const common = `
type: object
properties:
  $schema: { type: string }
  meta:
    type: object
    properties:
      stream: { type: string }
      id: { type: string, pattern: '^[a-fA-F0-9]{8}(-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}$', maxLength: 36 }
      dt: { type: string, format: date-time, maxLength: 26 }
    required: [stream, id]
  test: { type: string }
`;

const SCHEMAS: Record<string, string> = {
  // No extension: EventGate resolves `$schema` to exactly this file.
  'test_event/0.0.2': `title: test_event\n$id: /test_event/0.0.2\n$schema: http://json-schema.org/draft-07/schema#\n${common}`,
  'test_draft4/0.0.1.yaml': `title: test_draft4\nid: /test_draft4/0.0.1\n$schema: http://json-schema.org/draft-04/schema#\n${common}  score: { type: number, minimum: 0, exclusiveMinimum: true, maximum: 10, exclusiveMaximum: false }\n`,
  // A pattern without maxLength: a hostile string could make validation slow.
  'test_insecure/0.0.1.yaml': `title: test_insecure\n$id: /test_insecure/0.0.1\n$schema: http://json-schema.org/draft-07/schema#\ntype: object\nproperties:\n  meta:\n    type: object\n    properties:\n      id: { type: string, pattern: '^[a-f0-9-]+$' }\n  test: { type: string }\n`,
};

const ev = (schema: string, extra: Record<string, unknown> = {}) => ({ $schema: schema, meta: { stream: STREAM, id: randomUUID(), dt: '2024-01-01T00:00:00Z' }, test: 'compat', ...extra });

describe('EventGate schema repository compatibility', () => {
  let dir: string;
  let fx: IntakeFixture;
  let lenient: IntakeFixture;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cascade-egschemas-'));
    for (const [name, text] of Object.entries(SCHEMAS)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    const streams = { [STREAM]: { schema_title: ['test_event', 'test_draft4', 'test_insecure'] } };
    fx = await startIntake({ schema_base_uris: [dir], streams, error_stream: '', unloadable_schema: 'error' });
    lenient = await startIntake({ schema_base_uris: [dir], streams, error_stream: '', allow_insecure_schemas: true, unloadable_schema: 'invalid' });
  });
  after(async () => {
    await fx.close();
    await lenient.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds a schema file without extension', async () => {
    const r = await fx.post([ev('/test_event/0.0.2')]);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const bad = await fx.post([ev('/test_event/0.0.2', { test: 7 })]);
    assert.equal(bad.status, 400);
  });

  it('compiles a draft-04 schema (id, boolean exclusiveMinimum) with its meaning', async () => {
    const ok = await fx.post([ev('/test_draft4/0.0.1', { score: 10 }), ev('/test_draft4/0.0.1', { score: 0.5 })]);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const atBound = await fx.post([ev('/test_draft4/0.0.1', { score: 0 })]);
    assert.equal(atBound.status, 400, 'exclusiveMinimum: true excludes the minimum');
    const inv = (atBound.body as { invalid: { context: { errors: { keyword: string; dataPath: string }[] } }[] }).invalid[0];
    assert.deepEqual(inv.context.errors.map((e) => [e.keyword, e.dataPath]), [['exclusiveMinimum', '.score']]);
  });

  it('refuses an insecure schema as EventGate does (error, 500), unless allow_insecure_schemas', async () => {
    const r = await fx.post([ev('/test_insecure/0.0.1')]);
    assert.equal(r.status, 500);
    const body = r.body as { error: { context: { message: string } }[] };
    assert.match(body.error[0].context.message, /^Failed loading schema at \/test_insecure\/0\.0\.1: .*not secure for compilation/);
    const ok = await lenient.post([ev('/test_insecure/0.0.1')]);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  it('a schema that cannot be loaded: 400 by default (unloadable_schema: invalid), EventGate\'s "error" (500) with unloadable_schema: error', async () => {
    const r = await fx.post([ev('/no/such/1.0.0')]);
    assert.equal(r.status, 500);
    const mixed = await fx.post([ev('/no/such/1.0.0'), ev('/test_event/0.0.2')]);
    assert.equal(mixed.status, 207);
    const lenientR = await lenient.post([ev('/no/such/1.0.0')]);
    assert.equal(lenientR.status, 400);
  });
});

describe('the embedded default accepts older MediaWiki schema versions', () => {
  it('revision/create 1.0.0, 1.1.0, 1.2.0 and 2.0.0 examples of the public corpus: 201 on the builtin schemas', async () => {
    const fx = await startIntake({ schema_base_uris: ['builtin'], streams: { 'mediawiki.revision-create': { schema_title: 'mediawiki/revision/create' } }, error_stream: '' });
    try {
      const examples = readFileSync(corpusPath('events', 'examples.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { schema: string; event: Record<string, unknown> })
        .filter((e) => e.schema.startsWith('/mediawiki/revision/create/'));
      const versions = new Set(examples.map((e) => e.schema));
      assert.deepEqual([...versions].sort(), ['/mediawiki/revision/create/1.0.0', '/mediawiki/revision/create/1.1.0', '/mediawiki/revision/create/1.2.0', '/mediawiki/revision/create/2.0.0']);
      const events = examples.map((e) => ({ ...e.event, meta: { ...(e.event.meta as object), stream: 'mediawiki.revision-create', id: randomUUID() } }));
      const r = await fx.post(events);
      assert.equal(r.status, 201, JSON.stringify(r.body)?.slice(0, 1000));
    } finally {
      await fx.close();
    }
  });
});
