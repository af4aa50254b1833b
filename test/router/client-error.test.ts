// Requests Node's parser refuses, sent over raw sockets: every one gets a problem+json answer
// (400, 414, 431) instead of Node's empty reply, and the server keeps serving.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Router } from '../../src/router/router.ts';
import { createHttpServer } from '../../src/router/server.ts';

/** Writes `text`, returns everything the server sends until it closes (or 5 s pass). */
function exchange(port: number, text: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(out);
    }, 5000);
    s.setEncoding('latin1');
    s.on('data', (c: string) => (out += c));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    s.write(text);
  });
}

function parse(reply: string): { status: number; headers: Map<string, string>; body: string } {
  const end = reply.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no complete response: ${JSON.stringify(reply.slice(0, 200))}`);
  const [statusLine, ...lines] = reply.slice(0, end).split('\r\n');
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine!.split(' ')[1]), headers, body: reply.slice(end + 4) };
}

describe('clientError: malformed requests get problem+json', () => {
  let server: Server;
  let port: number;
  before(async () => {
    const r = new Router();
    r.add('GET', '/ok', (ctx) => {
      ctx.res.end('ok');
    });
    r.add('POST', '/ok', async (ctx) => {
      for await (const chunk of ctx.req) void chunk;
      ctx.res.end('read');
    });
    server = createHttpServer({ router: r });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.close();
    server.closeAllConnections();
  });

  const big = 'a'.repeat(20_000);
  const cases: [string, string | Buffer, number][] = [
    ['garbage request line', 'HELLO\r\n\r\n', 400],
    ['invalid method token', 'G@T /ok HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['invalid HTTP version', 'GET /ok HTTP/9.x\r\nHost: x\r\n\r\n', 400],
    ['header without colon', 'GET /ok HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n', 400],
    ['control character in a header value', 'GET /ok HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n', 400],
    ['space before the colon', 'GET /ok HTTP/1.1\r\nHost : x\r\n\r\n', 400],
    ['both content-length and chunked', 'POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['bad chunk size', 'POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
    ['two content-lengths', 'POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
    ['NUL in the target', Buffer.from('GET /o\0k HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'), 400],
    ['headers over the limit', `GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`, 431],
    ['request target over the parser limit', `GET /${big} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ['request target over the URI limit', `GET /${'b'.repeat(10_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 414],
  ];
  for (const [name, text, status] of cases) {
    it(`${name} → ${status}`, async () => {
      const reply = parse(await exchange(port, text));
      assert.equal(reply.status, status);
      assert.equal(reply.headers.get('content-type'), 'application/problem+json');
      assert.equal(Number(reply.headers.get('content-length')), Buffer.byteLength(reply.body));
      const p = JSON.parse(reply.body) as Record<string, unknown>;
      assert.equal(p.status, status);
      for (const k of ['type', 'title', 'detail']) assert.equal(typeof p[k], 'string', k);
      assert.ok((p.detail as string).length < 300, 'the detail does not echo the request');
    });
  }

  it('still serves afterwards, also on a fresh keep-alive connection', async () => {
    const reply = parse(await exchange(port, 'GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'ok');
  });
});
