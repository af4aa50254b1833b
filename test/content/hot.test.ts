// The hot path's memory: ServedEntry (codings computed once and kept, decoded copies for
// derivation not kept, precomputed heads) on a real stored render of the corpus' Dog page,
// the byte-bounded HotCache, and end to end: TTL revalidation keeps an unchanged entry (and
// its computed gzip), picks up a render another instance stored, HEAD and 304 on the hot path.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { configFromYaml } from '../../src/config/index.ts';
import { HTML_TYPE, injectTid } from '../../src/content/index.ts';
import { HotCache, pageOfHotKey, ServedEntry } from '../../src/content/hot.ts';
import { DEFAULT_HEADERS } from '../../src/router/server.ts';
import { openStore } from '../../src/storage/index.ts';
import { storeShared } from '../../src/config/shared.ts';
import type { ContentStore, StoredRecord } from '../../src/storage/types.ts';
import { newTid } from '../../src/util/tid.ts';
import { corpusPath } from '../helpers/corpus.ts';
import { startHarness, type Harness } from './harness.ts';
import { until } from '../helpers/wait.ts';

const opts = { contentType: HTML_TYPE, cacheControl: 's-maxage=10, max-age=0, must-revalidate', surrogateKey: 'example.wiki/Dog' };

describe('ServedEntry on a stored brotli render (Dog, 875 KB)', () => {
  let dir: string;
  let store: ContentStore;
  let rec: StoredRecord;
  let html: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cascade-hot-'));
    const config = configFromYaml(
      `
data_dir: ${JSON.stringify(dir)}
default_domain: example.wiki
wiki: { enabled: false }
domains:
  example.wiki:
    origin: { url: "http://127.0.0.1:9" }
    buckets:
      html: { type: key_rev_value, compression: brotli }
`,
      '<test>',
      {},
    );
    store = await openStore(config.storage, storeShared(config));
    const tid = newTid();
    html = injectTid(readFileSync(corpusPath('html', 'Dog.html'), 'utf8'), tid);
    await store.put({ domain: 'example.wiki', bucket: 'html', key: 'Dog', rev: 7, tid, contentType: HTML_TYPE, body: html });
    rec = (await store.getLatest('example.wiki', 'html', 'Dog'))!;
    assert.equal(rec.encoding, 'br');
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('picks the stored coding when accepted, else gzip, else identity', () => {
    const e = new ServedEntry(rec, opts);
    assert.equal(e.pick('gzip, deflate, br'), 'br');
    assert.equal(e.pick('gzip'), 'gzip');
    assert.equal(e.pick(undefined), 'identity');
    assert.equal(e.pick('deflate'), 'identity');
    assert.equal(e.variant('br'), rec.stored, 'the stored bytes are sent as they are');
    assert.equal(e.variant('gzip'), undefined);
  });

  it('computes gzip once for concurrent callers, keeps it and accounts for it; text() keeps nothing', async () => {
    const e = new ServedEntry(rec, opts);
    const size0 = e.size;
    assert.ok(size0 >= rec.stored.length && size0 < rec.stored.length + 16384);
    const [a, b] = await Promise.all([e.materialize('gzip'), e.materialize('gzip')]);
    assert.equal(a, b, 'one computation');
    assert.equal(e.variant('gzip'), a);
    assert.equal(gunzipSync(a).toString('utf8'), html);
    assert.equal(e.size, size0 + a.length);
    assert.equal(await e.text(), html);
    assert.equal(e.variant('identity'), undefined, 'the decoded copy for derivation is not kept');
    assert.equal(e.size, size0 + a.length);
  });

  it('precomputes one head per coding with the entity headers, the defaults and an x-request-id slot', () => {
    const e = new ServedEntry(rec, opts);
    const h = e.head('gzip', 1234);
    assert.equal(e.head('gzip', 1234), h, 'computed once');
    const m = new Map<string, string>();
    for (let i = 0; i < h.length; i += 2) {
      assert.ok(!m.has(h[i]), `${h[i]} once`);
      m.set(h[i], h[i + 1]);
    }
    assert.equal(m.get('etag'), `"7/${rec.tid}"`);
    assert.equal(m.get('content-type'), HTML_TYPE);
    assert.equal(m.get('content-encoding'), 'gzip');
    assert.equal(m.get('content-length'), '1234');
    assert.equal(m.get('vary'), 'Accept-Encoding');
    assert.equal(m.get('surrogate-key'), 'example.wiki/Dog');
    for (const [k, v] of DEFAULT_HEADERS) assert.equal(m.get(k), v);
    assert.equal(h[h.length - 2], 'x-request-id');
    assert.equal(e.head('identity', 99).includes('content-encoding'), false);
  });
});

