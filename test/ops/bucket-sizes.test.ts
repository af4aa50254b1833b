// ContentStore.bucketSizes on both backends (the dashboard's and Prometheus' store size per
// bucket): rows and stored bytes per bucket, across key_value, key_rev_value and history buckets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { SqliteStore, PostgresStore, bucketSpec, type ContentStore } from '../../src/storage/index.ts';
import { PG_URL, requireBackend, uniqueName } from '../helpers/backends.ts';

async function exercise(store: ContentStore): Promise<void> {
  await store.declareBucket(bucketSpec('a.example', 'html', { type: 'key_rev_value', compression: 'none' }));
  await store.declareBucket(bucketSpec('a.example', 'meta', { type: 'key_value', compression: 'none' }));
  await store.declareBucket(bucketSpec('a.example', 'hist', { type: 'key_rev_value', compression: 'history', history: { max_chain: 16 } }));
  await store.declareBucket(bucketSpec('b.example', 'empty', { type: 'key_value', compression: 'none' }));
  await store.put({ domain: 'a.example', bucket: 'html', key: 'P', rev: 1, body: Buffer.alloc(1000, 'x'), contentType: 'text/html' });
  await store.put({ domain: 'a.example', bucket: 'html', key: 'P', rev: 2, body: Buffer.alloc(700, 'y'), contentType: 'text/html' });
  await store.put({ domain: 'a.example', bucket: 'meta', key: 'P', body: Buffer.alloc(10, 'z'), contentType: 'application/json' });
  await store.put({ domain: 'a.example', bucket: 'hist', key: 'P', rev: 1, body: Buffer.from('word '.repeat(500)), contentType: 'text/plain' });
  const sizes = await store.bucketSizes();
  const of = (d: string, b: string) => sizes.find((s) => s.domain === d && s.bucket === b);
  assert.deepEqual(of('a.example', 'html'), { domain: 'a.example', bucket: 'html', rows: 2, bytes: 1700 });
  assert.deepEqual(of('a.example', 'meta'), { domain: 'a.example', bucket: 'meta', rows: 1, bytes: 10 });
  assert.deepEqual(of('b.example', 'empty'), { domain: 'b.example', bucket: 'empty', rows: 0, bytes: 0 });
  const hist = of('a.example', 'hist')!;
  assert.equal(hist.rows, 1);
  assert.ok(hist.bytes > 0 && hist.bytes < 2500, `history bucket stores compressed bytes: ${hist.bytes}`);
}

test('bucketSizes on SQLite', async () => {
  const store = SqliteStore.open({ path: ':memory:' });
  try {
    await exercise(store);
  } finally {
    await store.close();
  }
});

test('bucketSizes on PostgreSQL', async (t) => {
  if (!(await requireBackend(t, 'postgres'))) return;
  const schema = uniqueName('cascade_sizes');
  const store = await PostgresStore.open({ url: PG_URL, schema, poolSize: 2 });
  try {
    await exercise(store);
  } finally {
    await store.close();
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
});
