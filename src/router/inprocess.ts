// Requests from inside the process (change propagation's rules that target Cascade itself)
// dispatched through the server's handler without a loopback socket.
//
// The pair is Node's own IncomingMessage and the server's response class (CascadeResponse, a
// ServerResponse) on a small fake socket, not a hand-written imitation: handlers then see
// exactly what a socket gives them (writeHead/setHeader semantics, precomputed heads, HEAD and
// 304 without a body, pipe and backpressure, 'finish'/'close'), and only the socket's bytes
// are captured. The response is written as HTTP/1.1 without chunking or keep-alive, so the
// captured bytes are the head followed by the raw body.
import { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { CascadeResponse } from './server.ts';

export interface InProcessRequest {
  method: string;
  /** Path and query string (`/example.org/v1/page/html/Foo?x=1`). */
  url: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface InProcessResponse {
  status: number;
  headers: Record<string, string | string[]>;
  /** At most `maxBody` bytes of the body. */
  body: Buffer;
  /** No finished response within the timeout (status 504). */
  timedOut?: true;
}

/** The server's handler as `createHttpServer` exposes it: the request counts as internal, from loopback. */
export type Dispatch = (req: IncomingMessage, res: CascadeResponse) => void;

/** The peer address an in-process request reports (`ctx.clientIp`). */
export const IN_PROCESS_PEER = '127.0.0.1';

/** Collects what the response writes; never reads. Counts the bytes it keeps (head + body, up to a cap). */
class CaptureSocket extends Writable {
  readonly remoteAddress = IN_PROCESS_PEER;
  readonly remotePort = 0;
  readonly remoteFamily = 'IPv4';
  readonly encrypted = false;
  readonly chunks: Buffer[] = [];
  kept = 0;
  constructor(private readonly cap: number) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.kept < this.cap) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
    }
    cb();
  }
  // Called by http internals on sockets; no-ops here.
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** Parses the captured head (`HTTP/1.1 200 OK\r\nname: value…`) into lower-case headers; repeated names become arrays. */
function parseHead(head: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const lines = head.split('\r\n');
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    const c = l.indexOf(':');
    if (c <= 0) continue;
    const k = l.slice(0, c).trim().toLowerCase();
    if (k === 'connection') continue; // ours (no keep-alive), not the handler's
    const v = l.slice(c + 1).trim();
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/**
 * Runs one request through `dispatch` and resolves with its status, headers and (up to
 * `maxBody` bytes of) body once the response has finished. After `timeoutMs` without a
 * finished response it resolves with 504 and emits 'close' on the response, as a client
 * that gives up would.
 */
export function dispatchInProcess(dispatch: Dispatch, r: InProcessRequest, o: { timeoutMs: number; maxBody: number }): Promise<InProcessResponse> {
  const socket = new CaptureSocket(o.maxBody + 64 * 1024);
  const req = new IncomingMessage(socket as never);
  req.method = r.method;
  req.url = r.url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  const headers: Record<string, string> = { ...r.headers };
  const raw: string[] = [];
  if (r.body !== undefined) headers['content-length'] = String(Buffer.byteLength(r.body));
  for (const k in headers) raw.push(k, headers[k]);
  req.headers = headers;
  req.rawHeaders = raw;
  if (r.body !== undefined && r.body.length) req.push(typeof r.body === 'string' ? Buffer.from(r.body) : r.body);
  req.push(null);
  req.complete = true;

  const res = new CascadeResponse(req);
  // No keep-alive and no chunking: the socket's bytes are the head and the raw body.
  res.shouldKeepAlive = false;
  res.useChunkedEncodingByDefault = false;
  res.assignSocket(socket as never);

  return new Promise<InProcessResponse>((resolve) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      res.emit('close');
      resolve({ status: 504, headers: {}, body: Buffer.from(`no response from the in-process handler within ${o.timeoutMs} ms`), timedOut: true });
    }, o.timeoutMs);
    res.once('finish', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const all = socket.chunks.length === 1 ? socket.chunks[0] : Buffer.concat(socket.chunks);
      const end = all.indexOf(HEAD_END);
      const head = end === -1 ? all : all.subarray(0, end);
      const body = end === -1 ? Buffer.alloc(0) : all.subarray(end + 4, end + 4 + o.maxBody);
      // Parsed when read: change propagation looks at a response's headers only when it failed.
      let headers: Record<string, string | string[]> | undefined;
      resolve({
        status: res.statusCode,
        body,
        get headers() {
          return (headers ??= parseHead(head.toString('latin1')));
        },
      });
      // As the server does once a response is done: listeners on 'close' clean up.
      process.nextTick(() => {
        res.detachSocket(socket as never);
        res.emit('close');
        req.emit('close');
      });
    });
    try {
      dispatch(req, res);
    } catch (e) {
      // The handler catches its own errors; this is a bug in the dispatch itself.
      done = true;
      clearTimeout(timer);
      resolve({ status: 500, headers: {}, body: Buffer.from(`in-process dispatch failed: ${(e as Error).message}`) });
    }
  });
}
