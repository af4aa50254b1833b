// Requests from inside the process (change propagation's rules that target Cascade itself)
// dispatched through the server's handler without a loopback socket.
//
// The pair implements what handlers may use (http-types.ts) with the semantics of Node's
// IncomingMessage and ServerResponse for that subset: setHeader/writeHead merging and
// validation, the default headers and x-request-id, HEAD, 204 and 304 without a body, writes
// and pipes (an event emitter with write/end, as Node's own legacy streams), 'finish' and
// 'close'. Node's real pair costs a socket, a head serialized and parsed back and several
// stream states per request; these keep the headers as a map and the body as its chunks.
import { EventEmitter } from 'node:events';
import { validateHeaderName, validateHeaderValue, type IncomingHttpHeaders, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';
import type { HttpRequest, HttpResponse } from './http-types.ts';
import { DEFAULT_HEADERS } from './server.ts';

export interface InProcessRequest {
  method: string;
  /** Path and query string (`/example.org/v1/page/html/Foo?x=1`). */
  url: string;
  /** Lower-case names. The object becomes the request's own (handlers see it, not a copy). */
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface InProcessResponse {
  status: number;
  /** Lower-case names; a header sent more than once is an array. */
  headers: Record<string, string | string[]>;
  /** At most `maxBody` bytes of the body. */
  body: Buffer;
  /** No finished response within the timeout (status 504). */
  timedOut?: true;
  /** Why there is no complete response (timeout, or the handler destroyed it); the status is then 504 or 503. */
  error?: string;
}

/** The server's handler as `createHttpServer` exposes it: the request counts as internal, from loopback. */
export type Dispatch = (req: HttpRequest, res: HttpResponse) => void;

/** The peer address an in-process request reports (`ctx.clientIp`). */
export const IN_PROCESS_PEER = '127.0.0.1';
const PEER = Object.freeze({ remoteAddress: IN_PROCESS_PEER });
const DEFAULT_NAMES = new Set(DEFAULT_HEADERS.map(([k]) => k));
const NO_BODY = Buffer.alloc(0);

/** The request: its headers and a body given whole. */
export class LocalRequest implements HttpRequest {
  readonly socket = PEER;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly headers: IncomingHttpHeaders,
    private body: Buffer,
  ) {}

  resume(): this {
    this.body = NO_BODY;
    return this;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const b = this.body;
    this.body = NO_BODY;
    if (b.length > 0) yield b;
  }
}

/** What Node refuses in a header value or status message. */
const INVALID_HEADER_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
const httpError = (code: string, message: string, E: ErrorConstructor = Error) => Object.assign(new E(message), { code });

/**
 * The response. `settle` is called once: when it ends, is destroyed, or (from the dispatcher)
 * times out; after that, writes are dropped.
 */
export class LocalResponse extends EventEmitter implements HttpResponse {
  statusCode = 200;
  headersSent = false;
  requestId = '';
  defaultsPending = true;
  /** Lower-case name → value as set (arrays for repeated headers). */
  private readonly out = new Map<string, OutgoingHttpHeader>();
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private hasBody: boolean;
  private ended = false;
  /** The head includes the default headers and x-request-id wherever the handler set none. */
  private withDefaults = false;
  settled = false;
  /** The dispatcher's timeout, armed only for a response still open once the handler returned. */
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    method: string,
    private readonly cap: number,
    private readonly settle: (res: LocalResponse, error?: string) => void,
  ) {
    super();
    this.hasBody = method !== 'HEAD';
  }

  get writable(): boolean {
    return !this.ended && !this.settled;
  }

  setHeader(name: string, value: OutgoingHttpHeader | readonly string[]): this {
    if (this.headersSent) throw httpError('ERR_HTTP_HEADERS_SENT', 'Cannot set headers after they are sent to the client');
    validateHeaderName(name);
    validateHeaderValue(name, value as string); // any header value: its types say string only
    this.out.set(name.toLowerCase(), Array.isArray(value) ? [...(value as string[])] : (value as OutgoingHttpHeader));
    return this;
  }

  hasHeader(name: string): boolean {
    const k = name.toLowerCase();
    return this.out.has(k) || (this.withDefaults && (k === 'x-request-id' || DEFAULT_NAMES.has(k)));
  }

  writeHead(statusCode: number, a?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], b?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    if (this.headersSent) throw httpError('ERR_HTTP_HEADERS_SENT', 'Cannot write headers after they are sent to the client');
    const status = statusCode | 0;
    if (status < 100 || status > 999) throw httpError('ERR_HTTP_INVALID_STATUS_CODE', `Invalid status code: ${statusCode}`, RangeError);
    if (typeof a === 'string' && INVALID_HEADER_CHAR.test(a)) throw httpError('ERR_INVALID_CHAR', 'Invalid character in statusMessage', TypeError);
    if (this.defaultsPending) {
      // As CascadeResponse.writeHead, where a handler's own value wins. The head is fixed from
      // here on, so the defaults (constants) are merged when it is read, not copied per request.
      this.defaultsPending = false;
      this.withDefaults = true;
      validateHeaderValue('x-request-id', this.requestId);
    }
    const given = typeof a === 'string' ? b : a;
    if (Array.isArray(given)) this.writeHeadArray(given);
    else if (given) for (const k of Object.keys(given)) if (k) this.setHeader(k, given[k] as OutgoingHttpHeader);
    this.statusCode = status;
    this.headersSent = true;
    if (status === 204 || status === 304 || status < 200) this.hasBody = false;
    return this;
  }

  /**
   * `[name, value, name, value…]`, as Node 20 takes it: once headers were set one by one (the
   * defaults are), each pair is a setHeader (the last of a name wins); else the head is the
   * array as it is (repeated names kept: writePrecomputed's case), pairs `[[name, value]…]` too.
   */
  private writeHeadArray(h: OutgoingHttpHeader[]): void {
    if (this.out.size > 0 || this.withDefaults) {
      if (h.length % 2 !== 0) throw httpError('ERR_INVALID_ARG_VALUE', 'The argument \'headers\' is invalid: an even number of name and value entries is needed', TypeError);
      for (let i = 0; i < h.length; i += 2) if (h[i]) this.setHeader(String(h[i]), h[i + 1]);
      return;
    }
    const pairs = h.length > 0 && Array.isArray(h[0]);
    for (let i = 0; i < h.length; i += pairs ? 1 : 2) {
      const name = String(pairs ? (h[i] as string[])[0] : h[i]);
      const value = pairs ? (h[i] as string[])[1] : h[i + 1];
      validateHeaderName(name);
      validateHeaderValue(name, value as string); // any header value: its types say string only
      const k = name.toLowerCase();
      const prev = this.out.get(k);
      if (prev === undefined) this.out.set(k, value);
      else this.out.set(k, [...(Array.isArray(prev) ? prev : [String(prev)]), ...(Array.isArray(value) ? value : [String(value)])]);
    }
  }

  write(chunk: string | Uint8Array, a?: BufferEncoding | ((e?: Error | null) => void), b?: (e?: Error | null) => void): boolean {
    const cb = typeof a === 'function' ? a : b;
    if (this.ended || this.settled) {
      // As Node's response does; only reported when someone listens (no socket to fail here).
      const err = httpError('ERR_STREAM_WRITE_AFTER_END', 'write after end');
      if (cb) process.nextTick(cb, err);
      if (this.listenerCount('error') > 0) process.nextTick(() => this.emit('error', err));
      return true;
    }
    if (!this.headersSent) this.writeHead(this.statusCode);
    this.keep(chunk, typeof a === 'string' ? a : undefined);
    if (cb) process.nextTick(cb);
    return true;
  }

  end(a?: string | Uint8Array | (() => void), b?: BufferEncoding | (() => void), c?: () => void): this {
    const cb = typeof a === 'function' ? a : typeof b === 'function' ? b : c;
    if (this.ended || this.settled) {
      if (cb) process.nextTick(cb);
      return this;
    }
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (a !== undefined && typeof a !== 'function') this.keep(a, typeof b === 'string' ? b : undefined);
    this.ended = true;
    this.settled = true;
    this.settle(this);
    // After the caller has its response, as Node emits them once the bytes are out.
    process.nextTick(emitDone, this, cb);
    return this;
  }

  destroy(error?: Error): this {
    if (!this.settled) {
      this.settled = true;
      this.settle(this, `the handler aborted the response${error ? `: ${error.message}` : ''}`);
      process.nextTick(() => this.emit('close'));
    }
    return this;
  }

  private keep(chunk: string | Uint8Array, enc: BufferEncoding | undefined): void {
    if (!this.hasBody || this.kept >= this.cap) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, enc) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length === 0) return;
    this.chunks.push(buf);
    this.kept += buf.length;
  }

  /** The body kept, at most `cap` bytes. */
  body(): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : this.chunks.length === 0 ? NO_BODY : Buffer.concat(this.chunks);
    return all.length > this.cap ? all.subarray(0, this.cap) : all;
  }

  /** The head's headers as a client sees them: lower-case names, strings, repeats as arrays, a Date. */
  headers(date: Date): Record<string, string | string[]> {
    const h: Record<string, string | string[]> = {};
    if (this.withDefaults) {
      for (let i = 0; i < DEFAULT_HEADERS.length; i++) h[DEFAULT_HEADERS[i][0]] = DEFAULT_HEADERS[i][1];
      h['x-request-id'] = this.requestId;
    }
    for (const [k, v] of this.out) h[k] = Array.isArray(v) ? (v.length === 1 ? String(v[0]) : v.map(String)) : String(v);
    h.date ??= date.toUTCString();
    return h;
  }
}

