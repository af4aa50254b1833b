// The content store contract as a runner: every backend calls runStoreConformance with how it
// opens, and declares where (and why) it deviates; no case asks which backend it runs on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import { StorageErrors, STORAGE_LIMITS, bucketSpec } from '../../src/storage/index.ts';
import type { ContentStore, StoredRecord } from '../../src/storage/index.ts';
import type { BucketConfig } from '../../src/storage/config.ts';
import { isTid, newTid, tidAt, tidTime, compareTids } from '../../src/util/tid.ts';
import { corpusPath } from '../helpers/corpus.ts';
import { until as waitFor } from '../helpers/wait.ts';

export interface StoreUnderTest {
  name: string;
  /** `history`: every key_rev_value bucket below uses compression history (issue 6). */
  variant: 'plain' | 'history';
  skip: string | false;
  open(): Promise<ContentStore>;
  /** Opens the same storage again (persistence across restarts). */
  reopen(): Promise<ContentStore>;
  cleanup(): Promise<void>;
  /** Runs SQL on the backend's storage directly (history cases inspect the chain columns). */
  sql(query: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Where this store (in this variant) differs from the plain contract, each with its reason. */
  deviations?: StoreDeviations;
}

/** Declared differences from the plain contract; a case consults these, never the backend's name. */
export interface StoreDeviations {
  /** Every key_rev_value body is stored and served with this content-coding, whatever the bucket's compression. */
  krvEncoding?: { encoding: 'br'; reason: string };
  /** purgeExpired keeps (hidden, never returned) superseded rows that kept renders still build on. */
  purgeKeepsDeltaBases?: { reason: string };
}

const D = 'conf.example';
const BUCKETS: Record<string, Partial<BucketConfig> & Pick<BucketConfig, 'type'>> = {
  kv: { type: 'key_value', compression: 'none' },
  kv_gz: { type: 'key_value', compression: 'gzip' },
  kv_ttl: { type: 'key_value', compression: 'none', retention: { policy: 'ttl', ttl_seconds: 1 } },
  krv: { type: 'key_rev_value', compression: 'none' },
  krv_gz: { type: 'key_rev_value', compression: 'gzip' },
  krv_br: { type: 'key_rev_value', compression: 'brotli' },
  krv_hist: { type: 'key_rev_value', compression: 'history' },
  krv_latest: { type: 'key_rev_value', compression: 'none', retention: { policy: 'latest', count: 2, grace_seconds: 0 } },
  krv_grace: { type: 'key_rev_value', compression: 'gzip', retention: { policy: 'latest', count: 1, grace_seconds: 600 } },
  krv_ttl: { type: 'key_rev_value', compression: 'brotli', retention: { policy: 'ttl', ttl_seconds: 1 } },
};

// The history variant keeps max_chain small so that keyframes and snapshots occur in short series.
const HISTORY = { max_chain: 4 };

function bucketsOf(variant: StoreUnderTest['variant']): typeof BUCKETS {
  if (variant === 'plain') return BUCKETS;
  return Object.fromEntries(
    Object.entries(BUCKETS).map(([n, c]) => [n, c.type === 'key_rev_value' ? { ...c, compression: 'history' as const, history: HISTORY } : c]),
  );
}

async function declareAll(store: ContentStore, variant: StoreUnderTest['variant']): Promise<void> {
  for (const [name, cfg] of Object.entries(bucketsOf(variant))) await store.declareBucket(bucketSpec(D, name, cfg));
  // A second domain with a same-named bucket: data must not leak between them.
  await store.declareBucket(
    bucketSpec('other.example', 'krv', { type: 'key_rev_value', compression: variant === 'history' ? 'history' : 'none', ...(variant === 'history' ? { history: HISTORY } : {}) }),
  );
}

const errCode = (def: { code: string }) => (e: unknown) => {
  assert.equal((e as { code?: string }).code, def.code, `expected ${def.code}, got ${String((e as Error)?.message)}`);
  return true;
};

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Distinct tids spread over the last minute, in ascending order. */
function ascendingTids(n: number): string[] {
  const base = Date.now() - 60_000;
  return Array.from({ length: n }, (_, i) => newTid(base + i * 7));
}

let keySeq = 0;
const k = (label: string) => `${label}-${++keySeq}-${Math.random().toString(36).slice(2, 8)}`;
const html = readFileSync(corpusPath('html', 'ar-Mathematics.html'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


export function runStoreConformance(be: StoreUnderTest): void {
  const dev = be.deviations ?? {};
describe(`content store conformance: ${be.name}${be.variant === 'history' ? ', key_rev_value buckets with compression history' : ''}`, { skip: be.skip }, () => {
  let s: ContentStore;
  /** Rows of `key` in the backend's table, hidden ones included: what a purge really deleted. */
  const physicalRows = async (table: 'kv' | 'krv', bucket: string, key: string): Promise<number> =>
    Number((await be.sql(`SELECT count(*) AS n FROM ${table} t JOIN buckets b ON b.id = t.bucket WHERE b.name = ? AND t.key = ?`, [bucket, key]))[0].n);
  before(async () => {
    s = await be.open();
    await declareAll(s, be.variant);
  });
  after(async () => {
    await s?.close();
    await be.cleanup();
  });

  // ----- basic operations ------------------------------------------------------------------

  test('put returns a time-based tid; get latest returns body, content type and headers', async () => {
    const key = k('basic');
    const before = Date.now();
    const r = await s.put({ domain: D, bucket: 'krv', key, rev: 1, body: '<p>hello</p>', contentType: 'text/html', headers: { 'x-a': '1' } });
    assert.equal(r.status, 'created');
    assert.equal(r.rev, 1);
    assert.ok(isTid(r.tid));
    assert.ok(Math.abs(tidTime(r.tid) - before) < 5000);
    const g = await s.getLatest(D, 'krv', key);
    assert.ok(g);
    assert.equal(g.key, key);
    assert.equal(g.rev, 1);
    assert.equal(g.tid, r.tid);
    assert.equal(g.contentType, 'text/html');
    assert.deepEqual(g.headers, { 'x-a': '1' });
    assert.equal(g.body().toString(), '<p>hello</p>');
    assert.ok(g.writtenAt >= before - 1000 && g.writtenAt <= Date.now() + 1000);
  });

  test('key_value put and get; the latest value replaces the previous one', async () => {
    const key = k('kv');
    const a = await s.put({ domain: D, bucket: 'kv', key, body: 'one' });
    const b = await s.put({ domain: D, bucket: 'kv', key, body: 'two', contentType: 'text/plain' });
    assert.equal(a.status, 'created');
    assert.equal(b.status, 'created');
    assert.ok(compareTids(b.tid, a.tid) > 0);
    const g = await s.getLatest(D, 'kv', key);
    assert.equal(g?.body().toString(), 'two');
    assert.equal(g?.tid, b.tid);
    assert.equal(g?.rev, undefined);
    assert.equal(g?.contentType, 'text/plain');
    assert.deepEqual(g?.headers, {});
  });

  test('missing keys read as undefined', async () => {
    assert.equal(await s.getLatest(D, 'kv', k('none')), undefined);
    assert.equal(await s.getLatest(D, 'krv', k('none')), undefined);
    assert.equal(await s.getRev(D, 'krv', k('none'), 3), undefined);
    assert.equal(await s.getRevTid(D, 'krv', k('none'), 3, newTid()), undefined);
  });

  test('get latest is the highest rev, even when a lower rev was written later', async () => {
    const key = k('revs');
    await s.put({ domain: D, bucket: 'krv', key, rev: 10, body: 'r10' });
    await s.put({ domain: D, bucket: 'krv', key, rev: 5, body: 'r5' });
    const g = await s.getLatest(D, 'krv', key);
    assert.equal(g?.rev, 10);
    assert.equal(g?.body().toString(), 'r10');
    assert.equal((await s.getRev(D, 'krv', key, 5))?.body().toString(), 'r5');
    assert.equal(await s.getRev(D, 'krv', key, 7), undefined);
  });

  test('get by rev returns the newest tid of that rev; get by rev+tid returns that render', async () => {
    const key = k('revtid');
    const [t1, t2] = ascendingTids(2);
    await s.put({ domain: D, bucket: 'krv', key, rev: 3, tid: t1, body: 'first' });
    await s.put({ domain: D, bucket: 'krv', key, rev: 3, tid: t2, body: 'second' });
    assert.equal((await s.getRev(D, 'krv', key, 3))?.tid, t2);
    const old = await s.getRevTid(D, 'krv', key, 3, t1);
    assert.equal(old?.body().toString(), 'first');
    assert.equal(old?.tid, t1);
    assert.equal(await s.getRevTid(D, 'krv', key, 4, t1), undefined);
    assert.equal(await s.getRevTid(D, 'krv', key, 3, newTid()), undefined);
  });

  test('tids are accepted in upper case and read back normalised', async () => {
    const key = k('upper');
    const t = newTid();
    const r = await s.put({ domain: D, bucket: 'krv', key, rev: 1, tid: t.toUpperCase(), body: 'x' });
    assert.equal(r.tid, t);
    assert.equal((await s.getRevTid(D, 'krv', key, 1, t.toUpperCase()))?.tid, t);
  });

  test('key_value get by tid matches only the stored tid; its revision list has one entry', async () => {
    const key = k('kvtid');
    const r = await s.put({ domain: D, bucket: 'kv', key, body: 'v', contentType: 'text/plain' });
    assert.equal((await s.getRevTid(D, 'kv', key, 0, r.tid))?.body().toString(), 'v');
    assert.equal(await s.getRevTid(D, 'kv', key, 0, newTid()), undefined);
    const l = await s.listRevisions(D, 'kv', key);
    assert.deepEqual(l.items, [{ rev: 0, tid: r.tid, contentType: 'text/plain' }]);
  });

  test('domains are isolated: the same bucket name in another domain holds other data', async () => {
    const key = k('iso');
    await s.put({ domain: D, bucket: 'krv', key, rev: 1, body: 'mine' });
    assert.equal(await s.getLatest('other.example', 'krv', key), undefined);
    await s.put({ domain: 'other.example', bucket: 'krv', key, rev: 1, body: 'theirs' });
    assert.equal((await s.getLatest(D, 'krv', key))?.body().toString(), 'mine');
    assert.equal((await s.getLatest('other.example', 'krv', key))?.body().toString(), 'theirs');
  });

  test('empty and string bodies round-trip', async () => {
    const key = k('empty');
    await s.put({ domain: D, bucket: 'krv_gz', key, rev: 1, body: Buffer.alloc(0) });
    const g = await s.getLatest(D, 'krv_gz', key);
    assert.equal(g?.body().length, 0);
    const key2 = k('str');
    await s.put({ domain: D, bucket: 'kv', key: key2, body: 'naïve — 東京 🐕' });
    assert.equal((await s.getLatest(D, 'kv', key2))?.body().toString('utf8'), 'naïve — 東京 🐕');
  });

  // ----- listing and paging ----------------------------------------------------------------

  test('list revisions is newest first: rev desc, then tid desc', async () => {
    const key = k('list');
    const [t1, t2, t3] = ascendingTids(3);
    await s.put({ domain: D, bucket: 'krv', key, rev: 1, tid: t3, body: 'a' });
    await s.put({ domain: D, bucket: 'krv', key, rev: 2, tid: t1, body: 'b', contentType: 'text/x' });
    await s.put({ domain: D, bucket: 'krv', key, rev: 2, tid: t2, body: 'c' });
    const l = await s.listRevisions(D, 'krv', key);
    assert.deepEqual(l.items, [
      { rev: 2, tid: t2, contentType: null },
      { rev: 2, tid: t1, contentType: 'text/x' },
      { rev: 1, tid: t3, contentType: null },
    ]);
    assert.equal(l.next, undefined);
  });

  test('paging over 3,000 revisions sees every revision exactly once, newest first', async () => {
    const key = k('many');
    const n = 3000;
    const tids = ascendingTids(n);
    // rev i gets tid i; a few revs get a second render to exercise the tid tie-break.
    const puts: { rev: number; tid: string }[] = tids.map((tid, i) => ({ rev: Math.floor(i / 2), tid }));
    for (let i = 0; i < puts.length; i += 200) {
      await Promise.all(puts.slice(i, i + 200).map((p) => s.put({ domain: D, bucket: 'krv', key, rev: p.rev, tid: p.tid, body: `${p.rev}/${p.tid}`, skipUnchanged: false })));
    }
    const seen: { rev: number; tid: string }[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s.listRevisions(D, 'krv', key, { limit: 137, ...(token ? { pageToken: token } : {}) });
      assert.ok(page.items.length <= 137);
      for (const it of page.items) seen.push({ rev: it.rev, tid: it.tid });
      token = page.next;
      pages++;
    } while (token);
    assert.equal(seen.length, n);
    assert.equal(pages, Math.ceil(n / 137));
    const expected = [...puts].sort((a, b) => b.rev - a.rev || compareTids(b.tid, a.tid));
    assert.deepEqual(seen, expected);
  });

  test('list keys is ascending with paging (key_rev_value), each key once', async () => {
    const dom = 'keys.example';
    await s.declareBucket(bucketSpec(dom, 'pages', { type: 'key_rev_value', compression: 'none' }));
    const keys = Array.from({ length: 250 }, (_, i) => `Page_${String(i).padStart(4, '0')}`);
    await Promise.all(keys.flatMap((key) => [1, 2].map((rev) => s.put({ domain: dom, bucket: 'pages', key, rev, body: key + rev }))));
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const p = await s.listKeys(dom, 'pages', { limit: 100, ...(token ? { pageToken: token } : {}) });
      seen.push(...p.items);
      token = p.next;
    } while (token);
    assert.deepEqual(seen, keys);
  });

  test('list keys of a key_value bucket, in byte order including non-ASCII keys', async () => {
    const dom = 'kvkeys.example';
    await s.declareBucket(bucketSpec(dom, 'meta', { type: 'key_value', compression: 'none' }));
    const keys = ['Zebra', 'apple', 'Äpfel', '東京', 'B', 'a b', '😀', 'Ωmega'];
    for (const key of keys) await s.put({ domain: dom, bucket: 'meta', key, body: key });
    const p1 = await s.listKeys(dom, 'meta', { limit: 3 });
    assert.equal(p1.items.length, 3);
    assert.ok(p1.next);
    const p2 = await s.listKeys(dom, 'meta', { limit: 100, pageToken: p1.next });
    assert.equal(p2.next, undefined);
    const byBytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual([...p1.items, ...p2.items], byBytes);
  });

  test('a bad page token or limit is answered with a typed error', async () => {
    await assert.rejects(s.listRevisions(D, 'krv', 'x', { pageToken: 'not a token!' }), errCode(StorageErrors.badPageToken));
    await assert.rejects(s.listRevisions(D, 'krv', 'x', { pageToken: Buffer.from('{"k":"a"}').toString('base64url') }), errCode(StorageErrors.badPageToken));
    await assert.rejects(s.listKeys(D, 'krv', { pageToken: Buffer.from('[1,2]').toString('base64url') }), errCode(StorageErrors.badPageToken));
    await assert.rejects(s.listKeys(D, 'krv', { limit: 0 }), errCode(StorageErrors.badPageToken));
    await assert.rejects(s.listKeys(D, 'krv', { limit: 5000 }), errCode(StorageErrors.badPageToken));
  });

  // ----- delete ----------------------------------------------------------------------------

  test('delete key removes every revision of a key_rev_value key', async () => {
    const key = k('del');
    for (let rev = 1; rev <= 4; rev++) await s.put({ domain: D, bucket: 'krv', key, rev, body: `r${rev}` });
    assert.equal(await s.deleteKey(D, 'krv', key), true);
    assert.equal(await s.getLatest(D, 'krv', key), undefined);
    assert.equal(await s.getRev(D, 'krv', key, 2), undefined);
    assert.deepEqual((await s.listRevisions(D, 'krv', key)).items, []);
    assert.equal(await s.deleteKey(D, 'krv', key), false);
    assert.ok(!(await s.listKeys(D, 'krv', { limit: 1000 })).items.includes(key));
  });

  test('delete key on key_value; a put afterwards starts fresh', async () => {
    const key = k('kvdel');
    await s.put({ domain: D, bucket: 'kv', key, body: 'x' });
    assert.equal(await s.deleteKey(D, 'kv', key), true);
    assert.equal(await s.getLatest(D, 'kv', key), undefined);
    assert.equal(await s.deleteKey(D, 'kv', key), false);
    const r = await s.put({ domain: D, bucket: 'kv', key, body: 'y', ifNotExists: true });
    assert.equal(r.status, 'created');
  });

  // ----- conditional puts ------------------------------------------------------------------

  test('skipUnchanged (default): a byte-identical body is not written again; the old tid is kept', async () => {
    const key = k('same');
    const a = await s.put({ domain: D, bucket: 'krv', key, rev: 1, body: 'same body' });
    const b = await s.put({ domain: D, bucket: 'krv', key, rev: 1, body: Buffer.from('same body') });
    assert.equal(b.status, 'unchanged');
    assert.equal(b.tid, a.tid);
    assert.equal((await s.listRevisions(D, 'krv', key)).items.length, 1);
    const c = await s.put({ domain: D, bucket: 'krv', key, rev: 1, body: 'other body' });
    assert.equal(c.status, 'created');
    assert.notEqual(c.tid, a.tid);
    // A new rev with the same body is a new revision, not "unchanged".
    assert.equal((await s.put({ domain: D, bucket: 'krv', key, rev: 2, body: 'other body' })).status, 'created');
  });

  test('skipUnchanged: false writes a new render even for an identical body', async () => {
    const key = k('force');
    const a = await s.put({ domain: D, bucket: 'krv_gz', key, rev: 1, body: 'x'.repeat(500) });
    const b = await s.put({ domain: D, bucket: 'krv_gz', key, rev: 1, body: 'x'.repeat(500), skipUnchanged: false });
    assert.equal(b.status, 'created');
    assert.ok(compareTids(b.tid, a.tid) > 0);
    assert.equal((await s.getLatest(D, 'krv_gz', key))?.tid, b.tid);
  });

  test('skipUnchanged on key_value', async () => {
    const key = k('kvsame');
    const a = await s.put({ domain: D, bucket: 'kv_gz', key, body: 'abc'.repeat(100) });
    const b = await s.put({ domain: D, bucket: 'kv_gz', key, body: 'abc'.repeat(100) });
    assert.deepEqual(b, { status: 'unchanged', tid: a.tid });
    assert.equal((await s.getLatest(D, 'kv_gz', key))?.tid, a.tid);
  });

  test('ifNotExists: conflict when the key/rev exists, created for a new rev', async () => {
    const key = k('nx');
    const a = await s.put({ domain: D, bucket: 'krv', key, rev: 1, body: 'a', ifNotExists: true });
    assert.equal(a.status, 'created');
    const b = await s.put({ domain: D, bucket: 'krv', key, rev: 1, body: 'b', ifNotExists: true });
    assert.equal(b.status, 'conflict');
    assert.equal(b.tid, a.tid);
    assert.equal((await s.getLatest(D, 'krv', key))?.body().toString(), 'a');
    assert.equal((await s.put({ domain: D, bucket: 'krv', key, rev: 2, body: 'b', ifNotExists: true })).status, 'created');
  });

  test('ifNotExists on key_value, also under concurrency: exactly one of many wins', async () => {
    const key = k('kvnx');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.put({ domain: D, bucket: 'kv', key, body: `v${i}`, ifNotExists: true })));
    const created = results.filter((r) => r.status === 'created');
    assert.equal(created.length, 1);
    assert.equal(results.filter((r) => r.status === 'conflict').length, 19);
    const g = await s.getLatest(D, 'kv', key);
    assert.equal(g?.tid, created[0].tid);
  });

  test('ifNotExists on key_rev_value under concurrency: exactly one of many wins', async () => {
    const key = k('krvnx');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.put({ domain: D, bucket: 'krv', key, rev: 9, body: `v${i}`, ifNotExists: true })));
    assert.equal(results.filter((r) => r.status === 'created').length, 1);
    assert.equal((await s.listRevisions(D, 'krv', key)).items.length, 1);
  });

