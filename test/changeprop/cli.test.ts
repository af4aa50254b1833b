// The `cascade rules check` and `cascade dlq list|replay` commands, run as real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../helpers/corpus.ts';
import { configFromYaml } from '../../src/config/index.ts';
import { openEventLog } from '../../src/events/log/index.ts';
import { startChangeprop } from '../../src/changeprop/service.ts';
import { changepropShared } from '../../src/config/shared.ts';
import { Target, event, append, until, readAll } from './helpers.ts';

function cascade(...args: string[]) {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'cascade.js'), ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('cascade rules check: ok with the rule names, exit 2 naming file, line, rule and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-cp-cli-'));
  try {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, "templates:\n  a:\n    topic: t\n    exec: { uri: 'http://x/{{message.id}}' }\n  b:\n    topic: t\n");
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, "templates:\n  a:\n    topic: t\n    retry_limt: 2\n");
    const ok = cascade('rules', 'check', good);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /good\.yaml: ok \(2 rules: a, b\)/);
    const ko = cascade('rules', 'check', bad);
    assert.equal(ko.code, 2);
    assert.match(ko.err, /bad\.yaml:4:\d+: templates\.a\.retry_limt: rule 'a', field 'retry_limt': unknown setting/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cascade dlq list and dlq replay --rule --since --filter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-cp-cli-'));
  const target = await new Target().start();
  target.behaviour = () => ({ status: 500 });
  const yaml = `
data_dir: ${dir}
datacenter: dc1
default_domain: example.wiki
domains:
  example.wiki:
    origin: { url: '${target.url}' }
  other.wiki:
    origin: { url: '${target.url}' }
changeprop:
  templates:
    render:
      topic: page-change
      retry_limit: 0
      exec: { uri: '${target.url}/render/{{message.n}}' }
`;
  const cfgFile = join(dir, 'cascade.yaml');
  writeFileSync(cfgFile, yaml);
  const cfg = configFromYaml(yaml, cfgFile);
  const log = await openEventLog(cfg.events.log, { baseDir: cfg.data_dir });
  try {
    const cp = await startChangeprop(cfg.changeprop, changepropShared(cfg), { log, selfUrl: 'http://127.0.0.1:1' });
    await append(log, 'dc1.page-change', [event('page-change', { n: 1 }), event('page-change', { n: 2 }, { domain: 'other.wiki' })]);
    await until(() => cp.engine.stats().render.dead === 2, 10_000, 'dead letters');
    await cp.close();

    const list = cascade('dlq', 'list', '-c', cfgFile);
    assert.equal(list.code, 0, list.err);
    const lines = list.out.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0], /render {2}#\d+ {2}500 {2}https:\/\/example\.wiki\/wiki\/P.* {2}HTTP 500: failure title/);
    const json = cascade('dlq', 'list', '-c', cfgFile, '--rule', 'render', '--json');
    assert.equal(JSON.parse(json.out.trim().split('\n')[1]).event.n, 2);
    assert.equal(cascade('dlq', 'list', '-c', cfgFile, '--rule', 'nope').code, 2);

    const none = cascade('dlq', 'replay', '-c', cfgFile, '--rule', 'render', '--since', new Date(Date.now() + 3600_000).toISOString());
    assert.match(none.out, /re-published 0 dead letters/);
    const one = cascade('dlq', 'replay', '-c', cfgFile, '--rule', 'render', '--since', '1h', '--filter', '{meta: {domain: other.wiki}}');
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /re-published 1 dead letter of render/);
    const retries = await readAll(log, 'dc1.change-prop.retry.render');
    assert.equal(retries.length, 1);
    assert.equal((retries[0].original_event as { n: number }).n, 2);
    assert.equal(retries[0].retries_left, 1);

    // A running engine executes the replayed event (now succeeding).
    target.behaviour = () => ({ status: 200 });
    const cp2 = await startChangeprop(cfg.changeprop, changepropShared(cfg), { log, selfUrl: 'http://127.0.0.1:1' });
    await until(() => cp2.engine.stats().render.succeeded === 1, 10_000, 'replayed exec');
    assert.equal(target.count('/render/2'), 2);
    assert.equal(target.count('/render/1'), 1);
    await cp2.close();
  } finally {
    await log.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
