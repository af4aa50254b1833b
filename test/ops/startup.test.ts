// The start-up message: on a terminal `cascade serve` prints where it listens, the docs and
// dashboard URLs and pages to try; with stdout not a TTY it keeps its JSON log lines.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromYaml } from '../../src/config/index.ts';
import { startupMessage } from '../../src/ops/index.ts';
import { until } from './harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('startupMessage names the URLs and example pages', () => {
  const config = configFromYaml(readFileSync(join(ROOT, 'config/cascade.yaml'), 'utf8'), 'config/cascade.yaml', {});
  const text = startupMessage({ url: 'http://127.0.0.1:7231', version: '9.9.9', config, rules: ['page_edit'], examples: ['Main_Page', 'Silver River'], wikiUrl: 'http://127.0.0.1:7232' });
  assert.match(text, /Cascade 9\.9\.9 is running/);
  for (const want of ['http://127.0.0.1:7231/', 'http://127.0.0.1:7231/example.wiki/v1/', 'http://127.0.0.1:7231/_dashboard', 'http://127.0.0.1:7231/metrics', 'http://127.0.0.1:7232']) {
    assert.ok(text.includes(want), `${want} in\n${text}`);
  }
  assert.ok(text.includes('curl http://127.0.0.1:7231/example.wiki/v1/page/html/Main_Page'));
  assert.ok(text.includes('/example.wiki/v1/page/summary/Silver_River'));
});

/** Runs `cascade serve` on a temp config until `done(output)`, then stops it with SIGTERM. */
async function serve(t: TestContext, tty: boolean, done: (out: string) => boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-startup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = readFileSync(join(ROOT, 'config/cascade.yaml'), 'utf8').replace('port: 7231', 'port: 0').replace(/^data_dir: .*$/m, `data_dir: ${JSON.stringify(dir)}`);
  writeFileSync(join(dir, 'cascade.yaml'), `${cfg}\nwiki: { port: 0 }\n`);
  const cmd = [process.execPath, join(ROOT, 'bin/cascade.js'), 'serve', '--config', join(dir, 'cascade.yaml')];
  // util-linux `script` gives the child a pseudo-terminal.
  const child = tty ? spawn('script', ['-qec', cmd.map((a) => `'${a}'`).join(' '), '/dev/null'], { cwd: ROOT }) : spawn(cmd[0], cmd.slice(1), { cwd: ROOT });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await until(() => done(out), 30_000, `cascade serve output (${tty ? 'tty' : 'pipe'}):\n${out}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  // The data went to the test's own directory, nowhere shared.
  assert.ok(existsSync(join(dir, 'storage.sqlite')), `storage.sqlite in ${dir}`);
  return out;
}

test('cascade serve: the message on a TTY, JSON log lines otherwise', async (t) => {
  const piped = await serve(t, false, (o) => o.includes('"msg":"changeprop started"'));
  const listening = piped.split('\n').find((l) => l.includes('"msg":"cascade listening"'));
  assert.ok(listening, piped);
  assert.match(JSON.parse(listening).url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(!piped.includes('is running'), 'no banner when stdout is not a TTY');

  if (spawnSync('script', ['--version']).status !== 0) {
    if (process.env.CI) assert.fail('util-linux `script` is required in CI (the TTY half of this test)');
    console.error('\n!!! SKIPPING the TTY half: util-linux `script` is not installed\n');
    return;
  }
  const onTty = await serve(t, true, (o) => o.includes('Ctrl-C stops Cascade'));
  assert.match(onTty, /Cascade \d+\.\d+\.\d+ is running/);
  assert.match(onTty, /dashboard\s+http:\/\/127\.0\.0\.1:\d+\/_dashboard/);
  assert.match(onTty, /API docs\s+http:\/\/127\.0\.0\.1:\d+\/example\.wiki\/v1\//);
  assert.match(onTty, /curl http:\/\/127\.0\.0\.1:\d+\/example\.wiki\/v1\/page\/html\/\S+/);
  assert.ok(!onTty.includes('"msg":"cascade listening"'), 'the banner replaces the start-up JSON lines');
});