  test('ifUnmodifiedSince: conflict when the stored tid is newer than the given time', async () => {
    const key = k('ius');
    const t = Date.now() - 10_000;
    const a = await s.put({ domain: D, bucket: 'krv', key, rev: 1, tid: newTid(t), body: 'a' });
    const stale = await s.put({ domain: D, bucket: 'krv', key, rev: 1, body: 'b', ifUnmodifiedSince: t - 1000 });
    assert.equal(stale.status, 'conflict');
    assert.equal(stale.tid, a.tid);
    const ok = await s.put({ domain: D, bucket: 'krv', key, rev: 1, body: 'c', ifUnmodifiedSince: t + 1000 });
    assert.equal(ok.status, 'created');
    assert.equal((await s.getLatest(D, 'krv', key))?.body().toString(), 'c');
    // The boundary: a tid in exactly that millisecond is not "modified since".
    assert.equal((await s.put({ domain: D, bucket: 'krv', key, rev: 1, body: 'd', ifUnmodifiedSince: tidTime(ok.tid) })).status, 'created');
  });

  test('ifUnmodifiedSince on key_value', async () => {
    const key = k('kvius');
    const t = Date.now() - 5000;
    await s.put({ domain: D, bucket: 'kv', key, tid: newTid(t), body: 'a' });
    assert.equal((await s.put({ domain: D, bucket: 'kv', key, body: 'b', ifUnmodifiedSince: t - 1 })).status, 'conflict');
    assert.equal((await s.getLatest(D, 'kv', key))?.body().toString(), 'a');
    assert.equal((await s.put({ domain: D, bucket: 'kv', key, body: 'b', ifUnmodifiedSince: t })).status, 'created');
    assert.equal((await s.getLatest(D, 'kv', key))?.body().toString(), 'b');
  });

