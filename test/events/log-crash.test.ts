// Crash test: a child process appends in a loop and prints each acknowledged event id; it is
// SIGKILLed mid-stream; after reopening, every acknowledged event is readable exactly once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openEventLog, type LogConfig } from '../../src/events/log/index.ts';
import { projectRoot } from '../helpers/corpus.ts';
import { NATS_URL, requireBackend, uniqueName } from '../helpers/backends.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cascade-log-crash-'));
const prefix = uniqueName('crash').replace(/[^A-Za-z0-9_-]/g, '_');
after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  if (await requireBackend(undefined, 'nats').catch(() => false)) {
    const { deleteStreamsWithPrefix } = await import('../../src/events/log/jetstream.ts');
    await deleteStreamsWithPrefix(NATS_URL, prefix);
  }
});

/** Runs the child until it acknowledged at least `minAcks` events (and a little more), then SIGKILLs it. */
async function appendAndKill(cfg: LogConfig, topic: string, minAcks: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'test/events/log-crash-child.ts'), JSON.stringify(cfg), topic], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked: string[] = [];
  let buf = '';
  let ready = false;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child acknowledged only ${acked.length} events in 60 s`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (l === 'ready') ready = true;
        else if (l) acked.push(l);
      }
      if (ready && acked.length >= minAcks) {
        clearTimeout(timer);
        // Kill while appends are in flight (the loops never pause).
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', () => reject(new Error('child exited before it was killed')));
  });
  assert.equal(await exited, 'SIGKILL');
  // Whatever the child printed before dying was acknowledged, too.
  child.stdout.removeAllListeners('data');
  for (const l of buf.split('\n')) if (l && l !== 'ready') acked.push(l);
  return acked;
}

async function checkExactlyOnce(cfg: LogConfig, topic: string, acked: string[]): Promise<number> {
  const log = await openEventLog(cfg);
  try {
    const seen = new Map<string, number>();
    let from = 0;
    let total = 0;
    let lastOffset = 0;
    for (;;) {
      const recs = await log.read(topic, from, 5000);
      if (recs.length === 0) break;
      for (const r of recs) {
        assert.ok(r.offset > lastOffset, 'offsets increase');
        lastOffset = r.offset;
        seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
        const body = JSON.parse(r.value.toString()) as { meta: { id: string } };
        assert.equal(body.meta.id, r.id, 'the stored value is intact');
      }
      total += recs.length;
      from = recs[recs.length - 1].offset + 1;
    }
    const missing = acked.filter((id) => !seen.has(id));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${acked.length} acknowledged events are missing`);
    const twice = [...seen].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'no event stored twice');
    // The log stays writable after the crash, continuing its offsets.
    const id = `after-crash-${Date.now()}`;
    const r = await log.append(topic, [{ id, value: Buffer.from(JSON.stringify({ meta: { id } })) }]);
    assert.ok(r[0].offset > lastOffset);
    return total;
  } finally {
    await log.close();
  }
}

test('sqlite: every acknowledged append survives SIGKILL, exactly once', async () => {
  const cfg: LogConfig = { backend: 'sqlite', path: join(tmp, 'crash.sqlite'), synchronous: 'full' };
  const topic = 'local.mediawiki.revision-create';
  const acked = await appendAndKill(cfg, topic, 3000);
  assert.ok(acked.length >= 3000);
  const stored = await checkExactlyOnce(cfg, topic, acked);
  assert.ok(stored >= acked.length);
  const db = new Database(cfg.path, { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    db.close();
  }
  // A second crash on the recovered file.
  const acked2 = await appendAndKill(cfg, topic, 1000);
  await checkExactlyOnce(cfg, topic, [...acked, ...acked2]);
});

test('jetstream: every acknowledged append survives SIGKILL of the producer, exactly once', async (t) => {
  if (!(await requireBackend(t, 'nats'))) return;
  const cfg: LogConfig = { backend: 'jetstream', url: NATS_URL, stream_prefix: prefix };
  const topic = 'local.mediawiki.revision-create';
  const acked = await appendAndKill(cfg, topic, 2000);
  await checkExactlyOnce(cfg, topic, acked);
});
