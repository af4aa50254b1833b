// What a handler may use of its request and response. Two implementations meet these: Node's
// own IncomingMessage and the server's CascadeResponse (a request from a socket), and the
// in-process pair of inprocess.ts (change propagation's requests to Cascade itself). Keeping
// the handlers to this subset is what lets the in-process pair skip Node's HTTP machinery.
import type { IncomingHttpHeaders, OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';

export interface HttpRequest {
  readonly method?: string;
  /** Path and query string, as received. */
  readonly url?: string;
  /** Lower-case names. */
  readonly headers: IncomingHttpHeaders;
  /** The peer: a socket's, or loopback for an in-process request. */
  readonly socket: { readonly remoteAddress?: string };
  /** Discards what is left of the body. */
  resume(): unknown;
  /** The body, chunk by chunk (readBody in server.ts). */
  [Symbol.asyncIterator](): AsyncIterator<Buffer>;
}

/** A writable stream (a body may be piped into it) with the head API of Node's ServerResponse. */
export interface ResponseWriter extends NodeJS.WritableStream {
  statusCode: number;
  readonly headersSent: boolean;
  setHeader(name: string, value: OutgoingHttpHeader | readonly string[]): this;
  hasHeader(name: string): boolean;
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  writeHead(statusCode: number, statusMessage?: string, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  end(cb?: () => void): this;
  end(data: string | Uint8Array, cb?: () => void): this;
  end(str: string, encoding?: BufferEncoding, cb?: () => void): this;
  /** No body (`undefined`, as for HEAD) or the whole body. */
  end(data: string | Uint8Array | undefined, cb?: () => void): this;
  /** Aborts the response (a failure after the head was sent). */
  destroy(error?: Error): this;
}

/** A response of Cascade's server: it adds the default headers and `x-request-id` when its head is written. */
export interface HttpResponse extends ResponseWriter {
  /** This request's id: the server sets it, the head carries it as `x-request-id`. */
  requestId: string;
  /** The default headers are still to be added when the head is written (server.ts `writePrecomputed` clears it). */
  defaultsPending: boolean;
}
