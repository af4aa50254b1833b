// Small process and socket helpers for tests that start servers and child processes.
import { createServer } from 'node:net';
import type { Readable } from 'node:stream';

/** Ports this process was handed: two calls in a row may get the same one from the kernel. */
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (for a server that must know it in
 * advance), never one this process was given before: a Cascade and the Varnish in front of
 * it once got the same port, and the second to listen failed with EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Calls `onLine` with each complete line of a child's output (UTF-8), without its newline. */
export function eachLine(stream: Readable, onLine: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}
