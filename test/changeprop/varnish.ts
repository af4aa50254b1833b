// A real Varnish (Debian's varnishd) on a free loopback port, in front of a backend, for the
// CDN purge tests. The VCL allows PURGE from localhost (one URL) and BAN with an `xkey` header
// (all objects whose Surrogate-Key equals it: xkey-style purges, as Debian's package has no
// xkey vmod), and marks responses X-Cache: HIT or MISS. In CI a missing varnishd fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from '../helpers/net.ts';

const CANDIDATES = ['/usr/sbin/varnishd', '/usr/local/sbin/varnishd'];

export function varnishdPath(): string | undefined {
  return CANDIDATES.find((p) => existsSync(p));
}

/** True when varnishd exists; otherwise fails under CI, skips loudly elsewhere. */
export function requireVarnish(t: TestContext): boolean {
  if (varnishdPath()) return true;
  const msg = `varnishd is not installed (looked in ${CANDIDATES.join(', ')})`;
  if (process.env.CI) throw new Error(`${msg}; CI requires it (.ci/run installs Debian's varnish)`);
  console.error(`\n!!! SKIPPING: ${msg}\n`);
  t.skip(msg);
  return false;
}

function vcl(backendPort: number): string {
  return `vcl 4.1;
import std;

backend default { .host = "127.0.0.1"; .port = "${backendPort}"; }

acl purgers { "127.0.0.1"; "::1"; }

sub vcl_recv {
  if (req.method == "PURGE") {
    if (client.ip !~ purgers) { return (synth(405, "PURGE not allowed")); }
    return (purge);
  }
  if (req.method == "BAN") {
    if (client.ip !~ purgers) { return (synth(405, "BAN not allowed")); }
    if (!req.http.xkey) { return (synth(400, "xkey header missing")); }
    if (std.ban("obj.http.Surrogate-Key == " + req.http.xkey)) { return (synth(200, "Banned")); }
    return (synth(400, std.ban_error()));
  }
}

sub vcl_deliver {
  if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
`;
}

export interface Varnish {
  url: string;
  port: number;
  /** GET through the cache with a Host header: status, X-Cache and body. */
  get(path: string, host: string): Promise<{ status: number; cache: string; body: string }>;
  close(): Promise<void>;
}

export async function startVarnish(backendPort: number): Promise<Varnish> {
  const bin = varnishdPath();
  if (!bin) throw new Error('varnishd is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'cascade-varnish-'));
  const vclFile = join(dir, 'test.vcl');
  writeFileSync(vclFile, vcl(backendPort));
  const port = await freePort();
  // -F: foreground child we can stop; -j none: no privilege separation for a throwaway instance.
  const child: ChildProcess = spawn(bin, ['-F', '-j', 'none', '-n', join(dir, 'n'), '-a', `127.0.0.1:${port}`, '-T', '127.0.0.1:0', '-f', vclFile, '-s', 'malloc,32m'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`varnishd exited at start:\n${output}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`varnishd did not listen on ${port} within 15 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get(path, host) {
      return new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers: { host, 'accept-encoding': 'identity' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, cache: String(res.headers['x-cache'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
    },
    async close() {
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
