// `cascade origin check URL` against a real MediaWiki (stock, and with core's development
// transform route) and against the example wiki: what each offers and the config block.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { configFromYaml } from '../../src/config/index.ts';
import { originBase } from '../../src/origins/mediawiki/check.ts';
import { startWiki } from '../../src/wiki/index.ts';
import { projectRoot } from '../helpers/corpus.ts';
import { requireMediaWiki } from '../helpers/mediawiki.ts';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, [join(projectRoot, 'bin', 'cascade.js'), ...args], { cwd: projectRoot });

test('originBase strips the entry points', () => {
  assert.equal(originBase('https://wiki.example.org/w/api.php'), 'https://wiki.example.org');
  assert.equal(originBase('https://wiki.example.org/w/rest.php/v1/page/X'), 'https://wiki.example.org');
  assert.equal(originBase('http://127.0.0.1:8080/'), 'http://127.0.0.1:8080');
  assert.throws(() => originBase('ftp://x'), /not an http/);
});

test('real MediaWiki: origin check reports Parsoid, routes, recentchanges and a config block that loads', async (t) => {
  const mw = await requireMediaWiki(t, { coreDevRoutes: true });
  if (!mw) return;
  try {
    const { stdout } = await cli('origin', 'check', `${mw.url}/w/api.php`, '--domain', 'wiki.test');
    assert.match(stdout, /ok {3}siteinfo \(action API\): MediaWiki 1\.\d+/);
    assert.match(stdout, /ok {3}REST page HTML \(Parsoid\): .*Parsoid HTML 2\.\d+\.\d+/);
    assert.match(stdout, /ok {3}transform wikitext → HTML: POST \/w\/rest\.php\/coredev\/v0\/transform\/wikitext\/to\/html/);
    assert.match(stdout, /ok {3}recentchanges: /);
    assert.match(stdout, /\$wgRCFeeds\['cascade'\]/);
    const block = stdout.slice(stdout.indexOf('domains:'), stdout.indexOf('\n\nOptional'));
    const cfg = configFromYaml(`default_domain: wiki.test\n${block}\n`, '<check>', {});
    assert.equal(cfg.domains['wiki.test'].origin.url, mw.url);
    assert.equal(cfg.domains['wiki.test'].origin.changes?.follow, 'recentchanges');
  } finally {
    await mw.close();
  }
});

test('example wiki: origin check as JSON; an unreachable URL exits non-zero', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-check-'));
  const wiki = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, domain: 'example.wiki', seed: true });
  try {
    const { stdout } = await cli('origin', 'check', wiki.url, '--json');
    const r = JSON.parse(stdout) as { probes: { name: string; ok: boolean }[]; follow: string };
    assert.ok(r.probes.find((p) => p.name === 'recentchanges')?.ok, 'the example wiki serves recentchanges');
    assert.equal(r.follow, 'recentchanges');
    await wiki.close();
    await assert.rejects(cli('origin', 'check', wiki.url), (e: { code?: number; stdout?: string }) => e.code === 1 && /MISS siteinfo/.test(e.stdout ?? ''));
  } finally {
    await wiki.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
