// Production package: `npm pack` (its prepack compiles src/ to dist/) gives a tarball that
// installs with `npm install -g` into a temporary prefix and runs `cascade serve --config FILE`
// from an unrelated working directory, on compiled JavaScript: the data dir follows the config
// file, the event schemas ship inside dist/, and the example wiki's page is served.
// Installing compiles better-sqlite3 from source (no binary downloads), so this takes minutes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { projectRoot } from '../helpers/corpus.ts';
import { cleanEnv, startCascade, type CascadeProc } from './cli-proc.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cascade-pack-'));
let server: CascadeProc | undefined;
after(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('npm pack, npm install -g into a prefix, cascade serve --config from another directory', { timeout: 20 * 60_000 }, async () => {
  // A copy of the package sources, so the build of the pack does not touch this checkout's dist/.
  const srcCopy = join(tmp, 'src-copy');
  mkdirSync(srcCopy);
  for (const f of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'bin', 'src', 'config', 'scripts']) {
    if (existsSync(join(projectRoot, f))) cpSync(join(projectRoot, f), join(srcCopy, f), { recursive: true });
  }
  symlinkSync(join(projectRoot, 'node_modules'), join(srcCopy, 'node_modules'));
  run('npm', ['pack', '--pack-destination', tmp], srcCopy);
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz, 'npm pack wrote a tarball');
  const listing = run('tar', ['tzf', join(tmp, tgz)], tmp);
  assert.match(listing, /package\/dist\/cli\/main\.js/);
  assert.match(listing, /package\/dist\/events\/schemas\/mediawiki\/revision\/create\/2\.0\.0\.yaml/);
  assert.doesNotMatch(listing, /package\/src\//, 'the package ships compiled code only');

  const prefix = join(tmp, 'prefix');
  // better-sqlite3 is compiled here (build-from-source: nothing downloads binaries); its install
  // script is the only one allowed.
  run('npm', ['install', '-g', '--prefix', prefix, join(tmp, tgz), '--prefer-offline', '--allow-scripts=better-sqlite3', '--no-audit', '--no-fund'], tmp, cleanEnv({ npm_config_build_from_source: 'true', JOBS: 'max' }));
  const installed = join(prefix, 'lib', 'node_modules', 'cascade');
  assert.ok(existsSync(join(installed, 'dist', 'cli', 'main.js')));
  assert.ok(!existsSync(join(installed, 'node_modules', 'tsx')), 'no TypeScript loader is installed');

  // The config lives in etc/, data_dir relative to it; the server runs from elsewhere.
  const etc = join(tmp, 'etc');
  const cwd = join(tmp, 'somewhere-else');
  mkdirSync(etc);
  mkdirSync(cwd);
  // The shipped config, on free ports, with data_dir relative to where it now lives.
  const cfg = parseYaml(readFileSync(join(installed, 'config', 'cascade.yaml'), 'utf8')) as { listen: { port: number }; data_dir: string; wiki?: Record<string, unknown>; events: { producers?: unknown[] } };
  cfg.listen.port = 0;
  // resource_change is Cascade's own stream: the test opens it to loopback to post one.
  cfg.events.producers = [...(cfg.events.producers ?? []), { streams: ['resource_change'], from: ['loopback'], internal: true }];
  cfg.data_dir = './data';
  cfg.wiki = { ...cfg.wiki, port: 0 };
  writeFileSync(join(etc, 'cascade.yaml'), toYaml(cfg));
  server = startCascade(join(prefix, 'bin', 'cascade'), ['serve', '--config', join(etc, 'cascade.yaml')], { cwd });
  await server.waitFor('cascade listening');
  await server.waitFor('changeprop started'); // start-up done: SIGTERM now finds serve's handler
  const res = await fetch(`${server.url}/example.wiki/v1/page/html/Main_Page`);
  const body = await res.text();
  assert.equal(res.status, 200, body);
  assert.match(body, /<html/);
  assert.match(res.headers.get('etag') ?? '', /^"\d+\/[0-9a-f-]+"$/);
  // Intake validates against the schemas shipped in dist/ (a bad event is told apart from a good one).
  const event = (uri: string) => ({ $schema: '/resource_change/1.0.0', meta: { stream: 'resource_change', dt: new Date().toISOString(), uri } });
  const good = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event('https://example.wiki/x')) });
  assert.equal(good.status, 201, await good.text());
  const bad = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...event('x'), meta: { stream: 'resource_change', dt: new Date().toISOString(), uri: 12 } }) });
  assert.equal(bad.status, 400, await bad.text());
  // Swagger UI assets resolve from the installed package.
  const ui = await fetch(`${server.url}/example.wiki/v1/`);
  assert.equal(ui.status, 200);
  assert.ok(existsSync(join(etc, 'data', 'storage.sqlite')), 'data_dir follows the config file');
  assert.ok(!existsSync(join(cwd, 'data')), 'nothing is written to the working directory');
  assert.equal(await server.stop(), 0);
  assert.ok(!server.lines.some((l) => /dist\/ is older|tsx/.test(l)), server.lines.join('\n'));
});
