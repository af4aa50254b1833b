// SIGKILL of the engine mid-stream loses no event: every expected exec is observed at least
// once after a restart (real SQLite log, real child processes, real HTTP target).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Target, sqliteLog, event, append, until } from './helpers.ts';

function startChild(path: string, yaml: string, host: string): Promise<ChildProcess> {
  const child = fork(join(import.meta.dirname, 'engine-child.ts'), [path, yaml, host], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`engine child exited with ${code}`)));
  });
}

test('SIGKILL of the engine mid-stream loses no event', async () => {
  const target = await new Target().start();
  target.behaviour = () => ({ status: 200, delayMs: 3 });
  const tl = await sqliteLog();
  const N = 400;
  const yaml = `
templates:
  crashy:
    topic: page-change
    concurrency: 8
    timeout: 1000
    exec: { uri: '${target.url}/exec/{{message.n}}' }
`;
  let child: ChildProcess | undefined;
  try {
    await append(tl.log, 'dc1.page-change', Array.from({ length: N }, (_, n) => event('page-change', { n })));
    child = await startChild(tl.path, yaml, target.host);
    await until(() => target.seen.length >= N / 4, 30_000, 'some execs before the kill');
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const before = new Set(target.seen.map((s) => s.path)).size;
    assert.ok(before < N, `the kill came mid-stream (${before} of ${N} done)`);
    child = await startChild(tl.path, yaml, target.host);
    // Leases of the killed process expire after the ack wait (timeout + 5 s), then redeliver.
    await until(() => new Set(target.seen.map((s) => s.path)).size === N, 60_000, 'every exec after the restart');
    for (let n = 0; n < N; n++) assert.ok(target.count(`/exec/${n}`) >= 1, `exec ${n} observed`);
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    child = undefined;
  } finally {
    child?.kill('SIGKILL');
    await tl.close();
    await target.close();
  }
});
