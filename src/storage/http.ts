// The store's internal HTTP API, RESTBase style, under /{domain}/sys/…. Only callers inside
// the trust boundary may use it; everyone else gets 403, as RESTBase answered for /sys.
import type { ResponseWriter } from '../router/http-types.ts';
import { CascadeError, Errors } from '../errors/index.ts';
import type { Router, RequestContext } from '../router/router.ts';
import { readBody, sendJson } from '../router/server.ts';
import { parseRev, validateTid } from './common.ts';
import { StorageErrors } from './errors.ts';
import { STORAGE_LIMITS, type BucketType, type ContentStore, type PutRequest, type PutResult, type StoredRecord } from './types.ts';

// Headers describing the transfer, not the content: never replayed from storage.
const NOT_STORED = new Set(['content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive', 'etag', 'vary', 'date']);

export function mountStorage(router: Router, store: ContentStore): void {
  const kv = '/{domain}/sys/key_value/{bucket}';
  const krv = '/{domain}/sys/key_rev_value/{bucket}';

  router.add('GET', `${kv}/`, guard((ctx) => listKeys(store, ctx, 'key_value')));
  router.add('GET', `${kv}/{key}`, guard(async (ctx) => sendRecord(ctx, await store.getLatest(...target(store, ctx, 'key_value')))));
  router.add('PUT', `${kv}/{key}`, guard((ctx) => put(store, ctx, 'key_value', undefined, undefined)));
  router.add('DELETE', `${kv}/{key}`, guard((ctx) => del(store, ctx, 'key_value')));

  router.add('GET', `${krv}/`, guard((ctx) => listKeys(store, ctx, 'key_rev_value')));
  router.add('GET', `${krv}/{key}`, guard(async (ctx) => sendRecord(ctx, await store.getLatest(...target(store, ctx, 'key_rev_value')))));
  router.add('DELETE', `${krv}/{key}`, guard((ctx) => del(store, ctx, 'key_rev_value')));
  router.add('GET', `${krv}/{key}/`, guard(async (ctx) => {
    const [d, b, k] = target(store, ctx, 'key_rev_value');
    sendJson(ctx.res, 200, await store.listRevisions(d, b, k, listOptions(ctx)));
  }));
  router.add('GET', `${krv}/{key}/{rev}`, guard(async (ctx) => {
    const [d, b, k] = target(store, ctx, 'key_rev_value');
    sendRecord(ctx, await store.getRev(d, b, k, parseRev(ctx.params.rev)));
  }));
  router.add('PUT', `${krv}/{key}/{rev}`, guard((ctx) => put(store, ctx, 'key_rev_value', parseRev(ctx.params.rev), undefined)));
  router.add('GET', `${krv}/{key}/{rev}/{tid}`, guard(async (ctx) => {
    const [d, b, k] = target(store, ctx, 'key_rev_value');
    sendRecord(ctx, await store.getRevTid(d, b, k, parseRev(ctx.params.rev), validateTid(ctx.params.tid)));
  }));
  router.add('PUT', `${krv}/{key}/{rev}/{tid}`, guard((ctx) => put(store, ctx, 'key_rev_value', parseRev(ctx.params.rev), validateTid(ctx.params.tid))));
}

function guard(h: (ctx: RequestContext) => Promise<void> | void) {
  return (ctx: RequestContext) => {
    if (!ctx.internal) throw new CascadeError(Errors.forbidden, 'the storage API is internal');
    return h(ctx);
  };
}

/** domain, bucket, key of the request; the bucket must exist with the type the path names. */
function target(store: ContentStore, ctx: RequestContext, type: BucketType): [string, string, string] {
  const { domain, bucket, key } = ctx.params;
  const spec = store.bucket(domain, bucket);
  if (!spec || spec.type !== type) throw new CascadeError(StorageErrors.unknownBucket, `no ${type} bucket ${JSON.stringify(bucket)} in domain ${JSON.stringify(domain)}`);
  return [domain, bucket, key ?? ''];
}

function listOptions(ctx: RequestContext): { limit?: number; pageToken?: string } {
  const limit = ctx.query.get('limit');
  const page = ctx.query.get('page');
  if (limit !== null && !/^\d{1,4}$/.test(limit)) throw new CascadeError(StorageErrors.badPageToken, 'limit must be an integer');
  return { ...(limit !== null ? { limit: Number(limit) } : {}), ...(page ? { pageToken: page } : {}) };
}

