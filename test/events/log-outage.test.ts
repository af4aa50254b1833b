// The intake while its log is down: 503 with Retry-After (problem+json), not a long hang, and
// back to 201 by itself once the log returns. JetStream: our own nats-server child process,
// stopped and started again on the same port and store. SQLite: another connection holds the
// file's write lock (as a backup tool or a second process would), then lets go.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { corpusPath } from '../helpers/corpus.ts';
import { startIntake, type IntakeFixture } from './intake-fixture.ts';
import { valueWithin } from '../helpers/wait.ts';
import { freePort } from '../helpers/net.ts';

const NATS_SERVER = process.env.CASCADE_NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const SCHEMA_DIR = corpusPath('events', 'schemas');
const STREAM = 'mediawiki.outage';

const ev = () => ({ $schema: '/test/event/1.0.0', meta: { stream: STREAM, id: randomUUID(), dt: new Date().toISOString(), domain: 'example.wiki' }, test: 'outage' });

const until = <T>(what: string, ms: number, f: () => Promise<T | undefined>) => valueWithin(f, ms, what, 100);

const accepting = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

async function startNats(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
  await until('nats-server to accept connections', 20_000, async () => ((await accepting(port)) ? true : undefined));
  return child;
}

async function stopNats(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** POSTs while the log is down: 503 problem+json with Retry-After. */
async function expectUnavailable(fx: IntakeFixture): Promise<void> {
  const t0 = Date.now();
  const r = await fx.post([ev(), ev()]);
  const ms = Date.now() - t0;
  assert.equal(r.status, 503, JSON.stringify(r.body));
  assert.equal(r.headers.get('content-type'), 'application/problem+json');
  assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
  assert.equal((r.body as { code: string }).code, 'CASCADE_EVENTS_LOG_UNAVAILABLE');
  console.log(`# ${fx.bus.log.backend}: 503 after ${ms} ms while the log is down`);
}

async function expectRecovery(fx: IntakeFixture): Promise<void> {
  const t0 = Date.now();
  await until('the intake to accept events again', 30_000, async () => ((await fx.post([ev()])).status === 201 ? true : undefined));
  console.log(`# ${fx.bus.log.backend}: accepting again ${Date.now() - t0} ms after the log returned`);
}

describe('intake while the log is down', () => {
  it('JetStream: NATS stopped → 503 + Retry-After; NATS back → 201 without a restart', { skip: existsSync(NATS_SERVER) ? false : `no ${NATS_SERVER}` }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cascade-nats-'));
    const port = await freePort();
    let nats = await startNats(port, dir);
    let fx: IntakeFixture | undefined;
    try {
      fx = await startIntake({
        schema_base_uris: [SCHEMA_DIR],
        streams: { [STREAM]: { schema_title: 'test/event' } },
        error_stream: '',
        log: { backend: 'jetstream', url: `nats://127.0.0.1:${port}`, stream_prefix: `outage${process.pid}` },
      });
      const first = await fx.post([ev()]);
      assert.equal(first.status, 201, JSON.stringify(first.body));
      await stopNats(nats);
      await expectUnavailable(fx);
      await expectUnavailable(fx);
      // Cascade's own producer fails too (at once: the log reports itself down), with a 503 error.
      await assert.rejects(fx.bus.producer.produce([ev()]), (e: unknown) => (e as { code?: string; status?: number }).code === 'CASCADE_EVENTS_PRODUCE_FAILED' && (e as { status: number }).status === 503);
      nats = await startNats(port, dir);
      await expectRecovery(fx);
      // The event before the outage and those after it are all in the log.
      const recs = await until('the log to be readable again', 10_000, async () => fx!.records(STREAM).catch(() => undefined));
      assert.ok(recs.length >= 2, `${recs.length} records`);
    } finally {
      await fx?.close().catch(() => {});
      await stopNats(nats);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SQLite: the file write-locked by another connection → 503 + Retry-After; unlocked → 201', async () => {
    const fx = await startIntake({
      schema_base_uris: [SCHEMA_DIR],
      streams: { [STREAM]: { schema_title: 'test/event' } },
      error_stream: '',
    });
    const other = new Database(join(fx.dataDir, 'events.sqlite'));
    try {
      const first = await fx.post([ev()]);
      assert.equal(first.status, 201, JSON.stringify(first.body));
      other.exec('BEGIN IMMEDIATE');
      await expectUnavailable(fx);
      other.exec('COMMIT');
      await expectRecovery(fx);
      assert.ok((await fx.records(STREAM)).length >= 2);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await fx.close();
    }
  });
});
