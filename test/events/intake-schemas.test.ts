// The schema repository (directories, HTTP bases, draft-07 and 2020-12, YAML), Cascade's own
// schemas against the public ones, and the in-process producer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { corpusPath } from '../helpers/corpus.ts';
import { SchemaRepository, schemaSourceFor, BUILTIN_SCHEMA_DIR, formatErrors, isCascadeErrorLike } from './intake-schemas-util.ts';
import { startIntake, type IntakeFixture } from './intake-fixture.ts';

type Obj = Record<string, unknown>;
const SCHEMA_DIR = corpusPath('events', 'schemas');
const examples = readFileSync(corpusPath('events', 'examples.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { schema: string; event: Obj });

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}
const ownSchemas = walk(BUILTIN_SCHEMA_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => '/' + relative(BUILTIN_SCHEMA_DIR, f).replace(/\.yaml$/, ''));

describe('Cascade\'s own schemas', () => {
  const ours = new SchemaRepository([schemaSourceFor('builtin')]);
  const pub = new SchemaRepository([schemaSourceFor(SCHEMA_DIR)]);

  it('cover the embedded default streams, with the public $id and title', () => {
    for (const uri of ['/mediawiki/revision/create/1.0.0', '/mediawiki/revision/create/1.1.0', '/mediawiki/revision/create/1.2.0', '/mediawiki/revision/create/2.0.0', '/mediawiki/page/delete/1.0.0', '/mediawiki/page/undelete/1.0.0', '/mediawiki/page/move/1.0.0', '/mediawiki/revision/visibility-change/1.0.0', '/resource_change/1.0.0', '/change-prop/retry/1.0.0', '/error/2.1.0']) {
      assert.ok(ownSchemas.includes(uri), uri);
    }
    for (const uri of ownSchemas) {
      const doc = parseYaml(readFileSync(join(BUILTIN_SCHEMA_DIR, uri + '.yaml'), 'utf8')) as Obj;
      const publicDoc = JSON.parse(readFileSync(join(SCHEMA_DIR, uri + '.json'), 'utf8')) as Obj;
      assert.equal(doc.$id, uri);
      assert.equal(doc.title, publicDoc.title);
      assert.deepEqual([...(doc.required as string[])].sort(), [...(publicDoc.required as string[])].sort(), `${uri}: same required fields`);
    }
  });

  it('accept every corpus example valid under the public schema, and reject it without a required field', async () => {
    let checked = 0;
    for (const { schema, event } of examples) {
      if (!ownSchemas.includes(schema)) continue;
      const mine = await ours.get(schema);
      const theirs = await pub.get(schema);
      assert.ok(theirs.validate(event));
      assert.ok(mine.validate(event), `${schema}: ${formatErrors(mine.validate.errors).join('; ')}`);
      for (const field of (theirs.schema.required as string[]) ?? []) {
        const copy: Obj = { ...event };
        delete copy[field];
        assert.equal(theirs.validate(copy), false);
        assert.equal(mine.validate(copy), false, `${schema} without ${field}`);
        assert.ok(formatErrors(mine.validate.errors).some((m) => m.includes(`/${field}`)));
      }
      checked++;
    }
    assert.ok(checked >= 10, `${checked} examples checked`);
  });
});

describe('schema repository', () => {
  let dir: string;
  let server: Server;
  let base: string;
  const fetched: string[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cascade-schemas-'));
    mkdirSync(join(dir, 'shape/2020'), { recursive: true });
    writeFileSync(
      join(dir, 'shape/2020/1.0.0.yaml'),
      [
        '$schema: https://json-schema.org/draft/2020-12/schema',
        '$id: /shape/2020/1.0.0',
        'title: shape/2020',
        'type: object',
        'required: [$schema, meta, point]',
        'properties:',
        '  $schema: { type: string }',
        '  meta: { type: object, required: [stream] }',
        '  point: { type: array, prefixItems: [{ type: number }, { type: number }], items: false }',
        '  label: { type: string, default: unnamed }',
      ].join('\n'),
    );
    // An HTTP schema base serving the corpus schemas, recording what is fetched.
    server = createServer((req, res) => {
      fetched.push(req.url!);
      const m = /^\/repo(\/.+)$/.exec(req.url!);
      try {
        if (!m || m[1].includes('..')) throw new Error('outside');
        const body = readFileSync(join(SCHEMA_DIR, m[1]));
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('compiles 2020-12 schemas from YAML and does not mutate events (no defaults filled)', async () => {
    const repo = new SchemaRepository([schemaSourceFor(dir)]);
    const s = await repo.get('/shape/2020/1.0.0');
    const ev = { $schema: '/shape/2020/1.0.0', meta: { stream: 's' }, point: [1, 2] };
    assert.equal(s.validate(ev), true);
    assert.equal('label' in ev, false, 'default not filled');
    assert.equal(s.validate({ ...ev, point: [1, 2, 3] }), false, 'prefixItems/items:false is 2020-12 semantics');
    const mutating = new SchemaRepository([schemaSourceFor(dir)], { mutating: true });
    const ev2: Obj = { ...ev };
    assert.equal((await mutating.get('/shape/2020/1.0.0')).validate(ev2), true);
    assert.equal(ev2.label, 'unnamed', 'defaults only when configured');
  });

  it('checks date-time and uri formats (remembered results) the same every time', async () => {
    const repo = new SchemaRepository([schemaSourceFor(SCHEMA_DIR)]);
    const uri = '/mediawiki/revision/create/2.0.0';
    const s = await repo.get(uri);
    const ev = examples.find((e) => e.schema === uri)!.event;
    const meta = ev.meta as Obj;
    const cases: [Obj, boolean, string?][] = [
      [ev, true],
      [{ ...ev, meta: { ...meta, dt: '2020-02-30T10:00:00Z' } }, false, '/meta/dt'],
      [{ ...ev, meta: { ...meta, dt: '2020-02-29T23:59:60Z' } }, true],
      [{ ...ev, meta: { ...meta, dt: '2021-02-29T10:00:00Z' } }, false, '/meta/dt'],
      [{ ...ev, rev_timestamp: '2020-06-10 18:56:00Z' }, true],
      [{ ...ev, rev_timestamp: '2020-06-10T18:56:00' }, false, '/rev_timestamp'],
      [{ ...ev, rev_timestamp: '2020-06-10T25:56:00Z' }, false, '/rev_timestamp'],
      [{ ...ev, meta: { ...meta, uri: 'not a uri' } }, false, '/meta/uri'],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [e, ok, field] of cases) {
        assert.equal(s.validate(e), ok, `${JSON.stringify(e.meta)} ${String(e.rev_timestamp)} round ${round}`);
        if (field) assert.ok(formatErrors(s.validate.errors).some((m) => m.startsWith(field)), `${field} named`);
      }
    }
  });

  it('resolves relative $schema URIs against an HTTP base, caches validators, fetches only configured hosts', async () => {
    const repo = new SchemaRepository([schemaSourceFor(dir), schemaSourceFor(base)]);
    const uri = '/mediawiki/revision/create/2.0.0';
    const ex = examples.find((e) => e.schema === uri)!;
    const a = await repo.get(uri);
    const b = await repo.get(uri);
    assert.equal(a, b, 'compiled once, cached by URI');
    assert.ok(a.validate(ex.event));
    assert.equal(fetched.filter((u) => u === `/repo${uri}.json`).length, 1);
    // Absolute URI under the configured base: allowed. Another host: refused without a request.
    const abs = await repo.get(`${base}/resource_change/1.0.0`);
    assert.equal(abs.title, 'resource_change');
    const n = fetched.length;
    const other = base.replace('127.0.0.1', 'localhost');
    await assert.rejects(repo.get(`${other}/resource_change/1.0.0`), (e: unknown) => isCascadeErrorLike(e, 'CASCADE_EVENTS_SCHEMA_HOST_NOT_ALLOWED'));
    await assert.rejects(repo.get('/no/such/schema/1.0.0'), (e: unknown) => isCascadeErrorLike(e, 'CASCADE_EVENTS_SCHEMA_NOT_FOUND'));
    await assert.rejects(repo.get('/../../../../etc/passwd'), (e: unknown) => isCascadeErrorLike(e, 'CASCADE_EVENTS_SCHEMA_NOT_FOUND'));
    assert.ok(fetched.slice(n).every((u) => u.startsWith('/repo/')), 'no request outside the configured base');
  });
});

describe('in-process producer', () => {
  let fx: IntakeFixture;
  before(async () => {
    fx = await startIntake({ schema_base_uris: ['builtin'], streams: { resource_change: { schema_title: 'resource_change', key_field: 'meta.uri' } } });
  });
  after(() => fx.close());

  it('validates and appends resource_change events; durable when produce() resolves', async () => {
    const ev = (uri: string) => ({ $schema: '/resource_change/1.0.0', meta: { stream: 'resource_change', uri, domain: 'example.wiki' }, tags: ['purge'] });
    await fx.bus.producer.produce([ev('https://example.wiki/wiki/A'), ev('https://example.wiki/wiki/B')]);
    const recs = await fx.bus.log.read('dc1.resource_change', 0, 10);
    assert.deepEqual(recs.map((r) => (JSON.parse(r.value.toString()) as { meta: { uri: string } }).meta.uri), ['https://example.wiki/wiki/A', 'https://example.wiki/wiki/B']);
    assert.deepEqual(recs.map((r) => r.key), ['https://example.wiki/wiki/A', 'https://example.wiki/wiki/B'], 'key_field sets the ordering key');
  });

  it('throws on an invalid event and appends none of the batch', async () => {
    const good = { $schema: '/resource_change/1.0.0', meta: { stream: 'resource_change', uri: 'https://example.wiki/wiki/C' } };
    const bad = { $schema: '/resource_change/1.0.0', meta: { stream: 'resource_change' }, tags: 'not-an-array' };
    const before = (await fx.bus.log.read('dc1.resource_change', 0, 100)).length;
    await assert.rejects(fx.bus.producer.produce([good, bad]), (e: unknown) => isCascadeErrorLike(e, 'CASCADE_EVENTS_INVALID') && /\/tags/.test((e as Error).message));
    assert.equal((await fx.bus.log.read('dc1.resource_change', 0, 100)).length, before);
  });
});