async function listKeys(store: ContentStore, ctx: RequestContext, type: BucketType): Promise<void> {
  const [d, b] = target(store, ctx, type);
  sendJson(ctx.res, 200, await store.listKeys(d, b, listOptions(ctx)));
}

async function del(store: ContentStore, ctx: RequestContext, type: BucketType): Promise<void> {
  const [d, b, k] = target(store, ctx, type);
  if (!(await store.deleteKey(d, b, k))) throw new CascadeError(Errors.notFound, `no key ${JSON.stringify(k)}`);
  ctx.res.statusCode = 204;
  ctx.res.end();
}

async function put(store: ContentStore, ctx: RequestContext, type: BucketType, rev: number | undefined, tid: string | undefined): Promise<void> {
  const [domain, bucket, key] = target(store, ctx, type);
  const h = ctx.req.headers;
  const req: PutRequest = { domain, bucket, key, body: await readBody(ctx.req, STORAGE_LIMITS.maxBodyBytes) };
  if (rev !== undefined) req.rev = rev;
  if (tid !== undefined) req.tid = tid;
  if (h['content-type']) req.contentType = h['content-type'];
  const stored = h['x-cascade-headers'];
  if (typeof stored === 'string') req.headers = parseStoredHeaders(stored);
  if (h['if-none-match'] === '*') req.ifNotExists = true;
  const ius = h['if-unmodified-since'];
  if (ius !== undefined) {
    const t = Date.parse(ius);
    if (Number.isNaN(t)) throw new CascadeError(Errors.badRequest, 'if-unmodified-since is not an HTTP date');
    // HTTP dates have second resolution: a render inside that second is not "since".
    req.ifUnmodifiedSince = t + 999;
  }
  if (h['x-cascade-skip-unchanged'] === 'false') req.skipUnchanged = false;
  const r: PutResult = await store.put(req);
  if (r.status === 'conflict') {
    throw new CascadeError(Errors.preconditionFailed, 'a newer or existing render is stored', { extra: { tid: r.tid, ...(r.rev !== undefined ? { rev: r.rev } : {}) } });
  }
  sendJson(ctx.res, r.status === 'created' ? 201 : 200, r, { etag: etag(r.rev, r.tid) });
}

function parseStoredHeaders(s: string): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new CascadeError(Errors.badRequest, 'x-cascade-headers must be a JSON object of strings');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CascadeError(Errors.badRequest, 'x-cascade-headers must be a JSON object of strings');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(k) || /[\r\n]/.test(x)) throw new CascadeError(Errors.badRequest, `bad stored header ${JSON.stringify(k)}`);
    out[k.toLowerCase()] = x;
  }
  return out;
}

const etag = (rev: number | undefined, tid: string) => `"${rev ?? 0}/${tid}"`;

/** Whether the client's Accept-Encoding admits `coding` (q=0 refuses it). */
export function acceptsEncoding(header: string | undefined, coding: string): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    const n = name.trim().toLowerCase();
    if (n !== coding && n !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  }
  return false;
}

function sendRecord(ctx: RequestContext, rec: StoredRecord | undefined): void {
  if (!rec) throw new CascadeError(Errors.notFound, 'not found');
  const res: ResponseWriter = ctx.res;
  for (const [k, v] of Object.entries(rec.headers)) if (!NOT_STORED.has(k)) res.setHeader(k, v);
  if (rec.contentType) res.setHeader('content-type', rec.contentType);
  res.setHeader('etag', etag(rec.rev, rec.tid));
  res.setHeader('x-cascade-tid', rec.tid);
  if (rec.rev !== undefined) res.setHeader('x-cascade-rev', String(rec.rev));
  let body: Buffer;
  if (rec.encoding !== 'identity') {
    res.setHeader('vary', 'accept-encoding');
    if (acceptsEncoding(ctx.req.headers['accept-encoding'], rec.encoding)) {
      // The bytes at rest are already in a coding the client takes: no recompression.
      res.setHeader('content-encoding', rec.encoding);
      body = rec.stored;
    } else body = rec.body();
  } else body = rec.stored;
  res.statusCode = 200;
  res.setHeader('content-length', body.length);
  res.end(body);
}
