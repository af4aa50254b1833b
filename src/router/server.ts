// The HTTP front: request ids, security headers, internal-caller detection, problem+json
// errors, and dispatch through the Router. Handlers write their own responses. Kept lean:
// every request of the content API's hot path goes through here.
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { CascadeError, Errors, sendProblem, toCascadeError } from '../errors/index.ts';
import { Router, type RequestContext } from './router.ts';
import type { HttpRequest, HttpResponse, ResponseWriter } from './http-types.ts';
import { isLoopbackIp } from './cidr.ts';
import { answerClientErrors } from './client-error.ts';
import { boundFields, type Logger } from '../util/logger.ts';
import { DetailRedactor } from './redact.ts';
import { EdgeErrors, MAX_URI_BYTES } from './errors.ts';
import { ClientResolver, hasForwarding, plainIp, type ForwardedHeader } from './proxy.ts';

export interface HttpServerOptions {
  router: Router;
  /** Shared secret that marks a request as internal from anywhere (header `x-cascade-internal`). */
  internalToken?: string;
  /** Treat loopback callers without a forwarding header as internal (default true). */
  loopbackIsInternal?: boolean;
  /** Proxies (addresses, CIDR ranges) whose forwarding headers name the client (default none). */
  trustedProxies?: readonly string[];
  /** The forwarding headers that count, in order of preference (default X-Forwarded-For). */
  forwardedHeaders?: readonly ForwardedHeader[];
  /** Called once per finished request, e.g. for metrics. */
  onResponse?: (ctx: RequestContext, durationMs: number) => void;
  /** Runs before dispatch; may throw a CascadeError (rate limits) or answer itself and return true. */
  before?: (ctx: RequestContext) => boolean | void;
  logger?: Logger;
  /** Host names of internal services (origins…) that error details for external callers must not name. */
  internalHosts?: readonly string[];
}

/** Headers every response carries (security, CORS); a handler's own value of one wins. */
export const DEFAULT_HEADERS: readonly (readonly [string, string])[] = [
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'origin-when-cross-origin'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['access-control-allow-origin', '*'],
  ['access-control-allow-methods', 'GET,HEAD,OPTIONS'],
  ['access-control-allow-headers', 'accept, content-type, content-length, cache-control, accept-language, api-user-agent, if-match, if-modified-since, if-none-match, dnt, accept-encoding'],
  ['access-control-expose-headers', 'etag'],
];

/**
 * The response class of Cascade's servers. The default headers and `x-request-id` are added
 * when the head is written (explicitly or by `end()`), not set one by one per request, so a
 * handler with a precomputed header set (see `precomputeHeaders`) pays for none of them.
 */
export class CascadeResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> implements HttpResponse {
  requestId = '';
  /** The default headers are still to be added by writeHead. */
  defaultsPending = true;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override writeHead(statusCode: number, reason?: any, headers?: any): this {
    if (this.defaultsPending) {
      this.defaultsPending = false;
      for (let i = 0; i < DEFAULT_HEADERS.length; i++) {
        const h = DEFAULT_HEADERS[i];
        if (!this.hasHeader(h[0])) this.setHeader(h[0], h[1]);
      }
      if (!this.hasHeader('x-request-id')) this.setHeader('x-request-id', this.requestId);
    }
    return super.writeHead(statusCode, reason, headers);
  }
}

/** A response of Cascade's server (a CascadeResponse or an in-process one), not a plain ServerResponse. */
function isCascadeResponse(res: ResponseWriter): res is HttpResponse {
  return typeof (res as Partial<HttpResponse>).defaultsPending === 'boolean';
}

/**
 * A complete response head as a flat `[name, value, …]` array: the given headers, the
 * defaults, and a last slot for `x-request-id` that `writePrecomputed` fills per request.
 */
export function precomputeHeaders(headers: readonly (readonly [string, string | number])[]): string[] {
  const out: string[] = [];
  const own = new Set<string>();
  for (const [k, v] of headers) {
    out.push(k, String(v));
    own.add(k);
  }
  for (const [k, v] of DEFAULT_HEADERS) if (!own.has(k)) out.push(k, v);
  out.push('x-request-id', '');
  return out;
}

/**
 * Writes a head built by `precomputeHeaders` (the hot path: no per-header calls). The array
 * is shared between requests; it is only touched synchronously, right before writeHead reads it.
 */
export function writePrecomputed(res: ResponseWriter, status: number, head: string[]): void {
  if (isCascadeResponse(res)) {
    head[head.length - 1] = res.requestId;
    res.defaultsPending = false;
    res.writeHead(status, head);
  } else {
    head[head.length - 1] = '';
    res.writeHead(status, head.slice(0, -2));
  }
}

export function isLoopback(addr: string | undefined): boolean {
  return isLoopbackIp(addr);
}

/** A socket's own peer address (always a valid IP): the prefix says it, no parsing needed. */
function isLoopbackPeer(peer: string): boolean {
  return peer.startsWith('127.') || peer === '::1' || peer.startsWith('::ffff:127.');
}

/** Whether the request carries the admin token in `x-cascade-internal` (compared in constant time). */
export function hasInternalToken(req: HttpRequest, token: string | undefined): boolean {
  if (!token) return false;
  const given = req.headers['x-cascade-internal'];
  if (typeof given !== 'string' || given.length !== token.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(token));
}

/**
 * Whether a request comes from inside the trust boundary: the admin token, or a loopback
 * client (resolved through trusted proxies) with no forwarding header from an untrusted hop.
 */
export function isInternalCaller(req: HttpRequest, opts: Pick<HttpServerOptions, 'internalToken' | 'loopbackIsInternal' | 'trustedProxies' | 'forwardedHeaders'>): boolean {
  if (hasInternalToken(req, opts.internalToken)) return true;
  return new ClientResolver(opts).resolve(req.socket.remoteAddress, req.headers).loopback;
}

