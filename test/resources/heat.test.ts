// Read heat of `refresh: hot`: pages read within the window, bounded memory (least recently
// read forgotten first, which only makes them cold).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadHeat } from '../../src/resources/heat.ts';

test('a page is hot within the window after a read, cold after it', () => {
  const h = new ReadHeat(10_000, 100);
  h.touch('d\u0000A', 1_000);
  assert.equal(h.isHot('d\u0000A', 11_000), true);
  assert.equal(h.isHot('d\u0000A', 11_001), false);
  assert.equal(h.isHot('d\u0000B', 1_000), false);
});

test('memory is bounded: past max_pages the least recently read page is forgotten', () => {
  const h = new ReadHeat(60_000, 3);
  for (const p of ['a', 'b', 'c']) h.touch(p, 1);
  h.touch('a', 2); // a is now the most recent
  h.touch('d', 3); // evicts b, the least recently read
  assert.equal(h.size, 3);
  assert.equal(h.isHot('b', 4), false);
  for (const p of ['a', 'c', 'd']) assert.equal(h.isHot(p, 4), true, p);
});
