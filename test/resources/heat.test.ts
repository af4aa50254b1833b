// Read heat of `refresh: hot`: pages read within the window, bounded memory (least recently
// read forgotten first, which only makes them cold).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadHeat } from '../../src/resources/heat.ts';

test('a page is hot within the window after a read, cold after it', () => {
  let now = 1_000;
  const h = new ReadHeat(10_000, 100, () => now);
  h.touch('d\u0000A');
  assert.equal(h.isHot('d\u0000B'), false);
  now = 11_000;
  assert.equal(h.isHot('d\u0000A'), true);
  now = 11_001;
  assert.equal(h.isHot('d\u0000A'), false);
});

test('memory is bounded: past max_pages the least recently read page is forgotten', () => {
  let now = 1;
  const h = new ReadHeat(60_000, 3, () => now);
  for (const p of ['a', 'b', 'c']) h.touch(p);
  now = 2;
  h.touch('a'); // a is now the most recent
  now = 3;
  h.touch('d'); // evicts b, the least recently read
  assert.equal(h.size, 3);
  now = 4;
  assert.equal(h.isHot('b'), false);
  for (const p of ['a', 'c', 'd']) assert.equal(h.isHot(p), true, p);
});

test('min_reads: a page is hot only after that many reads within the window', () => {
  let now = 0;
  const h = new ReadHeat(10_000, 100, () => now, 2);
  h.touch('A');
  assert.equal(h.isHot('A'), false, 'one read of two');
  now = 5_000;
  h.touch('A');
  assert.equal(h.isHot('A'), true, 'two reads within 10 s');
  now = 10_000;
  assert.equal(h.isHot('A'), true, 'the older of the two is 10 s old: still within');
  now = 10_001;
  assert.equal(h.isHot('A'), false, 'the older read left the window');
  h.touch('A');
  assert.equal(h.isHot('A'), true, 'the last two reads are 5 s apart');
  now = 30_000;
  h.touch('A');
  assert.equal(h.isHot('A'), false, 'reads 20 s apart never make two within the window');
});