  // ----- coherency -------------------------------------------------------------------------

  test('racing writers on one key/rev: the newest tid is the latest, whatever the arrival order', async () => {
    for (let round = 0; round < 3; round++) {
      const key = k('race');
      const tids = ascendingTids(64);
      const newest = tids[tids.length - 1];
      await Promise.all(shuffle([...tids]).map((tid) => s.put({ domain: D, bucket: 'krv', key, rev: 7, tid, body: `body of ${tid}` })));
      const g = await s.getRev(D, 'krv', key, 7);
      assert.equal(g?.tid, newest);
      assert.equal(g?.body().toString(), `body of ${newest}`);
      assert.equal((await s.getLatest(D, 'krv', key))?.tid, newest);
    }
  });

  test('racing writers on one key_value key: the newest tid wins; older ones never overwrite it', async () => {
    for (let round = 0; round < 3; round++) {
      const key = k('kvrace');
      const tids = ascendingTids(64);
      const newest = tids[tids.length - 1];
      const results = await Promise.all(shuffle([...tids]).map((tid) => s.put({ domain: D, bucket: 'kv', key, tid, body: `body of ${tid}` })));
      const g = await s.getLatest(D, 'kv', key);
      assert.equal(g?.tid, newest);
      assert.equal(g?.body().toString(), `body of ${newest}`);
      const winner = results.find((r) => r.tid === newest && r.status === 'created');
      assert.ok(winner, 'the newest put reports created');
    }
  });

