// The HTTP front: request ids, security headers, internal-caller detection, problem+json
// errors, and dispatch through the Router. Handlers write their own responses.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { CascadeError, Errors, sendProblem, toCascadeError } from '../errors/index.ts';
import { Router, type RequestContext } from './router.ts';

export interface HttpServerOptions {
  router: Router;
  /** Shared secret that marks a request as internal from anywhere (header `x-cascade-internal`). */
  internalToken?: string;
  /** Treat loopback callers without X-Forwarded-For as internal (default true). */
  loopbackIsInternal?: boolean;
  /** Called once per finished request, e.g. for metrics. */
  onResponse?: (ctx: RequestContext, durationMs: number) => void;
  /** Runs before dispatch; may throw a CascadeError (rate limits) or answer itself and return true. */
  before?: (ctx: RequestContext) => boolean | void;
  logger?: (msg: string, fields?: Record<string, unknown>) => void;
}

const SECURITY_HEADERS: [string, string][] = [
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'origin-when-cross-origin'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['access-control-allow-origin', '*'],
  ['access-control-allow-methods', 'GET,HEAD,OPTIONS'],
  ['access-control-allow-headers', 'accept, content-type, content-length, cache-control, accept-language, api-user-agent, if-match, if-modified-since, if-none-match, dnt, accept-encoding'],
  ['access-control-expose-headers', 'etag'],
];

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.');
}

export function isInternalCaller(req: IncomingMessage, opts: Pick<HttpServerOptions, 'internalToken' | 'loopbackIsInternal'>): boolean {
  const token = req.headers['x-cascade-internal'];
  if (opts.internalToken && typeof token === 'string' && token === opts.internalToken) return true;
  if (opts.loopbackIsInternal === false) return false;
  // A proxy or CDN in front of us on loopback forwards for external clients.
  return isLoopback(req.socket.remoteAddress) && req.headers['x-forwarded-for'] === undefined;
}

export function createHttpServer(opts: HttpServerOptions): Server {
  const { router } = opts;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && incomingId.length > 0 && incomingId.length <= 200 ? incomingId : randomUUID();
    for (const [k, v] of SECURITY_HEADERS) res.setHeader(k, v);
    res.setHeader('x-request-id', requestId);
    const ctx: RequestContext = {
      req,
      res,
      method: req.method ?? 'GET',
      path,
      params: {},
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      requestId,
      internal: isInternalCaller(req, opts),
      route: 'unmatched',
    };
    try {
      if (ctx.method === 'OPTIONS') {
        res.statusCode = 204;
        res.end();
        return;
      }
      if (opts.before?.(ctx)) return;
      const m = router.find(ctx.method, path);
      if (!m) throw new CascadeError(Errors.notFound, `no route for ${path}`);
      if ('allowed' in m) {
        res.setHeader('allow', m.allowed.join(', '));
        throw new CascadeError(Errors.methodNotAllowed, `${ctx.method} is not allowed here`);
      }
      ctx.params = m.params;
      ctx.route = m.route;
      await m.handler(ctx);
    } catch (e) {
      const ce = toCascadeError(e);
      if (ce.status >= 500) opts.logger?.('request failed', { requestId, path, error: String((e as Error)?.stack ?? e) });
      sendProblem(res, ce, path);
    } finally {
      opts.onResponse?.(ctx, performance.now() - started);
    }
  };
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    void handle(req, res);
  });
  return server;
}

/** Reads a request body up to `limit` bytes; 413 beyond it. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new CascadeError(Errors.payloadTooLarge, `body of ${declared} bytes exceeds the limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new CascadeError(Errors.payloadTooLarge, `body exceeds the limit of ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

/** Sends a JSON response. */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>): void {
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  if (headers) for (const k in headers) res.setHeader(k, headers[k]);
  res.end(body);
}
