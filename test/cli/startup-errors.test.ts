// Operational start-up failures of `cascade serve` print one clear line and exit non-zero,
// without a stack trace: port in use, PostgreSQL or NATS unreachable, data_dir under a file.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../helpers/corpus.ts';

function serve(configFile: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('CASCADE_')) delete env[k];
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'cascade.js'), 'serve', '--config', configFile], { cwd: projectRoot, env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // A start-up that hangs instead of failing is a failure of its own.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** A port nobody listens on: bind one, note it, close it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('cascade serve: start-up failures are one line', () => {
  let dir: string;
  let busy: Server;
  let busyPort: number;
  const config = (name: string, extra: string, dataDir = join(dir, name)) => {
    const f = join(dir, `${name}.yaml`);
    writeFileSync(
      f,
      `data_dir: ${JSON.stringify(dataDir)}
default_domain: example.wiki
wiki: { enabled: false }
domains:
  example.wiki:
    origin: { url: "http://127.0.0.1:9" }
    buckets:
      html: { type: key_rev_value, compression: brotli }
      summary: { type: key_rev_value, compression: gzip }
      mobile-sections: { type: key_rev_value, compression: gzip }
      page-meta: { type: key_value, compression: none }
${extra}`,
    );
    return f;
  };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cascade-startup-'));
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    busyPort = (busy.address() as AddressInfo).port;
  });
  after(() => {
    busy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const oneLine = (r: { code: number | null; err: string }, want: RegExp) => {
    assert.notEqual(r.code, 0, r.err);
    assert.notEqual(r.code, null, 'the process ended by itself');
    const lines = r.err.trimEnd().split('\n');
    assert.equal(lines.length, 1, `stderr has ${lines.length} lines:\n${r.err}`);
    assert.match(lines[0]!, want);
    assert.doesNotMatch(r.err, /\bat .*\(.*:\d+:\d+\)/, 'no stack trace');
  };

  it('port in use', async () => {
    const r = await serve(config('inuse', `listen: { host: 127.0.0.1, port: ${busyPort} }\n`));
    oneLine(r, new RegExp(`^cascade: cannot start: 127\\.0\\.0\\.1:${busyPort} is already in use \\(listen\\.host/listen\\.port\\)$`));
    assert.equal(r.code, 1);
  });

  it('PostgreSQL unreachable', async () => {
    const port = await deadPort();
    const r = await serve(config('pg', `listen: { host: 127.0.0.1, port: 0 }\nstorage: { backend: postgres, postgres: { url: "postgres://postgres:secret@127.0.0.1:${port}/test" } }\n`));
    oneLine(r, new RegExp(`^cascade: cannot start: PostgreSQL at postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${port}/test is unreachable \\(storage\\.postgres\\.url\\): .*ECONNREFUSED`));
    assert.doesNotMatch(r.err, /secret/);
  });

  it('NATS unreachable', async () => {
    const port = await deadPort();
    const r = await serve(config('nats', `listen: { host: 127.0.0.1, port: 0 }\nevents: { log: { backend: jetstream, url: "nats://127.0.0.1:${port}" } }\n`));
    oneLine(r, new RegExp(`^cascade: cannot start: NATS at nats://127\\.0\\.0\\.1:${port} is unreachable \\(events\\.log\\.url\\)`));
  });

  it('data_dir under a file', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const r = await serve(config('under-file', 'listen: { host: 127.0.0.1, port: 0 }\n', join(file, 'data')));
    oneLine(r, /^cascade: invalid configuration: .*under-file\.yaml:1:1: data_dir: .*a-file\/data cannot be created: .*a-file is a file$/);
    assert.equal(r.code, 2);
  });
});
