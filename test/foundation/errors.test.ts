import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../helpers/corpus.ts';
import { CascadeError, Errors, defineError, errorRegistry, toCascadeError } from '../../src/errors/index.ts';

test('errors render as problem documents with a stable code', () => {
  const e = new CascadeError(Errors.notFound, 'no page Foo', { extra: { title: 'ignored?' } });
  const p = e.toProblem('/x');
  assert.equal(p.status, 404);
  assert.equal(p.code, 'CASCADE_NOT_FOUND');
  assert.equal(p.detail, 'no page Foo');
  assert.equal(p.instance, '/x');
  assert.match(p.type, /CASCADE_NOT_FOUND$/);
  // The registry's title wins over an extension member of the same name.
  assert.equal(p.title, 'Not found');
});

test('a code cannot be declared twice', () => {
  defineError('CASCADE_TEST_ONCE', 400, 'x');
  assert.throws(() => defineError('CASCADE_TEST_ONCE', 400, 'x'), /declared twice/);
});

test('unknown throwables become 500 internal errors keeping the cause', () => {
  const cause = new TypeError('boom');
  const e = toCascadeError(cause);
  assert.equal(e.status, 500);
  assert.equal(e.cause, cause);
});

test('every declared error of every capability: unique code, a real 4xx/5xx status, a title', async () => {
  // Import every capability's error declarations (src/**/errors.ts, cli-errors.ts), so the
  // registry holds all of them, not only the core ones this file happens to import. A code
  // declared twice would make one of these imports throw.
  const src = join(projectRoot, 'src');
  const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => /(^|[\\/])(cli-)?errors\.ts$/.test(f)).sort();
  assert.ok(files.length >= 10, `found the capabilities' errors.ts files: ${files.join(', ')}`);
  const declared = new Map<string, string>();
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(src, f)).href)) as Record<string, unknown>;
    const defs = Object.values(mod).flatMap((v) => (isDef(v) ? [v] : v && typeof v === 'object' ? Object.values(v).filter(isDef) : []));
    assert.ok(defs.length > 0 || f === join('errors', 'index.ts'), `${f} exports its error definitions`);
    for (const d of defs) {
      // Declared through defineError (the registry holds this very object), once.
      assert.equal(errorRegistry().get(d.code), d, `${f}: ${d.code} is the registered definition`);
      declared.set(d.code, f);
    }
  }
  for (const [code, def] of errorRegistry()) {
    assert.equal(def.code, code);
    assert.match(code, /^CASCADE_[A-Z0-9_]+$/);
    assert.ok(Number.isInteger(def.status) && def.status >= 400 && def.status < 600, `${code}: status ${def.status} is a 4xx or 5xx`);
    assert.ok(STATUS_CODES[def.status], `${code}: ${def.status} is a real HTTP status`);
    assert.equal(typeof def.title, 'string', code);
    assert.ok(def.title.trim().length > 0, `${code} has a title`);
  }
  assert.ok(declared.size >= 20, `capability errors are in the registry (${declared.size})`);
});

function isDef(v: unknown): v is { code: string; status: number; title: string } {
  return !!v && typeof v === 'object' && typeof (v as { code?: unknown }).code === 'string' && typeof (v as { status?: unknown }).status === 'number' && Object.isFrozen(v);
}