const EMPTY_QUERY = '';

/** The per-request context; the query string is parsed only when a handler asks for it. */
class Context implements RequestContext {
  params: Record<string, string> = NO_PARAMS;
  route = 'unmatched';
  private parsedQuery: URLSearchParams | undefined = undefined;
  constructor(
    readonly req: HttpRequest,
    readonly res: HttpResponse,
    readonly method: string,
    readonly path: string,
    private readonly rawQuery: string,
    readonly requestId: string,
    readonly internal: boolean,
    readonly clientIp: string,
    readonly started: number,
  ) {}

  get query(): URLSearchParams {
    return (this.parsedQuery ??= new URLSearchParams(this.rawQuery));
  }
}

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export interface CascadeServer extends Server {
  /**
   * Runs a request built in this process (src/router/inprocess.ts) through the same handler,
   * hooks and metrics as one from a socket; it counts as internal, from loopback.
   */
  dispatch(req: HttpRequest, res: HttpResponse): void;
}

export function createHttpServer(opts: HttpServerOptions): CascadeServer {
  const { router } = opts;
  const resolver = new ClientResolver(opts);
  const token = opts.internalToken;
  const loopbackIsInternal = opts.loopbackIsInternal !== false;
  const finish = (ctx: Context): void => {
    opts.onResponse?.(ctx, performance.now() - ctx.started);
  };
  const redactor = new DetailRedactor(opts.internalHosts);
  const log = (msg: string, fields: Record<string, unknown>) => opts.logger?.(msg, boundFields(fields));
  const fail = (ctx: Context, e: unknown): void => {
    let ce = toCascadeError(e);
    if (ce.status >= 500) {
      const cause = ce.cause as Error | undefined;
      log('request failed', { requestId: ctx.requestId, path: ctx.path, status: ce.status, detail: ce.message, error: String(cause?.stack ?? (e as Error)?.stack ?? e) });
    }
    // External callers never learn internal addresses; the full detail is in the log above.
    if (!ctx.internal) {
      const pub = redactor.apply(ce);
      if (pub !== ce && ce.status < 500) log('error detail redacted', { requestId: ctx.requestId, path: ctx.path, status: ce.status, detail: ce.message });
      ce = pub;
    }
    sendProblem(ctx.res, ce, ctx.path);
  };
  // Synchronous: handlers that answer from memory return nothing and cost no promise.
  // `inside`: dispatched from this process (inprocess.ts), internal by construction.
  const handle = (req: HttpRequest, res: HttpResponse, inside?: boolean): void => {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && incomingId.length > 0 && incomingId.length <= 200 ? incomingId : randomUUID();
    res.requestId = requestId;
    // Who is calling: without trusted proxies (the default) the socket peer, allocation-free.
    const peer = req.socket.remoteAddress ?? '';
    let clientIp: string;
    let internal: boolean;
    if (inside === true) {
      clientIp = peer;
      internal = true;
    } else if (!resolver.anyTrusted) {
      clientIp = peer.charCodeAt(0) === 0x3a /* : */ ? plainIp(peer) : peer;
      internal = loopbackIsInternal && isLoopbackPeer(peer) && !hasForwarding(req.headers);
    } else {
      const c = resolver.resolve(peer, req.headers);
      clientIp = c.ip;
      internal = c.loopback;
    }
    if (!internal && token !== undefined && hasInternalToken(req, token)) internal = true;
    const ctx = new Context(req, res, req.method ?? 'GET', path, q === -1 ? EMPTY_QUERY : url.slice(q + 1), requestId, internal, clientIp, started);
    let result: Promise<void> | void;
    try {
      if (ctx.method === 'OPTIONS') {
        res.statusCode = 204;
        res.end();
        finish(ctx);
        return;
      }
      if (url.length > MAX_URI_BYTES) throw new CascadeError(EdgeErrors.uriTooLong, `the request target is longer than ${MAX_URI_BYTES} bytes`);
      if (opts.before?.(ctx)) {
        finish(ctx);
        return;
      }
      const m = router.find(ctx.method, path);
      if (!m) throw new CascadeError(Errors.notFound, `no route for ${path}`);
      if ('allowed' in m) {
        res.setHeader('allow', m.allowed.join(', '));
        throw new CascadeError(Errors.methodNotAllowed, `${ctx.method} is not allowed here`);
      }
      ctx.params = m.params;
      ctx.route = m.route;
      result = m.handler(ctx);
    } catch (e) {
      fail(ctx, e);
      finish(ctx);
      return;
    }
    // Handlers typed `void` may still return a value (e.g. `res.end()`'s): only promises are awaited.
    if (!(result instanceof Promise)) finish(ctx);
    else
      result.then(
        () => finish(ctx),
        (e: unknown) => {
          fail(ctx, e);
          finish(ctx);
        },
      );
  };
  const server = createServer({ keepAliveTimeout: 65_000, ServerResponse: CascadeResponse }, (req, res) => handle(req, res as CascadeResponse));
  answerClientErrors(server);
  return Object.assign(server, { dispatch: (req: HttpRequest, res: HttpResponse) => handle(req, res, true) });
}

/** Reads a request body up to `limit` bytes; 413 beyond it. */
export async function readBody(req: HttpRequest, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new CascadeError(Errors.payloadTooLarge, `body of ${declared} bytes exceeds the limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of { [Symbol.asyncIterator]: () => req[Symbol.asyncIterator]() }) {
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
export function sendJson(res: ResponseWriter, status: number, value: unknown, headers?: Record<string, string>): void {
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  if (headers) for (const k in headers) res.setHeader(k, headers[k]);
  res.end(body);
}
