// The store's internal HTTP API (/{domain}/sys/…) on a real server and a real SQLite store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { Router } from '../../src/router/router.ts';
import { createHttpServer } from '../../src/router/server.ts';
import { SqliteStore, bucketSpec, mountStorage } from '../../src/storage/index.ts';
import { isTid } from '../../src/util/tid.ts';
import { corpusPath } from '../helpers/corpus.ts';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): Record<string, unknown>;
}

function call(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json: () => JSON.parse(b.toString()) as Record<string, unknown> });
      });
    });
    req.once('error', reject);
    req.end(body);
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const D = 'http.example';
const html = readFileSync(corpusPath('html', 'wiktionary-avere.html'));

describe('storage HTTP API', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-http-'));
  let store: SqliteStore;
  let server: Server;
  let strict: Server;
  let base: string;
  let strictBase: string;
  const TOKEN = 'internal-token-0123456789';

  before(async () => {
    store = SqliteStore.open({ path: join(dir, 's.sqlite') });
    await store.declareBucket(bucketSpec(D, 'html', { type: 'key_rev_value', compression: 'brotli' }));
    await store.declareBucket(bucketSpec(D, 'meta', { type: 'key_value', compression: 'none' }));
    const router = new Router();
    mountStorage(router, store);
    server = createHttpServer({ router });
    strict = createHttpServer({ router, loopbackIsInternal: false, internalToken: TOKEN });
    base = await listen(server);
    strictBase = await listen(strict);
  });
  after(async () => {
    for (const s of [server, strict]) {
      await new Promise<void>((r) => s.close(() => r()));
      s.closeAllConnections();
    }
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('external callers get 403 problem+json, with X-Forwarded-For or when loopback is not trusted', async () => {
    await store.put({ domain: D, bucket: 'meta', key: 'secret', body: 'x' });
    for (const [b, h] of [
      [base, { 'x-forwarded-for': '203.0.113.9' }],
      [strictBase, {}],
    ] as const) {
      for (const [m, p] of [
        ['GET', `/${D}/sys/key_value/meta/secret`],
        ['PUT', `/${D}/sys/key_value/meta/secret`],
        ['DELETE', `/${D}/sys/key_value/meta/secret`],
        ['GET', `/${D}/sys/key_rev_value/html/`],
      ]) {
        const r = await call(b, m, p, h, m === 'PUT' ? 'evil' : undefined);
        assert.equal(r.status, 403, `${m} ${p}`);
        assert.equal(r.headers['content-type'], 'application/problem+json');
        assert.equal(r.json().code, 'CASCADE_FORBIDDEN');
      }
    }
    assert.equal((await store.getLatest(D, 'meta', 'secret'))?.body().toString(), 'x');
    // The internal token makes a non-loopback-trusted caller internal.
    const ok = await call(strictBase, 'GET', `/${D}/sys/key_value/meta/secret`, { 'x-cascade-internal': TOKEN });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), 'x');
  });

  test('PUT a revision, GET it back latest, by rev and by rev/tid; unchanged on identical body', async () => {
    const put = await call(base, 'PUT', `/${D}/sys/key_rev_value/html/Main_Page/42`, { 'content-type': 'text/html; charset=utf-8', 'x-cascade-headers': '{"content-language":"it"}' }, html);
    assert.equal(put.status, 201);
    const pj = put.json();
    assert.equal(pj.status, 'created');
    assert.equal(pj.rev, 42);
    assert.ok(isTid(pj.tid as string));
    const tid = pj.tid as string;

    for (const p of ['Main_Page', 'Main_Page/42', `Main_Page/42/${tid}`]) {
      const g = await call(base, 'GET', `/${D}/sys/key_rev_value/html/${p}`);
      assert.equal(g.status, 200, p);
      assert.ok(g.body.equals(html), p);
      assert.equal(g.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(g.headers['content-language'], 'it');
      assert.equal(g.headers['etag'], `"42/${tid}"`);
      assert.equal(g.headers['x-cascade-rev'], '42');
      assert.equal(g.headers['content-encoding'], undefined);
    }
    const again = await call(base, 'PUT', `/${D}/sys/key_rev_value/html/Main_Page/42`, { 'content-type': 'text/html' }, html);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json(), { status: 'unchanged', tid, rev: 42 });
  });

  test('stored brotli bytes are sent as they are to a client that accepts br', async () => {
    await call(base, 'PUT', `/${D}/sys/key_rev_value/html/Enc/1`, { 'content-type': 'text/html' }, html);
    const rec = await store.getLatest(D, 'html', 'Enc');
    const br = await call(base, 'GET', `/${D}/sys/key_rev_value/html/Enc`, { 'accept-encoding': 'gzip, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['vary'], 'accept-encoding');
    assert.ok(br.body.equals(rec!.stored), 'the stored bytes, not a recompression');
    assert.ok(zlib.brotliDecompressSync(br.body).equals(html));
    const refused = await call(base, 'GET', `/${D}/sys/key_rev_value/html/Enc`, { 'accept-encoding': 'gzip, br;q=0' });
    assert.equal(refused.headers['content-encoding'], undefined);
    assert.ok(refused.body.equals(html));
  });

  test('explicit tid PUT, revision listing and key listing with paging', async () => {
    const t1 = '11111111-1111-1111-8111-111111111111';
    const r = await call(base, 'PUT', `/${D}/sys/key_rev_value/html/Listed/1/${t1}`, {}, 'old');
    assert.equal(r.status, 201);
    assert.equal(r.json().tid, t1);
    await call(base, 'PUT', `/${D}/sys/key_rev_value/html/Listed/2`, {}, 'new');
    const l = await call(base, 'GET', `/${D}/sys/key_rev_value/html/Listed/`);
    assert.equal(l.status, 200);
    const items = l.json().items as { rev: number; tid: string }[];
    assert.deepEqual(items.map((i) => i.rev), [2, 1]);
    assert.equal(items[1].tid, t1);

    const p1 = await call(base, 'GET', `/${D}/sys/key_rev_value/html/?limit=2`);
    const j1 = p1.json() as { items: string[]; next?: string };
    assert.equal(j1.items.length, 2);
    assert.ok(j1.next);
    const p2 = await call(base, 'GET', `/${D}/sys/key_rev_value/html/?limit=100&page=${j1.next}`);
    const all = [...j1.items, ...(p2.json() as { items: string[] }).items];
    assert.deepEqual(all, [...all].sort());
    assert.ok(all.includes('Listed') && all.includes('Main_Page') && all.includes('Enc'));
  });

  test('key_value PUT/GET/DELETE, with a percent-encoded key', async () => {
    const path = `/${D}/sys/key_value/meta/${encodeURIComponent('User:Ann/Sand box')}`;
    assert.equal((await call(base, 'PUT', path, { 'content-type': 'application/json' }, '{"a":1}')).status, 201);
    const g = await call(base, 'GET', path);
    assert.equal(g.status, 200);
    assert.equal(g.body.toString(), '{"a":1}');
    assert.equal(g.headers['content-type'], 'application/json');
    assert.ok((await store.getLatest(D, 'meta', 'User:Ann/Sand box')) !== undefined);
    assert.equal((await call(base, 'DELETE', path)).status, 204);
    assert.equal((await call(base, 'GET', path)).status, 404);
    assert.equal((await call(base, 'DELETE', path)).status, 404);
  });

  test('conditional PUTs: If-None-Match: * and If-Unmodified-Since answer 412', async () => {
    const p = `/${D}/sys/key_rev_value/html/Cond/1`;
    assert.equal((await call(base, 'PUT', p, { 'if-none-match': '*' }, 'a')).status, 201);
    const c = await call(base, 'PUT', p, { 'if-none-match': '*' }, 'b');
    assert.equal(c.status, 412);
    assert.equal(c.json().code, 'CASCADE_PRECONDITION_FAILED');
    assert.ok(isTid(c.json().tid as string));
    const past = new Date(Date.now() - 3600_000).toUTCString();
    assert.equal((await call(base, 'PUT', p, { 'if-unmodified-since': past }, 'b')).status, 412);
    const future = new Date(Date.now() + 3600_000).toUTCString();
    assert.equal((await call(base, 'PUT', p, { 'if-unmodified-since': future }, 'b')).status, 201);
    assert.equal((await call(base, 'PUT', p, { 'if-unmodified-since': 'yesterday-ish' }, 'c')).status, 400);
  });

  test('bad input answers typed problem+json errors', async () => {
    const cases: [string, string, number, string][] = [
      ['GET', `/${D}/sys/key_rev_value/html/Main_Page/abc`, 400, 'CASCADE_STORAGE_BAD_REV'],
      ['PUT', `/${D}/sys/key_rev_value/html/Main_Page/1.5`, 400, 'CASCADE_STORAGE_BAD_REV'],
      ['GET', `/${D}/sys/key_rev_value/html/Main_Page/42/not-a-tid`, 400, 'CASCADE_STORAGE_BAD_TID'],
      ['GET', `/${D}/sys/key_rev_value/nope/x`, 404, 'CASCADE_STORAGE_UNKNOWN_BUCKET'],
      ['GET', `/${D}/sys/key_rev_value/meta/x`, 404, 'CASCADE_STORAGE_UNKNOWN_BUCKET'],
      ['GET', `/other.example/sys/key_value/meta/x`, 404, 'CASCADE_STORAGE_UNKNOWN_BUCKET'],
      ['GET', `/${D}/sys/key_value/meta/${'k'.repeat(2049)}`, 400, 'CASCADE_STORAGE_KEY_TOO_LONG'],
      ['GET', `/${D}/sys/key_rev_value/html/?page=%%%`, 400, 'CASCADE_STORAGE_BAD_PAGE_TOKEN'],
      ['GET', `/${D}/sys/key_rev_value/html/Nothing_Here`, 404, 'CASCADE_NOT_FOUND'],
      ['POST', `/${D}/sys/key_value/meta/x`, 405, 'CASCADE_METHOD_NOT_ALLOWED'],
    ];
    for (const [m, p, status, code] of cases) {
      const r = await call(base, m, p, {}, m === 'PUT' || m === 'POST' ? 'x' : undefined);
      assert.equal(r.status, status, `${m} ${p.slice(0, 80)}`);
      assert.equal(r.headers['content-type'], 'application/problem+json');
      assert.equal(r.json().code, code, `${m} ${p.slice(0, 80)}`);
    }
  });
});