/** An entry of about `bytes` bytes (a synthetic identity record). */
function entryOf(bytes: number, tid = newTid()): ServedEntry {
  const body = Buffer.alloc(bytes, 0x61);
  return new ServedEntry({ key: 'k', rev: 1, tid, contentType: 'text/plain', headers: {}, encoding: 'identity', stored: body, body: () => body, writtenAt: Date.now() }, opts);
}

describe('HotCache', () => {
  it('stays within its byte bound, evicting the least recently used; refuses entries over a quarter of it', () => {
    const c = new HotCache(1_000_000, 60_000);
    for (let i = 0; i < 10; i++) c.set(`k${i}`, entryOf(150_000));
    assert.ok(c.totalBytes <= 1_000_000, String(c.totalBytes));
    assert.equal(c.peek('k0'), undefined, 'the oldest went first');
    assert.ok(c.peek('k9'));
    c.set('big', entryOf(300_000));
    assert.equal(c.peek('big'), undefined);
    // Re-accounting a grown entry evicts others to make room.
    const e = c.peek('k9')!;
    const before = c.count;
    e.size += 400_000;
    c.grew(e);
    assert.ok(c.totalBytes <= 1_000_000);
    assert.ok(c.count < before);
    assert.equal(c.peek('k9'), e, 'the grown (most recent) entry stays');
    for (const k of ['k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9']) c.delete(k);
    assert.equal(c.totalBytes, 0);
  });

  it('counts an entry held under several keys once, until its last key goes', () => {
    const c = new HotCache(1_000_000, 60_000);
    const e = entryOf(100_000);
    c.set('latest', e);
    c.set('rev/1', e);
    c.set('rev/1', e);
    assert.equal(c.totalBytes, e.size);
    e.size += 50_000;
    c.grew(e);
    assert.equal(c.totalBytes, e.size);
    c.delete('latest');
    assert.equal(c.totalBytes, e.size);
    assert.equal(c.peek('rev/1'), e);
    c.set('rev/1', entryOf(10));
    assert.ok(c.totalBytes < 20_000, 'replacing the last key frees the entry');
  });

  it('answers get() only while fresh; peek() still sees an expired entry', () => {
    const c = new HotCache(1_000_000, 100);
    const e = entryOf(10);
    c.set('a', e);
    assert.equal(c.get('a', e.loadedAt + 50), e);
    assert.equal(c.get('a', e.loadedAt + 101), undefined);
    assert.equal(c.peek('a'), e);
  });

  it('drops every entry of one page by its index, and only that page', () => {
    const c = new HotCache(10_000_000, 60_000);
    const k = (domain: string, bucket: string, key: string, rev = '') => `${domain}\u0000${bucket}\u0000${key}\u0000${rev}`;
    const html = entryOf(1000);
    c.set(k('a.wiki', 'html', 'Foo'), html);
    c.set(k('a.wiki', 'html', 'Foo', '7'), html);
    c.set(k('a.wiki', 'summary', 'Foo'), entryOf(100));
    c.set(k('a.wiki', 'mobile-html', 'Foo'), entryOf(100));
    // Neighbours a prefix scan could confuse: a longer title, another domain, another page.
    const keep = [k('a.wiki', 'html', 'Foo_bar'), k('b.wiki', 'html', 'Foo'), k('a.wiki', 'summary', 'Bar')];
    const kept = keep.map(() => entryOf(10));
    keep.forEach((key, i) => c.set(key, kept[i]));
    assert.equal(pageOfHotKey(k('a.wiki', 'summary', 'Foo', '7')), 'a.wiki\u0000Foo');
    c.deletePage('a.wiki', 'Foo');
    assert.equal(c.count, keep.length);
    for (const key of keep) assert.ok(c.peek(key), key);
    assert.equal(c.totalBytes, kept.reduce((n, e) => n + e.size, 0), 'the dropped entries are no longer counted');
    c.deletePage('a.wiki', 'Foo'); // nothing left: no error
    for (const key of keep) c.delete(key);
    assert.equal(c.totalBytes, 0);
  });
});