  test('key_value: a put with an older tid after a newer one is refused as a conflict', async () => {
    const key = k('kvold');
    const [old, fresh] = ascendingTids(2);
    await s.put({ domain: D, bucket: 'kv', key, tid: fresh, body: 'new' });
    const r = await s.put({ domain: D, bucket: 'kv', key, tid: old, body: 'old' });
    assert.equal(r.status, 'conflict');
    assert.equal(r.tid, fresh);
    assert.equal((await s.getLatest(D, 'kv', key))?.body().toString(), 'new');
  });

  test('key_rev_value: an older render arriving late is stored but never becomes the latest', async () => {
    const key = k('krvold');
    const [old, fresh] = ascendingTids(2);
    await s.put({ domain: D, bucket: 'krv', key, rev: 4, tid: fresh, body: 'new' });
    const r = await s.put({ domain: D, bucket: 'krv', key, rev: 4, tid: old, body: 'old' });
    assert.equal(r.status, 'created');
    assert.equal((await s.getRev(D, 'krv', key, 4))?.body().toString(), 'new');
    assert.equal((await s.getLatest(D, 'krv', key))?.tid, fresh);
    assert.equal((await s.getRevTid(D, 'krv', key, 4, old))?.body().toString(), 'old');
  });

  test('a random-time tid (tidAt) orders by its time like any other', async () => {
    const key = k('tidat');
    const now = Date.now();
    await s.put({ domain: D, bucket: 'krv', key, rev: 1, tid: tidAt(now), body: 'later' });
    await s.put({ domain: D, bucket: 'krv', key, rev: 1, tid: tidAt(now - 5000), body: 'earlier' });
    assert.equal((await s.getRev(D, 'krv', key, 1))?.body().toString(), 'later');
  });

