// The schema repository's caches: keys LRU-bounded in entries and document bytes, documents
// shared by location and released once with their last key, not-found answers bounded and
// forgotten after their ttl (by the injected clock).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SchemaCache } from '../../src/events/schema-cache.ts';
import { TestClock } from '../../src/util/clock.ts';

const limits = { maxEntries: 3, maxBytes: 100, negativeMaxEntries: 2, negativeTtlMs: 1000 };

describe('SchemaCache', () => {
  it('bounds keys by entries, least recently used first, and releases a document with its last key', () => {
    const released: string[] = [];
    const c = new SchemaCache<string>(limits, (v) => released.push(v));
    c.set('/a?v=1', 'loc-a', 'A', 10);
    c.set('/a?v=2', 'loc-a', 'A', 10); // another spelling of the same document
    c.set('/b', 'loc-b', 'B', 10);
    assert.equal(c.get('/a?v=1'), 'A'); // now the youngest
    c.set('/c', 'loc-c', 'C', 10); // evicts /a?v=2, the least recently used: A still has a key
    assert.deepEqual(released, []);
    assert.equal(c.get('/a?v=2'), undefined);
    assert.deepEqual(c.stats(), { entries: 3, locations: 3, bytes: 30, negative: 0 });
    c.delete('/a?v=1');
    assert.deepEqual(released, ['A'], 'released once, with its last key');
    assert.equal(c.atLocation('loc-a'), undefined);
    assert.equal(c.stats().bytes, 20);
  });

  it('bounds the documents by bytes; the newest key always stays', () => {
    const released: string[] = [];
    const c = new SchemaCache<string>(limits, (v) => released.push(v));
    c.set('/a', 'loc-a', 'A', 60);
    c.set('/b', 'loc-b', 'B', 60);
    assert.deepEqual(released, ['A']);
    assert.equal(c.get('/b'), 'B');
    c.set('/huge', 'loc-h', 'H', 500);
    assert.equal(c.get('/huge'), 'H', 'the newest stays even alone over the budget');
    assert.deepEqual(released, ['A', 'B']);
  });

  it('remembers failures for negativeTtlMs of the clock, at most negativeMaxEntries', async () => {
    const clock = new TestClock(0);
    const c = new SchemaCache<string>(limits, () => {}, clock);
    const err = new Error('no schema');
    c.rememberFailure('/x', err);
    await clock.advance(1000);
    assert.equal(c.failure('/x'), err);
    await clock.advance(1);
    assert.equal(c.failure('/x'), undefined, 'forgotten after the ttl');
    c.rememberFailure('/1', err);
    c.rememberFailure('/2', err);
    c.rememberFailure('/3', err);
    assert.equal(c.stats().negative, 2);
    assert.equal(c.failure('/1'), undefined, 'the oldest went');
    c.set('/2', 'loc-2', 'two', 1);
    assert.equal(c.failure('/2'), undefined, 'a success clears the remembered failure');
  });
});
