// Resource declarations in config: errors name file, line and what is wrong; buckets come from
// the declaration; the old changeprop.dependencies key is read and warned about; the rules
// are derived from the declarations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromYaml, loadConfig, ConfigError } from '../../src/config/index.ts';
import { explainRules as explainSection } from '../../src/changeprop/service.ts';
import { deriveAllRules } from '../../src/resources/rules.ts';
import type { CascadeConfig } from '../../src/config/index.ts';

const explainRules = (cfg: CascadeConfig) => explainSection(cfg.changeprop, deriveAllRules(cfg));

const base = (resources: string, extra = '') => `
default_domain: w.test
domains:
  w.test:
    origin: { url: 'http://127.0.0.1:9' }
${extra}
resources:
${resources}
`;

function problems(yaml: string): string[] {
  try {
    configFromYaml(yaml, 'cascade.yaml', {});
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems.map((p) => `${p.file}:${p.line}: ${p.path}: ${p.message}`);
  }
  return [];
}

const MEDIA = `  media-list:
    path: /page/media-list/{title}
    request: { uri: '/w/rest.php/v1/page/{title}/links/media' }
    depends_on: [revision]`;

test('a declared stored resource brings its bucket and default settings', () => {
  const cfg = configFromYaml(base(MEDIA), 'cascade.yaml', {});
  assert.deepEqual(cfg.domains['w.test']!.buckets['media-list'], { type: 'key_rev_value', compression: 'gzip', retention: { policy: 'latest', count: 1, grace_seconds: 3600 } });
  assert.equal(cfg.resources['media-list']!.refresh, 'eager');
  assert.ok(cfg.domains['w.test']!.buckets['resource-marks'], 'stale marks have their bucket');
});

test('config errors give the file, the line and what is wrong', () => {
  const host = problems(base(`  media-list:
    path: /page/media-list/{title}
    request: { uri: 'http://evil.example/{title}' }`));
  assert.equal(host.length, 1, host.join('\n'));
  assert.match(host[0]!, /^cascade\.yaml:10: resources\.media-list\.request\.uri: must be a path on the backend/);

  const dep = problems(base(`  media-list:
    path: /page/media-list/{title}
    request: { uri: '/x/{title}' }
    depends_on: [revision, nothing-here]`));
  assert.match(dep.join('\n'), /cascade\.yaml:\d+: resources\.media-list\.depends_on\.1: unknown 'nothing-here'/);

  const path = problems(base(`  media-list:
    path: /media/{title}/list
    request: { uri: '/x/{title}' }`));
  assert.match(path.join('\n'), /cascade\.yaml:9: resources\.media-list\.path: a stored resource's path is \/page\/<endpoint>\/\{title\}/);

  const taken = problems(base(`  my-html:
    kind: proxy
    path: /page/html/{title}
    request: { uri: '/x/{title}' }`));
  assert.match(taken.join('\n'), /belongs to the built-in content API/);

  const backend = problems(base(`  x:
    path: /page/x/{title}
    request: { uri: '/x/{title}', backend: nowhere }`));
  assert.match(backend.join('\n'), /unknown backend 'nowhere'/);

  const cycle = problems(base(`  a:
    path: /page/a/{title}
    request: { uri: '/a/{title}' }
    depends_on: [b]
  b:
    path: /page/b/{title}
    request: { uri: '/b/{title}' }
    depends_on: [a]`));
  assert.match(cycle.join('\n'), /dependency cycle: a → b → a/);

  const schema = problems(base(`  a:
    path: /page/a/{title}
    request: { uri: '/a/{title}' }
    refresh: sometimes`));
  assert.match(schema.join('\n'), /cascade\.yaml:11: resources\.a\.refresh: must be one of "eager", "hot", "lazy"/);
});

test('a domain declaration replaces the shared one of its name', () => {
  const cfg = configFromYaml(
    `
default_domain: w.test
domains:
  w.test:
    origin: { url: 'http://127.0.0.1:9' }
    resources:
      media-list:
        path: /page/media-list/{title}
        request: { uri: '/other/{title}' }
        refresh: lazy
resources:
${MEDIA}
`,
    'cascade.yaml',
    {},
  );
  assert.equal(cfg.domains['w.test']!.resources!['media-list']!.refresh, 'lazy');
});

test('changeprop.dependencies still works, with a warning naming its replacement', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-res-cfg-'));
  try {
    const file = join(dir, 'cascade.yaml');
    writeFileSync(file, `default_domain: w.test\ndata_dir: ${JSON.stringify(dir)}\ndomains:\n  w.test:\n    origin: { url: 'http://127.0.0.1:9' }\nchangeprop:\n  dependencies:\n    html: [revision]\n    summary: [html]\n`);
    const warnings: string[] = [];
    const cfg = loadConfig(file, {}, { warn: (m) => warnings.push(m) });
    assert.deepEqual(cfg.changeprop.dependencies, { html: ['revision'], summary: ['html'] });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /changeprop\.dependencies .* replaced by resources\.<name>\.depends_on/);
    assert.match(warnings[0]!, /resources: \{ html: \{ depends_on: \[revision\] \}, summary: \{ depends_on: \[html\] \} \}/);
    assert.ok(explainRules(cfg).rules.some((r) => r.name === 'page_edit'), 'the old key still derives its rules');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rules are derived from the declarations (built-ins, stored resources, purges)', () => {
  const cfg = configFromYaml(
    base(`  html: { depends_on: [revision, templates] }
  summary: { depends_on: [html] }
${MEDIA}
  media-count:
    path: /page/media-count/{title}
    request: { uri: '/count/{title}' }
    depends_on: [media-list, templates]
    refresh: lazy`),
    'cascade.yaml',
    {},
  );
  const { derived } = explainRules(cfg);
  const t = derived.templates;
  assert.ok(t.page_edit && t.summary_rerender, 'built-ins from their declarations');
  assert.deepEqual((t.media_list_on_revision as { exec: { uri: string } }).exec.uri, '/{message.meta.domain}/sys/resources/media-list/{message.page_title}/changed');
  assert.ok(t.media_count_on_media_list, 'resource → resource edge');
  assert.ok(t.media_count_on_transclusion_update && t.transclusion_update, 'templates edge');
  const purge = JSON.stringify(t.cdn_purge);
  assert.match(purge, /media\\\\-list\|media\\\\-count/, 'declared endpoints are purged');
  assert.ok(derived.graph.some((g) => g.to === 'media-count' && /refresh: lazy/.test(g.note ?? '')));
});