  // ----- retention -------------------------------------------------------------------------

  test('retention all keeps every render', async () => {
    const key = k('all');
    for (let rev = 1; rev <= 12; rev++) await s.put({ domain: D, bucket: 'krv', key, rev, body: `r${rev}` });
    assert.equal((await s.listRevisions(D, 'krv', key)).items.length, 12);
    await s.purgeExpired(Date.now() + 365 * 86400_000);
    assert.equal((await s.listRevisions(D, 'krv', key)).items.length, 12);
    assert.equal((await s.getRev(D, 'krv', key, 1))?.body().toString(), 'r1');
  });

  test('retention latest (count 2, no grace): only the two newest renders remain; purge removes the rest', async () => {
    const key = k('latest');
    for (let rev = 1; rev <= 5; rev++) await s.put({ domain: D, bucket: 'krv_latest', key, rev, body: `r${rev}` });
    const l = await s.listRevisions(D, 'krv_latest', key);
    assert.deepEqual(l.items.map((i) => i.rev), [5, 4]);
    assert.equal(await s.getRev(D, 'krv_latest', key, 3), undefined);
    assert.equal((await s.getRev(D, 'krv_latest', key, 4))?.body().toString(), 'r4');
    const removed = await s.purgeExpired();
    // History: the kept renders still build on some of the expired rows (kept, invisible).
    assert.ok(removed >= (dev.purgeKeepsDeltaBases ? 1 : 3), `purged ${removed}`);
    const left = await physicalRows('krv', 'krv_latest', key);
    if (dev.purgeKeepsDeltaBases) assert.ok(left >= 2 && left < 5, `history keeps the two renders and what they build on: ${left} rows`);
    else assert.equal(left, 2, 'the three superseded rows are gone from the table');
    assert.deepEqual((await s.listRevisions(D, 'krv_latest', key)).items.map((i) => i.rev), [5, 4]);
    assert.equal((await s.getRev(D, 'krv_latest', key, 4))?.body().toString(), 'r4');
    assert.equal((await s.getRev(D, 'krv_latest', key, 5))?.body().toString(), 'r5');
    assert.equal(await s.getRev(D, 'krv_latest', key, 2), undefined);
  });

  test('retention latest with grace: superseded renders stay readable until the grace period ends', async () => {
    const key = k('grace');
    const a = await s.put({ domain: D, bucket: 'krv_grace', key, rev: 1, body: 'first' });
    const b = await s.put({ domain: D, bucket: 'krv_grace', key, rev: 2, body: 'second' });
    // Inside the grace period the old render is still there for readers holding its tid.
    assert.equal((await s.getRevTid(D, 'krv_grace', key, 1, a.tid))?.body().toString(), 'first');
    await s.purgeExpired(Date.now());
    assert.equal(await physicalRows('krv', 'krv_grace', key), 2, 'a purge inside the grace period deletes nothing of this key');
    assert.equal((await s.getRevTid(D, 'krv_grace', key, 1, a.tid))?.body().toString(), 'first');
    // After it (600 s later), the purge deletes it (history: keeps it hidden while the latest
    // builds on it); the latest stays.
    const removed = await s.purgeExpired(Date.now() + 601_000);
    if (!dev.purgeKeepsDeltaBases) {
      assert.ok(removed >= 1, `purged ${removed}`);
      assert.equal(await physicalRows('krv', 'krv_grace', key), 1, 'the superseded row is deleted');
    }
    assert.equal(await s.getRevTid(D, 'krv_grace', key, 1, a.tid), undefined);
    assert.equal((await s.getLatest(D, 'krv_grace', key))?.tid, b.tid);
  });

  test('retention ttl: expired rows are never returned, and purgeExpired deletes them', async () => {
    const kk = k('ttlkv');
    const kr = k('ttlkrv');
    await s.put({ domain: D, bucket: 'kv_ttl', key: kk, body: 'stash' });
    await s.put({ domain: D, bucket: 'krv_ttl', key: kr, rev: 1, body: 'stash'.repeat(100) });
    assert.equal((await s.getLatest(D, 'kv_ttl', kk))?.body().toString(), 'stash');
    assert.equal((await s.getRev(D, 'krv_ttl', kr, 1))?.body().toString(), 'stash'.repeat(100));
    // ttl 1 s: wait for the expiry itself, not for a fixed time.
    await waitFor(async () => (await s.getLatest(D, 'kv_ttl', kk)) === undefined && (await s.getLatest(D, 'krv_ttl', kr)) === undefined, 10_000, 'the ttl rows to expire');
    assert.equal(await s.getLatest(D, 'kv_ttl', kk), undefined);
    assert.equal(await s.getLatest(D, 'krv_ttl', kr), undefined);
    assert.equal(await s.getRev(D, 'krv_ttl', kr, 1), undefined);
    assert.deepEqual((await s.listRevisions(D, 'krv_ttl', kr)).items, []);
    assert.ok(!(await s.listKeys(D, 'kv_ttl')).items.includes(kk));
    assert.ok(!(await s.listKeys(D, 'krv_ttl')).items.includes(kr));
    assert.equal(await physicalRows('kv', 'kv_ttl', kk), 1, 'expired but not yet purged');
    assert.ok((await s.purgeExpired()) >= 2);
    assert.equal(await physicalRows('kv', 'kv_ttl', kk), 0, 'the expired key_value row is deleted');
    assert.equal(await physicalRows('krv', 'krv_ttl', kr), 0, 'the expired key_rev_value row is deleted');
    // An expired key_value row does not block a new put, even one with ifNotExists.
    assert.equal((await s.put({ domain: D, bucket: 'kv_ttl', key: kk, body: 'again', ifNotExists: true })).status, 'created');
    assert.equal((await s.getLatest(D, 'kv_ttl', kk))?.body().toString(), 'again');
  });

  // ----- keys ------------------------------------------------------------------------------

