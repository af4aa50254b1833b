// `cascade check-config` validates everything `serve` would: each broken config below is
// refused with file:line:col of the offending line, `serve` refuses it before listening, and
// the shipped config passes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../helpers/corpus.ts';
import { loadCheckedConfig } from '../../src/config/check.ts';
import { ConfigError, type ConfigProblem } from '../../src/config/index.ts';

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'cascade.js'), ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('check-config: everything serve would refuse', () => {
  let dir: string;
  const base = (extra: string) => `data_dir: ${JSON.stringify(join(dir, 'data'))}
default_domain: example.wiki
domains:
  example.wiki:
    origin: { url: "http://127.0.0.1:9" }
${extra}`;
  const file = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  /** The problems of a config, as `file:line:col: path: message` lines. */
  const problems = async (name: string, extra: string): Promise<{ f: string; list: ConfigProblem[]; text: string }> => {
    const f = file(name, base(extra));
    try {
      await loadCheckedConfig(f, {});
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return { f, list: e.problems, text: e.message };
    }
    return { f, list: [], text: '' };
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cascade-check-'));
    file('good-rules.yaml', "templates:\n  warm:\n    topic: resource_change\n    exec: { method: get, uri: '/sys/x' }\n");
    file('dup-rules.yaml', "templates:\n  other:\n    topic: t\n    exec: { uri: '/a' }\n  warm:\n    topic: t\n    exec: { uri: '/b' }\n");
    file('broken.yaml', 'templates:\n  a:\n    topic: t\n    exec: [ { uri: /x }\n');
    file('noexec.yaml', 'templates:\n  ok:\n    topic: t\n    exec: { uri: /x }\n  lazy:\n    topic: t\n    match: { a: 1 }\n');
    file('badtopic.yaml', "templates:\n  a:\n    topic: '/(unclosed/'\n    exec: { uri: /x }\n");
    mkdirSync(join(dir, 'schemas'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a good config, and the shipped one', async () => {
    const r = await problems('ok.yaml', `changeprop:\n  rule_files: [${JSON.stringify(join(dir, 'good-rules.yaml'))}]\nevents:\n  schema_base_uris: [builtin, ${JSON.stringify(join(dir, 'schemas'))}]\n`);
    assert.deepEqual(r.list, []);
    const shipped = cli('check-config', 'config/cascade.yaml');
    assert.equal(shipped.code, 0, shipped.err);
    assert.match(shipped.out, /config\/cascade\.yaml: ok/);
  });

  it('default_domain naming no domain points at its own line', async () => {
    const f = file('dd.yaml', `domains:\n  a.wiki:\n    origin: { url: "http://x" }\n\ndefault_domain: b.wiki\n`);
    await assert.rejects(loadCheckedConfig(f, {}), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${f}:5:1: default_domain: names no configured domain: b.wiki`));
  });

  const cases: [string, string, RegExp][] = [
    ['missing rule file', 'changeprop:\n  rule_files:\n    - /nonexistent/rules.yaml\n', /^CFG:8:7: changeprop\.rule_files\.0: rule file \/nonexistent\/rules\.yaml: cannot read: ENOENT/],
    ['rule file that does not parse', `changeprop:\n  rule_files: [RULES/broken.yaml]\n`, /^RULES\/broken\.yaml:\d+:\d+: /],
    ['rule file listed twice', `changeprop:\n  rule_files:\n    - RULES/good-rules.yaml\n    - RULES/good-rules.yaml\n`, /^CFG:9:7: changeprop\.rule_files\.1: rule file .* is listed twice/],
    ['rule declared in two files', `changeprop:\n  rule_files: [RULES/good-rules.yaml, RULES/dup-rules.yaml]\n`, /^RULES\/dup-rules\.yaml:5:1: warm: rule 'warm' is declared twice \(also at RULES\/good-rules\.yaml:2\)/],
    ['rule without exec', `changeprop:\n  rule_files: [RULES/noexec.yaml]\n`, /^RULES\/noexec\.yaml:5:1: lazy: rule 'lazy': no 'exec'/],
    ['inline rule without exec', 'changeprop:\n  templates:\n    quiet:\n      topic: t\n', /^CFG:8:5: changeprop\.templates\.quiet: rule 'quiet': no 'exec'/],
    ['invalid rule topic regex', `changeprop:\n  rule_files: [RULES/badtopic.yaml]\n`, /^RULES\/badtopic\.yaml:3:\d+: .*invalid regular expression/],
    ['dependency cycle', 'changeprop:\n  dependencies:\n    html: [revision]\n    summary: [mobile-sections]\n    mobile-sections: [summary]\n', /^CFG:9:5: changeprop\.dependencies\.summary: dependency cycle: summary → mobile-sections → summary/],
    ['unknown dependency', 'changeprop:\n  dependencies:\n    html: [revision]\n    summary: [html, wikitext]\n', /^CFG:9:21: changeprop\.dependencies\.summary\.1: 'summary' depends on unknown 'wikitext'/],
    ['unknown resource', 'changeprop:\n  dependencies:\n    html: [revision]\n    infobox: [html]\n', /^CFG:9:5: changeprop\.dependencies\.infobox: 'infobox' is not a stored resource/],
    ['invalid stream pattern', 'events:\n  streams:\n    "/^mediawiki\\\\.(/": { schema_title: x }\n', /^CFG:8:5: events\.streams\.\/\^mediawiki\\\.\(\/: invalid stream pattern/],
    ['missing schema directory', 'events:\n  schema_base_uris:\n    - builtin\n    - ./no/such/schemas\n', /^CFG:9:7: events\.schema_base_uris\.1: schema directory .*no\/such\/schemas does not exist/],
    ['bad purge target', 'changeprop:\n  purge:\n    targets: ["http://[::1"]\n', /^CFG:8:15: changeprop\.purge\.targets\.0: not an http\(s\) URL/],
  ];
  for (const [name, extra, want] of cases) {
    it(`${name}: refused at file:line:col`, async () => {
      const rules = dir;
      const r = await problems(`${name.replace(/\W+/g, '-')}.yaml`, extra.replaceAll('RULES', rules));
      const pattern = new RegExp(want.source.replaceAll('CFG', escapeRe(r.f)).replaceAll('RULES', escapeRe(rules)), want.flags);
      assert.ok(r.list.length > 0, `${name}: accepted`);
      assert.ok(
        r.text.split('\n').some((l) => pattern.test(l)),
        `${name}:\n${r.text}\n  does not match ${pattern}`,
      );
    });
  }

  it('the data directory under a file is refused', async () => {
    file('plain-file', 'x');
    const f = file('dd-file.yaml', `data_dir: ${JSON.stringify(join(dir, 'plain-file', 'data'))}\ndefault_domain: a.wiki\ndomains:\n  a.wiki:\n    origin: { url: "http://x" }\n`);
    await assert.rejects(loadCheckedConfig(f, {}), (e: unknown) => e instanceof ConfigError && /:1:1: data_dir: .* cannot be created: .*plain-file is a file/.test(e.message));
  });

  it('the CLI answers exit 2 with every problem; serve refuses before listening', () => {
    const f = file(
      'many.yaml',
      base(`listen: { host: 127.0.0.1, port: 0 }\nchangeprop:\n  rule_files: [${JSON.stringify(join(dir, 'noexec.yaml'))}]\n  dependencies:\n    summary: [summary]\n`),
    );
    const r = cli('check-config', f);
    assert.equal(r.code, 2, r.out + r.err);
    // Deprecation warnings (one line each) may come first.
    assert.match(r.err, /^(cascade: warning: .*\n)*cascade: invalid configuration\n/);
    assert.match(r.err, /noexec\.yaml:5:1: lazy: rule 'lazy': no 'exec'/);
    assert.match(r.err, /many\.yaml:10:15: changeprop\.dependencies\.summary\.0: 'summary' depends on itself/);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    const s = cli('serve', '--config', f);
    assert.equal(s.code, 2, s.out + s.err);
    assert.match(s.err, /no 'exec'/);
    assert.doesNotMatch(s.out, /cascade listening/);
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