function emitDone(res: LocalResponse, cb: (() => void) | undefined): void {
  if (cb) cb();
  res.emit('finish');
  res.emit('close');
}

/**
 * Runs one request through `dispatch` and resolves with its status, headers and (up to
 * `maxBody` bytes of) body once the response has ended. After `timeoutMs` without an ended
 * response it resolves with 504 and emits 'close' on the response, as a client that gives
 * up would; a destroyed response resolves with 503, as a connection that broke.
 */
export function dispatchInProcess(dispatch: Dispatch, r: InProcessRequest, o: { timeoutMs: number; maxBody: number }): Promise<InProcessResponse> {
  let headers: IncomingHttpHeaders = r.headers;
  let body: Buffer = NO_BODY;
  if (r.body !== undefined) {
    body = typeof r.body === 'string' ? Buffer.from(r.body) : r.body;
    headers = { ...r.headers, 'content-length': String(body.length) };
  }
  const req = new LocalRequest(r.method, r.url, headers, body);
  return new Promise<InProcessResponse>((resolve) => {
    const res = new LocalResponse(r.method, o.maxBody, (done, error) => {
      if (done.timer) clearTimeout(done.timer);
      if (error !== undefined) {
        resolve({ status: 503, headers: {}, body: Buffer.from(error), error });
        return;
      }
      const at = Date.now();
      // Parsed when read: change propagation looks at a response's headers only when it failed.
      let h: Record<string, string | string[]> | undefined;
      resolve({
        status: done.statusCode,
        body: done.body(),
        get headers() {
          return (h ??= done.headers(new Date(at)));
        },
      });
    });
    try {
      dispatch(req, res);
    } catch (e) {
      // The handler catches its own errors; this is a bug in the dispatch itself.
      res.settled = true;
      resolve({ status: 500, headers: {}, body: Buffer.from(`in-process dispatch failed: ${(e as Error).message}`) });
      return;
    }
    // Most handlers that answer from memory have ended by now: no timer for them.
    if (res.settled) return;
    res.timer = setTimeout(() => {
      if (res.settled) return;
      res.settled = true;
      const error = `no response from the in-process handler within ${o.timeoutMs} ms`;
      resolve({ status: 504, headers: {}, body: Buffer.from(error), timedOut: true, error });
      res.emit('close');
    }, o.timeoutMs);
  });
}