  test('unicode keys round-trip exactly (NFC and NFD are different keys)', async () => {
    const keys = ['Ελληνικά', 'عربي/صفحة', '東京都', 'emoji_🐕‍🦺', 'Cafe\u0301', 'Caf\u00e9', 'tab\tand space', '%2F/slash?q=1#x'];
    for (const [i, key] of keys.entries()) await s.put({ domain: D, bucket: 'krv', key, rev: i, body: `v${i}` });
    for (const [i, key] of keys.entries()) {
      const g = await s.getLatest(D, 'krv', key);
      assert.equal(g?.key, key);
      assert.equal(g?.body().toString(), `v${i}`);
    }
    const listed = (await s.listKeys(D, 'krv', { limit: 1000 })).items;
    for (const key of keys) assert.ok(listed.includes(key), key);
  });

  test('a key of exactly the byte limit works; one byte more is KEY_TOO_LONG', async () => {
    const max = STORAGE_LIMITS.maxKeyBytes;
    const okKey = 'k'.repeat(max - 3) + '€'; // '€' is 3 bytes in UTF-8
    assert.equal(Buffer.byteLength(okKey), max);
    await s.put({ domain: D, bucket: 'krv', key: okKey, rev: 1, body: 'long' });
    assert.equal((await s.getLatest(D, 'krv', okKey))?.body().toString(), 'long');
    assert.equal((await s.listRevisions(D, 'krv', okKey)).items.length, 1);
    await assert.rejects(s.put({ domain: D, bucket: 'krv', key: okKey + 'x', rev: 1, body: 'x' }), errCode(StorageErrors.keyTooLong));
    await assert.rejects(s.put({ domain: D, bucket: 'kv', key: '€'.repeat(683), body: 'x' }), errCode(StorageErrors.keyTooLong));
    await assert.rejects(s.getLatest(D, 'kv', 'x'.repeat(max + 1)), errCode(StorageErrors.keyTooLong));
  });

  test('empty, NUL-containing and ill-formed keys are BAD_KEY', async () => {
    await assert.rejects(s.put({ domain: D, bucket: 'krv', key: '', rev: 1, body: 'x' }), errCode(StorageErrors.badKey));
    await assert.rejects(s.put({ domain: D, bucket: 'kv', key: 'a\u0000b', body: 'x' }), errCode(StorageErrors.badKey));
    await assert.rejects(s.put({ domain: D, bucket: 'kv', key: 'lone \ud800', body: 'x' }), errCode(StorageErrors.badKey));
    await assert.rejects(s.getLatest(D, 'kv', ''), errCode(StorageErrors.badKey));
  });

  // ----- bad input -------------------------------------------------------------------------

  test('unknown bucket or domain is UNKNOWN_BUCKET on every operation', async () => {
    const e = errCode(StorageErrors.unknownBucket);
    await assert.rejects(s.put({ domain: D, bucket: 'nope', key: 'a', rev: 1, body: 'x' }), e);
    await assert.rejects(s.put({ domain: 'nowhere.example', bucket: 'krv', key: 'a', rev: 1, body: 'x' }), e);
    await assert.rejects(s.getLatest(D, 'nope', 'a'), e);
    await assert.rejects(s.getRev(D, 'nope', 'a', 1), e);
    await assert.rejects(s.getRevTid(D, 'nope', 'a', 1, newTid()), e);
    await assert.rejects(s.listRevisions(D, 'nope', 'a'), e);
    await assert.rejects(s.listKeys(D, 'nope'), e);
    await assert.rejects(s.deleteKey(D, 'nope', 'a'), e);
    assert.equal(s.bucket(D, 'nope'), undefined);
  });

  test('non-integer, negative or missing revs are BAD_REV', async () => {
    const e = errCode(StorageErrors.badRev);
    for (const rev of [1.5, -1, Number.NaN, Infinity, 2 ** 53, '3' as unknown as number, undefined]) {
      await assert.rejects(s.put({ domain: D, bucket: 'krv', key: 'badrev', rev, body: 'x' }), e, `rev ${String(rev)}`);
    }
    await assert.rejects(s.getRev(D, 'krv', 'badrev', -3), e);
    await assert.rejects(s.getRevTid(D, 'krv', 'badrev', 0.5, newTid()), e);
  });

  test('malformed tids (not a v1 UUID) are BAD_TID', async () => {
    const e = errCode(StorageErrors.badTid);
    for (const tid of ['nope', '', crypto.randomUUID(), newTid().slice(0, 35), newTid() + '0']) {
      await assert.rejects(s.put({ domain: D, bucket: 'krv', key: 'badtid', rev: 1, tid, body: 'x' }), e, `tid ${tid}`);
    }
    await assert.rejects(s.getRevTid(D, 'krv', 'badtid', 1, 'zzz'), e);
    await assert.rejects(s.put({ domain: D, bucket: 'kv', key: 'badtid', tid: 'x', body: 'x' }), e);
  });

  test('declaring a bucket is idempotent; redeclaring it with another type is BAD_BUCKET_SPEC', async () => {
    await s.declareBucket(bucketSpec(D, 'krv', bucketsOf(be.variant).krv));
    assert.equal(s.bucket(D, 'krv')?.type, 'key_rev_value');
    await assert.rejects(s.declareBucket(bucketSpec(D, 'krv', { type: 'key_value' })), errCode(StorageErrors.badBucketSpec));
    await assert.rejects(
      s.declareBucket({ domain: D, name: 'bad', type: 'key_rev_value', compression: 'lzma' as never, retention: { policy: 'all' } }),
      errCode(StorageErrors.badBucketSpec),
    );
    assert.equal(s.bucket(D, 'krv')?.type, 'key_rev_value');
  });

  // ----- bodies and compression ------------------------------------------------------------

  // History buckets serve their latest copy, which is brotli whatever the bucket was before.
  for (const [bucket, encoding] of [
    ['krv', dev.krvEncoding?.encoding ?? 'identity'],
    ['krv_gz', dev.krvEncoding?.encoding ?? 'gzip'],
    ['krv_br', 'br'],
    ['krv_hist', 'br'],
  ] as const) {
    test(`compression of bucket ${bucket}: real HTML byte-identical, stored as ${encoding}`, async () => {
      const key = k('comp');
      await s.put({ domain: D, bucket, key, rev: 1, body: html, contentType: 'text/html; charset=utf-8' });
      const g = (await s.getLatest(D, bucket, key)) as StoredRecord;
      assert.equal(g.encoding, encoding);
      assert.ok(g.body().equals(html));
      if (encoding === 'identity') assert.ok(g.stored.equals(html));
      else {
        assert.ok(g.stored.length < html.length / 2, `stored ${g.stored.length} of ${html.length}`);
        const decoded = encoding === 'gzip' ? zlib.gunzipSync(g.stored) : zlib.brotliDecompressSync(g.stored);
        assert.ok(decoded.equals(html), 'stored bytes decode with their HTTP content-coding');
      }
    });
  }

