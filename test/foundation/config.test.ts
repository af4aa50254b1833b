import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { configFromYaml, loadConfig, ConfigError } from '../../src/config/index.ts';
import { projectRoot } from '../helpers/corpus.ts';

const minimal = `default_domain: a.wiki
domains:
  a.wiki:
    origin: { url: http://127.0.0.1:9 }
`;

test('minimal config gets defaults filled in', () => {
  const cfg = configFromYaml(minimal, 'min.yaml', {});
  assert.equal(cfg.listen.port, 7231);
  assert.equal(cfg.listen.host, '127.0.0.1');
  assert.equal(cfg.storage.backend, 'sqlite');
  assert.equal(cfg.storage.postgres.url, 'postgres://postgres@127.0.0.1:5432/test');
  // The built-in content API's buckets are declared for every domain (src/resources/declare.ts).
  assert.deepEqual(Object.keys(cfg.domains['a.wiki'].buckets).sort(), ['html', 'mobile-html', 'mobile-sections', 'page-meta', 'stash', 'summary']);
});

test('CASCADE_PG_URL overrides the PostgreSQL url', () => {
  const cfg = configFromYaml(minimal, 'min.yaml', { CASCADE_PG_URL: 'postgres://x@h:1/db' });
  assert.equal(cfg.storage.postgres.url, 'postgres://x@h:1/db');
});

function problemsOf(text: string) {
  try {
    configFromYaml(text, 'bad.yaml', {});
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.problems;
  }
  assert.fail('config was accepted');
}

test('a wrong type names file, line and path', () => {
  const p = problemsOf(minimal + 'listen:\n  port: seventy\n');
  assert.equal(p.length, 1);
  assert.equal(p[0].file, 'bad.yaml');
  assert.equal(p[0].line, 6);
  assert.equal(p[0].path, 'listen.port');
  assert.match(p[0].message, /integer/);
});

test('an unknown setting is reported at its own line', () => {
  const p = problemsOf(minimal + 'storage:\n  backend: sqlite\n  bakend: postgres\n');
  assert.equal(p[0].line, 7);
  assert.equal(p[0].path, 'storage.bakend');
  assert.match(p[0].message, /unknown setting 'bakend'/);
});

test('a bad enum lists the allowed values', () => {
  const p = problemsOf(minimal + '    buckets:\n      html: { type: key_rev_value, compression: lzma }\n');
  assert.equal(p[0].path, 'domains.a.wiki.buckets.html.compression');
  assert.equal(p[0].line, 6);
  assert.match(p[0].message, /"brotli"/);
});

test('retention latest requires count', () => {
  const p = problemsOf(minimal + '    buckets:\n      html: { type: key_rev_value, retention: { policy: latest } }\n');
  assert.ok(p.some((x) => x.path.endsWith('retention') && /count/.test(x.message)), JSON.stringify(p));
});

test('YAML syntax errors carry the line', () => {
  const p = problemsOf('default_domain: a\ndomains:\n  a: [unclosed\n');
  assert.ok(p[0].line >= 3, JSON.stringify(p));
});

test('duplicate keys are refused', () => {
  const p = problemsOf(minimal + 'datacenter: a\ndatacenter: b\n');
  assert.ok(p[0].line >= 5, JSON.stringify(p));
});

test('default_domain must name a configured domain', () => {
  assert.throws(() => configFromYaml(minimal.replace('default_domain: a.wiki', 'default_domain: b.wiki'), 'x', {}), /default_domain/);
});

test('the shipped embedded default config is valid', () => {
  const cfg = loadConfig(join(projectRoot, 'config', 'cascade.yaml'), {});
  assert.ok(cfg.domains[cfg.default_domain]);
});

test('cascade check-config exits non-zero naming file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-cfg-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, minimal + 'listen:\n  port: -4\n');
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'cascade.js'), 'check-config', file], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:\\d+: listen.port`));
  assert.ok(readFileSync(file, 'utf8').includes('port: -4'));
});

test('environment selects the distributed engines', () => {
  const cfg = configFromYaml(minimal, 'min.yaml', {
    CASCADE_STORAGE_BACKEND: 'postgres',
    CASCADE_LOG_BACKEND: 'jetstream',
    CASCADE_NATS_URL: 'nats://127.0.0.1:4999',
  });
  assert.equal(cfg.storage.backend, 'postgres');
  assert.equal(cfg.events.log.backend, 'jetstream');
  assert.equal(cfg.events.log.backend === 'jetstream' && cfg.events.log.url, 'nats://127.0.0.1:4999');
  assert.throws(() => configFromYaml(minimal, 'min.yaml', { CASCADE_LOG_BACKEND: 'kafka' }), /CASCADE_LOG_BACKEND.*sqlite, jetstream/s);
});
