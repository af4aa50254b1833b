import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newTid, tidAt, isTid, tidTime, compareTids, tidOrderKey } from '../../src/util/tid.ts';

test('tids are v1 UUIDs carrying their time', () => {
  const before = Date.now();
  const t = newTid();
  assert.ok(isTid(t), t);
  assert.equal(t[14], '1');
  assert.ok(Math.abs(tidTime(t) - before) < 1000);
  assert.equal(tidTime(tidAt(1_600_000_000_123)), 1_600_000_000_123);
  assert.ok(!isTid('not-a-tid'));
  assert.ok(!isTid('6ba7b810-9dad-41d1-80b4-00c04fd430c8'), 'a v4 uuid is not a tid');
});

test('tids from one process strictly increase, and order keys sort like compareTids', () => {
  const tids = Array.from({ length: 5000 }, () => newTid());
  for (let i = 1; i < tids.length; i++) assert.equal(compareTids(tids[i - 1], tids[i]), -1);
  const mixed = [...tids, tidAt(Date.now() - 86_400_000), tidAt(Date.now() + 86_400_000)];
  const byCompare = [...mixed].sort(compareTids);
  const byKey = [...mixed].sort((a, b) => (tidOrderKey(a) < tidOrderKey(b) ? -1 : 1));
  assert.deepEqual(byKey, byCompare);
});

test('explicitly old times still yield distinct tids', () => {
  const old = Date.now() - 10_000;
  const a = newTid(old);
  const b = newTid(old);
  assert.notEqual(a, b);
  assert.equal(tidTime(a), old);
  assert.equal(tidTime(b), old);
});
