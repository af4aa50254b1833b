// Backup under write load: while an app takes storage puts and events continuously, `cascade
// backup` (another process) copies the store, the event log and the example wiki; every put and
// event acknowledged before the backup started is in it. Restore refuses while the app runs on
// the files, restores into a fresh data dir, and an app started there serves all of them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { projectRoot } from '../helpers/corpus.ts';
import { cleanEnv } from './cli-proc.ts';
import { until } from '../helpers/wait.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cascade-backup-'));
const apps: App[] = [];
after(async () => {
  for (const a of apps) await a.close().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});

function configFile(name: string, dataDir: string): string {
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(
    file,
    `listen: { host: 127.0.0.1, port: 0 }
data_dir: ${dataDir}
default_domain: example.wiki
wiki: { port: 0 }
changeprop: { enabled: false }
events:
  streams:
    resource_change: { schema_title: resource_change }
  producers:
    - { streams: [resource_change], from: [loopback], internal: true }   # the test's writer posts Cascade's own stream
domains:
  example.wiki:
    origin: { url: "http://127.0.0.1:9" }
    buckets:
      html: { type: key_rev_value, compression: brotli }
      summary: { type: key_rev_value, compression: gzip }
      mobile-sections: { type: key_rev_value, compression: gzip }
      page-meta: { type: key_value }
      kv: { type: key_value }
`,
  );
  return file;
}

/** Runs `cascade ARGS` to its end. */
function cascade(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'cascade.js'), ...args], { cwd: tmp, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

test('cascade backup while writing; restore into a fresh data dir keeps every acknowledged write', { timeout: 180_000 }, async (t) => {
  const fileA = configFile('a', './data-a');
  const app = await startApp(loadConfig(fileA, {}), { quiet: true });
  apps.push(app);
  const wikiEdit = await fetch(`${app.wiki!.url}/w/rest.php/v1/page/Backup_check`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source: "'''Backed up''' before the copy.", comment: 'backup test' }),
  });
  assert.equal(wikiEdit.status, 201, await wikiEdit.text());

  // Writers: storage puts through the sys API and events through the intake, each noted once acknowledged.
  const ackedPuts: string[] = [];
  const ackedEvents: string[] = [];
  let stop = false;
  let seq = 0;
  const putWriter = async () => {
    while (!stop) {
      const key = `k-${seq++}`;
      const r = await fetch(`${app.url}/example.wiki/sys/key_value/kv/${key}`, { method: 'PUT', body: `value of ${key}`, headers: { 'content-type': 'text/plain' } });
      assert.equal(r.status, 201, await r.text());
      await r.arrayBuffer().catch(() => {});
      ackedPuts.push(key);
    }
  };
  const eventWriter = async () => {
    while (!stop) {
      const id = randomUUID();
      const r = await fetch(`${app.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ $schema: '/resource_change/1.0.0', meta: { id, stream: 'resource_change', dt: new Date().toISOString(), uri: `https://example.wiki/${id}` } }),
      });
      assert.equal(r.status, 201, await r.text());
      ackedEvents.push(id);
    }
  };
  const writers = [putWriter(), putWriter(), putWriter(), eventWriter(), eventWriter()];
  await until(() => ackedPuts.length >= 200 && ackedEvents.length >= 100, 60_000, 'the writers made progress');

  const putsBefore = [...ackedPuts];
  const eventsBefore = [...ackedEvents];
  const backupDir = join(tmp, 'backup');
  const bk = await cascade(['backup', backupDir, '--config', fileA]);
  const putsDuring = ackedPuts.length - putsBefore.length;
  stop = true;
  await Promise.all(writers);
  assert.equal(bk.code, 0, bk.out);
  assert.ok(putsDuring > 0, 'writes went on while the backup ran');
  t.diagnostic(`acknowledged before the backup: ${putsBefore.length} puts, ${eventsBefore.length} events; ${putsDuring} puts during it`);
  const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8')) as { files: { role: string }[] };
  assert.deepEqual(manifest.files.map((f) => f.role), ['wiki', 'events', 'storage']);

  // Refused while the app holds the files.
  const busy = await cascade(['restore', backupDir, '--config', fileA]);
  assert.equal(busy.code, 1, busy.out);
  assert.match(busy.out, /stop Cascade first/);

  const fileB = configFile('b', './data-b');
  const rs = await cascade(['restore', backupDir, '--config', fileB]);
  assert.equal(rs.code, 0, rs.out);
  assert.ok(existsSync(join(tmp, 'data-b', 'storage.sqlite')));
  await app.close();
  apps.splice(apps.indexOf(app), 1);

  const restored = await startApp(loadConfig(fileB, {}), { quiet: true });
  apps.push(restored);
  const missingPuts: string[] = [];
  for (const key of putsBefore) {
    const r = await fetch(`${restored.url}/example.wiki/sys/key_value/kv/${key}`);
    const body = await r.text();
    if (r.status !== 200 || body !== `value of ${key}`) missingPuts.push(key);
  }
  assert.deepEqual(missingPuts, [], `${missingPuts.length} of ${putsBefore.length} acknowledged puts missing`);
  const logged = new Set<string>();
  for (let from = 0; ; ) {
    const recs = await restored.events.log.read('local.resource_change', from, 1000);
    if (!recs.length) break;
    for (const r of recs) logged.add((JSON.parse(r.value.toString('utf8')) as { meta: { id: string } }).meta.id);
    from = recs[recs.length - 1].offset + 1;
  }
  const missingEvents = eventsBefore.filter((id) => !logged.has(id));
  assert.deepEqual(missingEvents, [], `${missingEvents.length} of ${eventsBefore.length} acknowledged events missing`);
  const page = await fetch(`${restored.wiki!.url}/w/rest.php/v1/page/Backup_check`);
  assert.equal(page.status, 200);
  assert.match(((await page.json()) as { source: string }).source, /Backed up/);
});
