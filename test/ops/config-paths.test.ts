// Relative paths in a config file follow the file's directory (so `cascade serve --config
// /etc/cascade/cascade.yaml` works from any directory); an existing data dir that only the old
// rule (the working directory) finds keeps working, with a warning; command-line values
// (CASCADE_DATA_DIR, --data-dir) stay relative to the working directory.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { projectRoot } from '../helpers/corpus.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cascade-cfgpaths-'));
const etc = join(tmp, 'etc');
const cwd = join(tmp, 'cwd');
mkdirSync(etc);
mkdirSync(cwd);
const startCwd = process.cwd();
process.chdir(cwd); // this file's own process (node:test runs each file apart)
after(() => {
  process.chdir(startCwd);
  rmSync(tmp, { recursive: true, force: true });
});

function config(name: string, extra: string): string {
  const file = join(etc, name);
  writeFileSync(
    file,
    `default_domain: a.wiki
domains:
  a.wiki:
    origin: { url: "http://127.0.0.1:9" }
    buckets: { html: { type: key_rev_value } }
${extra}`,
  );
  return file;
}
function load(file: string, env: NodeJS.ProcessEnv = {}) {
  const warnings: string[] = [];
  const cfg = loadConfig(file, env, { warn: (m) => warnings.push(m) });
  return { cfg, warnings };
}

test('data_dir, rule_files and schema directories resolve against the config file', () => {
  mkdirSync(join(etc, 'rules'));
  writeFileSync(join(etc, 'rules', 'r.yaml'), 'templates: {}\n');
  mkdirSync(join(etc, 'schemas'));
  const { cfg, warnings } = load(config('a.yaml', 'data_dir: ./data\nchangeprop: { rule_files: [rules/r.yaml] }\nevents: { schema_base_uris: [builtin, ./schemas, "https://schema.example/x"] }\n'));
  assert.equal(cfg.data_dir, join(etc, 'data'));
  assert.deepEqual(cfg.changeprop.rule_files, [join(etc, 'rules', 'r.yaml')]);
  assert.deepEqual(cfg.events.schema_base_uris, ['builtin', join(etc, 'schemas'), 'https://schema.example/x']);
  assert.deepEqual(warnings, []);
});

test('an existing data dir found only relative to the working directory keeps working, with a warning', () => {
  mkdirSync(join(cwd, 'olddata'));
  writeFileSync(join(cwd, 'olddata', 'storage.sqlite'), '');
  const { cfg, warnings } = load(config('b.yaml', 'data_dir: ./olddata\n'));
  assert.equal(cfg.data_dir, join(cwd, 'olddata'));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /b\.yaml: data_dir '\.\/olddata' is used relative to the working directory/);
});

test('when both exist the config file wins, with a warning naming both', () => {
  mkdirSync(join(cwd, 'both'));
  writeFileSync(join(cwd, 'both', 'events.sqlite'), '');
  mkdirSync(join(etc, 'both'));
  writeFileSync(join(etc, 'both', 'events.sqlite'), '');
  const { cfg, warnings } = load(config('c.yaml', 'data_dir: both\n'));
  assert.equal(cfg.data_dir, join(etc, 'both'));
  assert.equal(warnings.length, 1);
  assert.ok(warnings[0].includes(join(cwd, 'both')) && warnings[0].includes(join(etc, 'both')), warnings[0]);
});

test('an empty folder in the working directory is not taken for an old data dir', () => {
  mkdirSync(join(cwd, 'empty'));
  const { cfg, warnings } = load(config('d.yaml', 'data_dir: empty\n'));
  assert.equal(cfg.data_dir, join(etc, 'empty'));
  assert.deepEqual(warnings, []);
});

test('CASCADE_DATA_DIR (a command-line value) is relative to the working directory', () => {
  const { cfg } = load(config('e.yaml', 'data_dir: ./data\n'), { CASCADE_DATA_DIR: 'elsewhere' });
  assert.equal(cfg.data_dir, join(cwd, 'elsewhere'));
});

test("the shipped config keeps the project root's data/ from any working directory", () => {
  const { cfg } = load(join(projectRoot, 'config', 'cascade.yaml'));
  assert.equal(cfg.data_dir, join(projectRoot, 'data'));
});
