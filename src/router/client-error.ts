// Requests Node's HTTP parser refuses never reach a handler; without a `clientError` handler
// Node answers them with an empty 400/431. This answers problem+json like every other error.
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { CascadeError, Errors } from '../errors/index.ts';
import { EdgeErrors, MAX_URI_BYTES } from './errors.ts';

interface ParserError extends Error {
  code?: string;
  rawPacket?: Buffer;
  reason?: string;
}

/** The error a parser failure maps to. */
export function clientErrorOf(err: ParserError): CascadeError {
  const code = err.code ?? '';
  if (code === 'HPE_HEADER_OVERFLOW') {
    // Node counts the request line into its header limit: a long target is a 414.
    const raw = err.rawPacket;
    const eol = raw ? raw.indexOf('\r\n') : -1;
    if (raw && (eol === -1 || eol > MAX_URI_BYTES)) return new CascadeError(EdgeErrors.uriTooLong, `the request target is longer than ${MAX_URI_BYTES} bytes`);
    return new CascadeError(EdgeErrors.headersTooLarge, 'the request headers are too large');
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADER_TIMEOUT') {
    return new CascadeError(EdgeErrors.requestTimeout, 'the request was not received in time');
  }
  // The parser's reason is about the bytes the client sent ("Invalid method encountered").
  const reason = typeof err.reason === 'string' && err.reason.length < 200 ? err.reason : 'malformed HTTP request';
  return new CascadeError(Errors.badRequest, `${reason}${code.startsWith('HPE_') ? ` (${code})` : ''}`);
}

/** Installs the handler; the connection is closed after the answer (the parser state is lost). */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    // A response already under way (the error came while reading a body): only close.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const ce = clientErrorOf(err);
    const body = JSON.stringify(ce.toProblem());
    socket.end(
      `HTTP/1.1 ${ce.status} ${ce.title}\r\n` +
        'content-type: application/problem+json\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        'x-content-type-options: nosniff\r\n' +
        'connection: close\r\n\r\n' +
        body,
    );
  });
}