describe('hot path end to end (ttl 300 ms)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(`  access_check_max_age_seconds: 300
  hot_cache: { max_bytes: 8388608, ttl_ms: 300 }`);
  });
  after(async () => {
    await h.close();
  });
  /** Waits until the entry is past the ttl (300 ms) by its own clock reading, not a guessed sleep. */
  const expired = async (entry: { loadedAt: number }) => {
    await until(() => Date.now() - entry.loadedAt > 300, 10_000, 'the entry past its ttl');
  };

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((res, rej) => {
      request(h.url + path, { method, headers }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
      })
        .on('error', rej)
        .end();
    });

  it('revalidates an expired entry against the store and keeps it (with its gzip) when unchanged', async () => {
    const a = await get('/api/rest_v1/page/html/Larkford', { 'accept-encoding': 'gzip' });
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-encoding'], 'gzip');
    const svc = h.app.content.service;
    const entry = svc.hotHtml('example.wiki', 'Larkford')!;
    assert.ok(entry.variant('gzip'), 'gzip computed by the first request and kept');
    const loaded = entry.loadedAt;
    await expired(entry);
    const b = await get('/api/rest_v1/page/html/Larkford', { 'accept-encoding': 'gzip' });
    assert.equal(b.status, 200);
    assert.equal(b.headers.etag, a.headers.etag);
    assert.deepEqual(b.body, a.body);
    assert.equal(svc.hotHtml('example.wiki', 'Larkford'), entry, 'same entry after revalidation');
    assert.ok(entry.loadedAt > loaded);
  });

  it('serves a newer render another instance stored once the entry expires', async () => {
    const a = await get('/api/rest_v1/page/html/Larkford');
    const rev = Number(/^"(\d+)\//.exec(String(a.headers.etag))![1]);
    const tid = newTid();
    const body = injectTid(a.body.toString('utf8').replace(/<meta property="mw:TimeUuid"[^>]*>/, ''), tid);
    const cached = h.app.content.service.hotHtml('example.wiki', 'Larkford');
    await h.app.store.put({ domain: 'example.wiki', bucket: 'html', key: 'Larkford', rev, tid, contentType: HTML_TYPE, body });
    if (cached) await expired(cached);
    const b = await get('/api/rest_v1/page/html/Larkford');
    assert.equal(b.headers.etag, `"${rev}/${tid}"`);
    assert.equal(b.body.toString('utf8'), body);
  });

  it('names only configured domains (not inherited object properties)', async () => {
    for (const d of ['__proto__', 'constructor', 'toString']) {
      const r = await get(`/${d}/v1/page/html/Larkford`);
      assert.equal(r.status, 404, d);
      assert.match(String(r.headers['content-type']), /problem\+json/);
    }
  });

  it('answers HEAD and If-None-Match from the hot entry with all headers', async () => {
    const a = await get('/api/rest_v1/page/html/Larkford', { 'accept-encoding': 'gzip' });
    const head = await get('/api/rest_v1/page/html/Larkford', { 'accept-encoding': 'gzip', 'x-request-id': 'head-1' }, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(a.body.length));
    assert.equal(head.headers['x-request-id'], 'head-1');
    const nm = await get('/api/rest_v1/page/html/Larkford', { 'if-none-match': String(a.headers.etag), 'x-request-id': 'inm-1' });
    assert.equal(nm.status, 304);
    assert.equal(nm.headers.etag, a.headers.etag);
    assert.equal(nm.headers['x-request-id'], 'inm-1');
    assert.equal(nm.headers['x-content-type-options'], 'nosniff');
    assert.match(String(nm.headers['cache-control']), /s-maxage=/);
  });
});