test('the built-ins are declarations: filled in when left out, their storage gives the bucket', () => {
  // A config from before declarations: no resources at all.
  const old = configFromYaml(base('').replace('resources:\n', ''), 'cascade.yaml', {});
  for (const name of ['html', 'summary', 'mobile-sections', 'mobile-html', 'page-meta', 'title', 'revision']) {
    assert.equal(old.resources[name]?.kind, 'builtin', name);
  }
  assert.equal(old.resources.html!.path, '/page/html/{title}');
  assert.deepEqual(old.resources.html!.depends_on, [], 'what re-renders a built-in is never assumed');
  assert.deepEqual(old.domains['w.test']!.buckets.html, { type: 'key_rev_value', compression: 'brotli', retention: { policy: 'latest', count: 5, grace_seconds: 86400 } });
  assert.equal(old.domains['w.test']!.buckets['page-meta']!.type, 'key_value');
  assert.equal(old.domains['w.test']!.buckets.title, undefined, 'listings store nothing of their own');

  // Only some keys: the rest from the built-in's defaults; storage declared → the bucket.
  const cfg = configFromYaml(
    base(`  summary:
    depends_on: [html]
    storage: { type: key_rev_value, compression: brotli, retention: { policy: latest, count: 3, grace_seconds: 60 } }
    stability: experimental`),
    'cascade.yaml',
    {},
  );
  assert.equal(cfg.resources.summary!.path, '/page/summary/{title}');
  assert.equal(cfg.resources.summary!.tag, 'Page content');
  assert.deepEqual(cfg.domains['w.test']!.buckets.summary, { type: 'key_rev_value', compression: 'brotli', retention: { policy: 'latest', count: 3, grace_seconds: 60 } });
  assert.deepEqual(cfg.changeprop.dependencies, { summary: ['html'] });
});

test("a built-in's producer, path and filters are its code's: declaring them is an error naming the line", () => {
  const moved = problems(base(`  html:
    path: /page/parsoid/{title}`));
  assert.match(moved.join('\n'), /^cascade\.yaml:9: resources\.html\.path: the built-in 'html' is produced by Cascade's code at \/page\/html\/\{title\}/m);
  const req = problems(base(`  summary:
    request: { uri: '/x/{title}' }`));
  assert.match(req.join('\n'), /resources\.summary\.request: the built-in 'summary' is produced by Cascade's code: request cannot be declared/);
  const lazy = problems(base(`  html:
    refresh: lazy`));
  assert.match(lazy.join('\n'), /resources\.html\.refresh: .*re-renders on every change \(refresh: eager\)/);
  assert.deepEqual(problems(base(`  mobile-html:
    refresh: lazy`)), [], 'a built-in derived from the html may refresh lazily');
  const kind = problems(base(`  html:
    kind: stored
    path: /page/html/{title}
    request: { uri: '/x/{title}' }`));
  assert.match(kind.join('\n'), /resources\.html\.kind: 'html' is a built-in resource/);
  const dep = problems(base(`  summary:
    depends_on: [media-list]
${MEDIA}`));
  assert.match(dep.join('\n'), /resources\.summary\.depends_on\.0: the built-in 'summary' can depend on .* only, not 'media-list'/);
});
