import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('every declared error has a sane status', () => {
  for (const [code, def] of errorRegistry()) {
    assert.match(code, /^CASCADE_[A-Z0-9_]+$/);
    assert.ok(def.status >= 400 && def.status < 600, code);
  }
});
