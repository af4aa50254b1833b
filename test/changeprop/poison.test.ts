// A poison event cannot crash Cascade's change propagation or crash-loop it after a restart
// (issue 9: `meta.domain: "bad host^"` with purge targets configured used to end the process,
// and the unacked event killed it again after every restart). Real child processes on the
// SQLite and the JetStream log, a real loopback CDN target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventLog } from '../../src/events/log/index.ts';
import { NATS_URL, requireBackend, uniqueName } from '../helpers/backends.ts';
import { Target, event, append, until, readAll } from './helpers.ts';

function start(config: string, selfUrl: string): Promise<ChildProcess> {
  const child = fork(join(import.meta.dirname, 'service-child.ts'), [config, selfUrl], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`change propagation exited with ${code}`)));
  });
}

for (const backend of ['sqlite', 'jetstream'] as const) {
  test(`${backend}: poison events with purge targets configured: dead-lettered, the process stays up and keeps consuming, also after a restart`, async (t) => {
    if (backend === 'jetstream' && !(await requireBackend(t, 'nats'))) return;
    const dir = mkdtempSync(join(tmpdir(), 'cascade-cp-poison-'));
    const prefix = uniqueName('cppoison').replace(/[^A-Za-z0-9_-]/g, '_');
    const logConfig = backend === 'sqlite' ? { backend: 'sqlite', path: join(dir, 'events.sqlite') } : { backend: 'jetstream', url: NATS_URL, stream_prefix: prefix, storage: 'memory' };
    const [cascade, origin, cdn] = await Promise.all([new Target().start(), new Target().start(), new Target().start()]);
    const file = join(dir, 'cascade.yaml');
    writeFileSync(
      file,
      `
  data_dir: ${JSON.stringify(dir)}
  datacenter: dc1
  default_domain: example.wiki
  events: { log: ${JSON.stringify(logConfig)} }
  domains:
    example.wiki: { origin: { url: ${JSON.stringify(origin.url)} } }
  changeprop:
    dependencies: { html: [revision] }
    purge: { targets: [${JSON.stringify(cdn.url)}], rebound_ms: 0, batch_ms: 5 }
  `,
    );
    const log = await openEventLog(logConfig as Parameters<typeof openEventLog>[0]);
    let child: ChildProcess | undefined;
    const exits: (number | null)[] = [];
    const purged = (title: string) => cdn.seen.some((s) => s.method === 'PURGE' && s.path.endsWith(`/${title}`));
    try {
      // The poison is in the log before the process starts (as after a crash).
      await append(log, 'dc1.mediawiki.page-delete', [
        event('mediawiki.page-delete', { page_title: 'P' }, { domain: 'bad host^' }),
        event('mediawiki.page-delete', { page_title: 'P' }, { domain: 'victim.example/private/cache-key?evict=1#' }),
        event('mediawiki.page-delete', { page_title: 'First' }),
      ]);
      await append(log, 'dc1.resource_change', [event('resource_change', {}, { uri: 'https://bad host^/api/rest_v1/page/html/P' })]);
      child = await start(file, cascade.url);
      child.on('exit', (code) => exits.push(code));
      await until(() => purged('First'), 20_000, 'the good purge after the poison');
      await until(async () => (await readAll(log, 'dc1.change-prop.error.cdn_purge')).length === 3, 10_000, 'three dead letters');
      assert.equal(child.exitCode, null, 'still running');
      // A restart replays nothing that kills it: the poison was acked as dead letters.
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      child = await start(file, cascade.url);
      child.on('exit', (code) => exits.push(code));
      await append(log, 'dc1.mediawiki.page-delete', [event('mediawiki.page-delete', { page_title: 'bad host^' }, { domain: 'bad host^' }), event('mediawiki.page-delete', { page_title: 'Second' })]);
      await until(() => purged('Second'), 20_000, 'a good purge after the restart');
      assert.equal(child.exitCode, null, 'still running after the restart');
      assert.equal((await readAll(log, 'dc1.change-prop.error.page_delete')).length, 3);
      for (const s of cdn.seen) assert.equal(s.headers.host, 'example.wiki');
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
      child = undefined;
      assert.deepEqual(exits.filter((c) => c !== null && c !== 0), [], 'no crash exit');
    } finally {
      child?.kill('SIGKILL');
      await log.close();
      if (backend === 'jetstream') {
        const { deleteStreamsWithPrefix } = await import('../../src/events/log/jetstream.ts');
        await deleteStreamsWithPrefix(NATS_URL, prefix);
      }
      await Promise.all([cascade.close(), origin.close(), cdn.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