  test('a key_value gzip bucket keeps gzip bytes accessible', async () => {
    const key = k('kvgz');
    await s.put({ domain: D, bucket: 'kv_gz', key, body: html });
    const g = (await s.getLatest(D, 'kv_gz', key)) as StoredRecord;
    assert.equal(g.encoding, 'gzip');
    assert.ok(zlib.gunzipSync(g.stored).equals(html));
  });

  test('incompressible bodies are stored as they are (identity) and still round-trip', async () => {
    const key = k('rand');
    const body = crypto.getRandomValues(Buffer.alloc(4096));
    await s.put({ domain: D, bucket: 'krv_br', key, rev: 1, body });
    const g = (await s.getLatest(D, 'krv_br', key)) as StoredRecord;
    assert.equal(g.encoding, 'identity');
    assert.ok(g.body().equals(body));
  });

  test('a 10 MB body comes back byte-identical (uncompressed and gzip)', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024);
    // Real HTML with a changing marker per copy, so it is not a trivially repeating pattern.
    for (let off = 0, i = 0; off < big.length; i++) {
      off += big.write(`<!-- ${i} -->`, off);
      off += html.copy(big, off, (i * 997) % 4096);
    }
    for (const bucket of ['krv', 'krv_gz']) {
      const key = k('big');
      await s.put({ domain: D, bucket, key, rev: 1, body: big });
      const g = (await s.getLatest(D, bucket, key)) as StoredRecord;
      assert.equal(g.body().length, big.length);
      assert.ok(g.body().equals(big), `${bucket} body differs`);
    }
  });

  test('the bytes of every corpus HTML page survive brotli storage', async () => {
    for (const name of ['Dog.html', 'User_talk-Koavf.html', 'wiktionary-avere.html']) {
      const body = readFileSync(corpusPath('html', name));
      await s.put({ domain: D, bucket: 'krv_br', key: name, rev: 1, body });
      assert.ok((await s.getRev(D, 'krv_br', name, 1))?.body().equals(body), name);
    }
  });

  // ----- compression: history (issue 6) ----------------------------------------------------

  if (be.variant === 'history') {
    /** Successive versions of a real page: each one a few insertions/deletions from the last. */
    const versions = (n: number, seed: number): Buffer[] => {
      let x = seed;
      const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
      let doc = html;
      return Array.from({ length: n }, (_, i) => {
        const at = Math.floor(rand() * doc.length);
        doc = Buffer.concat([doc.subarray(0, at), Buffer.from(`<p>edit ${i}</p>`), doc.subarray(Math.min(doc.length, at + Math.floor(rand() * 300)))]);
        return doc;
      });
    };
    const depthOf = async (bucket: string, key: string) =>
      (await be.sql('SELECT max(h_depth) AS d, sum(CASE WHEN h_kind = 0 THEN 1 ELSE 0 END) AS snaps, count(*) AS n FROM krv k JOIN buckets b ON b.id = k.bucket WHERE b.name = ? AND k.key = ?', [bucket, key]))[0];

    test('history: a series longer than max_chain reads back byte-identical by rev and tid, cold, with bounded chains', async () => {
      await s.declareBucket(bucketSpec(D, 'h_chain', { type: 'key_rev_value', compression: 'history', history: { max_chain: 4 } }));
      const key = k('chain');
      const bodies = versions(40, 1);
      const tids: string[] = [];
      for (const [i, body] of bodies.entries()) tids.push((await s.put({ domain: D, bucket: 'h_chain', key, rev: i + 1, body })).tid);
      // A second render of rev 20 (older tid arriving late) and of rev 40.
      const late = await s.put({ domain: D, bucket: 'h_chain', key, rev: 20, tid: newTid(Date.now() - 3_600_000), body: 'late render' });
      const d = await depthOf('h_chain', key);
      assert.ok(Number(d.d) <= 4, `depth ${String(d.d)}`);
      assert.ok(Number(d.snaps) >= 2 && Number(d.snaps) < 20, `snapshots ${String(d.snaps)}`);
      // A fresh store: no cached bodies, every read walks its chain.
      await s.close();
      s = await be.reopen();
      await declareAll(s, be.variant);
      await s.declareBucket(bucketSpec(D, 'h_chain', { type: 'key_rev_value', compression: 'history', history: { max_chain: 4 } }));
      for (const i of shuffle([...bodies.keys()])) {
        const byTid = await s.getRevTid(D, 'h_chain', key, i + 1, tids[i]);
        assert.ok(byTid?.body().equals(bodies[i]), `rev ${i + 1} by tid`);
        const byRev = await s.getRev(D, 'h_chain', key, i + 1);
        assert.ok(byRev?.body().equals(bodies[i]), `rev ${i + 1}`);
      }
      assert.equal((await s.getRevTid(D, 'h_chain', key, 20, late.tid))?.body().toString(), 'late render');
      const latest = await s.getLatest(D, 'h_chain', key);
      assert.equal(latest?.encoding, 'br');
      assert.ok(zlib.brotliDecompressSync(latest.stored).equals(bodies[39]));
      assert.equal((await s.listRevisions(D, 'h_chain', key, { limit: 1000 })).items.length, 41);
    });

    test('history: the latest copy is rebuilt from the chain when it is missing', async () => {
      await s.declareBucket(bucketSpec(D, 'h_chain', { type: 'key_rev_value', compression: 'history', history: { max_chain: 4 } }));
      const key = k('nocopy');
      const bodies = versions(7, 2);
      for (const [i, body] of bodies.entries()) await s.put({ domain: D, bucket: 'h_chain', key, rev: i + 1, body });
      await be.sql('DELETE FROM krv_latest WHERE key = ?', [key]);
      assert.ok((await s.getLatest(D, 'h_chain', key))?.body().equals(bodies[6]));
      // The next put plans from the rows alone and the copy is back.
      const next = Buffer.concat([bodies[6], Buffer.from('<p>more</p>')]);
      await s.put({ domain: D, bucket: 'h_chain', key, rev: 8, body: next });
      assert.equal(Number((await be.sql('SELECT count(*) AS n FROM krv_latest WHERE key = ?', [key]))[0].n), 1);
      assert.ok((await s.getLatest(D, 'h_chain', key))?.body().equals(next));
      assert.ok((await s.getRev(D, 'h_chain', key, 3))?.body().equals(bodies[2]));
    });

    test('history: retention purge removes what no kept revision builds on; kept revisions stay readable', async () => {
      await s.declareBucket(
        bucketSpec(D, 'h_ret', { type: 'key_rev_value', compression: 'history', history: { max_chain: 4 }, retention: { policy: 'latest', count: 3, grace_seconds: 0 } }),
      );
      const key = k('ret');
      const bodies = versions(30, 3);
      let removed = 0;
      for (const [i, body] of bodies.entries()) {
        await s.put({ domain: D, bucket: 'h_ret', key, rev: i + 1, body });
        if (i % 5 === 4) removed += await s.purgeExpired();
      }
      removed += await s.purgeExpired();
      assert.deepEqual((await s.listRevisions(D, 'h_ret', key)).items.map((x) => x.rev), [30, 29, 28]);
      for (const rev of [28, 29, 30]) assert.ok((await s.getRev(D, 'h_ret', key, rev))?.body().equals(bodies[rev - 1]), `rev ${rev}`);
      for (const rev of [1, 10, 27]) assert.equal(await s.getRev(D, 'h_ret', key, rev), undefined);
      // Kept: the 3 visible rows and the bases they build on (at most max_chain of them).
      const n = Number((await depthOf('h_ret', key)).n);
      assert.ok(n >= 3 && n <= 3 + 4, `${n} rows stored`);
      assert.ok(removed >= 30 - 7, `removed ${removed}`);
      // Writing on after the purge still works from the hidden bases.
      await s.put({ domain: D, bucket: 'h_ret', key, rev: 31, body: bodies[0] });
      assert.ok((await s.getRev(D, 'h_ret', key, 30))?.body().equals(bodies[29]));
      assert.ok((await s.getLatest(D, 'h_ret', key))?.body().equals(bodies[0]));
      assert.equal(await s.deleteKey(D, 'h_ret', key), true);
      assert.equal(Number((await depthOf('h_ret', key)).n), 0);
    });

    test('history: purges racing with writers never break a chain', async () => {
      await s.declareBucket(
        bucketSpec(D, 'h_race', { type: 'key_rev_value', compression: 'history', history: { max_chain: 4 }, retention: { policy: 'latest', count: 2, grace_seconds: 0 } }),
      );
      const key = k('prace');
      const bodies = versions(40, 4);
      let done = false;
      const purger = (async () => {
        while (!done) {
          await s.purgeExpired();
          await sleep(1);
        }
      })();
      for (let i = 0; i < bodies.length; i += 4) {
        await Promise.all(bodies.slice(i, i + 4).map((body, j) => s.put({ domain: D, bucket: 'h_race', key, rev: i + j + 1, body })));
      }
      done = true;
      await purger;
      await s.purgeExpired();
      for (const rev of [39, 40]) assert.ok((await s.getRev(D, 'h_race', key, rev))?.body().equals(bodies[rev - 1]), `rev ${rev}`);
    });

    test('history: two store instances writing one key concurrently; every render reads back', async () => {
      await s.declareBucket(bucketSpec(D, 'h_chain', { type: 'key_rev_value', compression: 'history', history: { max_chain: 4 } }));
      const other = await be.reopen();
      try {
        await other.declareBucket(bucketSpec(D, 'h_chain', { type: 'key_rev_value', compression: 'history', history: { max_chain: 4 } }));
        const key = k('two');
        const bodies = versions(24, 5);
        const res = await Promise.all(bodies.map((body, i) => (i % 2 ? other : s).put({ domain: D, bucket: 'h_chain', key, rev: i + 1, body })));
        assert.ok(Number((await depthOf('h_chain', key)).d) <= 4);
        for (const [i, r] of res.entries()) {
          for (const st of [s, other]) assert.ok((await st.getRevTid(D, 'h_chain', key, i + 1, r.tid))?.body().equals(bodies[i]), `rev ${i + 1}`);
        }
        assert.ok((await other.getLatest(D, 'h_chain', key))?.body().equals(bodies[23]));
      } finally {
        await other.close();
      }
    });

    test('history: a render written again under its own tid replaces it; renders built on it are unchanged', async () => {
      await s.declareBucket(bucketSpec(D, 'h_chain', { type: 'key_rev_value', compression: 'history', history: { max_chain: 4 } }));
      const key = k('rewrite');
      const bodies = versions(9, 6);
      const tids = ascendingTids(9);
      for (const [i, body] of bodies.entries()) await s.put({ domain: D, bucket: 'h_chain', key, rev: i + 1, tid: tids[i], body });
      const replaced = Buffer.concat([Buffer.from('<p>replaced</p>'), bodies[2]]);
      assert.equal((await s.put({ domain: D, bucket: 'h_chain', key, rev: 3, tid: tids[2], body: replaced })).status, 'created');
      await s.put({ domain: D, bucket: 'h_chain', key, rev: 9, tid: tids[8], body: replaced });
      const expect = bodies.map((b, i) => (i === 2 || i === 8 ? replaced : b));
      for (const [i, body] of expect.entries()) assert.ok((await s.getRevTid(D, 'h_chain', key, i + 1, tids[i]))?.body().equals(body), `rev ${i + 1}`);
      assert.ok((await s.getLatest(D, 'h_chain', key))?.body().equals(replaced));
      assert.equal((await s.listRevisions(D, 'h_chain', key)).items.length, 9);
    });
  }

  // ----- persistence -----------------------------------------------------------------------

  test('data and bucket declarations survive closing and reopening the store', async () => {
    const key = k('persist');
    const r = await s.put({ domain: D, bucket: 'krv_gz', key, rev: 2, body: html });
    await s.close();
    s = await be.reopen();
    await declareAll(s, be.variant);
    const g = await s.getLatest(D, 'krv_gz', key);
    assert.equal(g?.tid, r.tid);
    assert.ok(g?.body().equals(html));
  });
});
}
