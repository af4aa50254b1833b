// cascade refresh against the example wiki (test hooks count renders per title): the page list
// comes from list=allpages with continuation; rerender renders each page once; a pattern limits
// it; an interrupted refresh resumes after its saved position without redoing finished pages;
// warm renders nothing already stored; the CLI does the same against a running Cascade (--url).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';
import { refresh, titleMatcher, type RefreshState } from '../../src/ops/refresh.ts';
import type { Progress } from '../../src/ops/progress.ts';
import { corpusPath, projectRoot } from '../helpers/corpus.ts';
import { cleanEnv } from './cli-proc.ts';
import { until } from '../helpers/wait.ts';

const D = 'example.wiki';
const dir = mkdtempSync(join(tmpdir(), 'cascade-refresh-'));
const yaml = `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: ${D}
wiki: { port: 0, test_hooks: true }
changeprop: { enabled: false }
domains:
  ${D}:
    origin: { url: "http://127.0.0.1:9" }
    buckets:
      html: { type: key_rev_value, compression: brotli }
      summary: { type: key_rev_value, compression: gzip }
      mobile-sections: { type: key_rev_value, compression: gzip }
      page-meta: { type: key_value }
`;
let app: App;
let titles: string[] = []; // every page of namespace 0, as list=allpages gives them

before(async () => {
  app = await startApp(configFromYaml(yaml, '<test>', {}), { quiet: true });
  app.wiki!.importWikitextDir(corpusPath('wikitext'));
});
after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const origin = () => app.wiki!.url;
async function resetRenders() {
  assert.equal((await fetch(`${origin()}/w/rest.php/v1/_test/reset`, { method: 'POST' })).status, 200);
}
async function renders(): Promise<Record<string, number>> {
  const s = (await (await fetch(`${origin()}/w/rest.php/v1/_test/stats`)).json()) as { byTitle: Record<string, number> };
  return s.byTitle;
}
const key = (title: string) => title.replace(/ /g, '_');
/** Waits until Cascade's content service has no render or derivation in flight (its single-flight map is empty). */
async function cascadeIdle(): Promise<void> {
  const inflight = (app.content.service as unknown as { inflight: Map<string, unknown> }).inflight;
  assert.ok(inflight instanceof Map, 'the content service keeps its in-flight renders in a map');
  await until(() => inflight.size === 0, 30_000, 'no render in flight');
}

test('list=allpages pages through every title in order with apcontinue', async () => {
  const seen: string[] = [];
  let cont: string | undefined;
  let calls = 0;
  do {
    const u = `${origin()}/w/api.php?action=query&list=allpages&aplimit=10&format=json&formatversion=2${cont ? `&apcontinue=${encodeURIComponent(cont)}` : ''}`;
    const body = (await (await fetch(u)).json()) as { query: { allpages: { title: string; ns: number }[] }; continue?: { apcontinue: string } };
    seen.push(...body.query.allpages.map((p) => p.title));
    cont = body.continue?.apcontinue;
    calls++;
  } while (cont);
  assert.ok(seen.length > 70, `${seen.length} pages`);
  assert.equal(calls, Math.ceil(seen.length / 10) + (seen.length % 10 === 0 ? 1 : 0));
  assert.equal(new Set(seen).size, seen.length, 'no page twice');
  assert.deepEqual([...seen].sort((a, b) => (Buffer.compare(Buffer.from(key(a)), Buffer.from(key(b))))), seen, 'in title order');
  assert.ok(seen.includes('Main Page') && !seen.some((t) => t.startsWith('Template:')), 'namespace 0 only');
  const prefixed = (await (await fetch(`${origin()}/w/api.php?action=query&list=allpages&apprefix=Remote&aplimit=max&format=json`)).json()) as { query: { allpages: { title: string }[] } };
  assert.deepEqual(prefixed.query.allpages.map((p) => p.title), seen.filter((t) => t.startsWith('Remote')));
  titles = seen;
});

test('titleMatcher: globs (space = underscore) and /regex/', () => {
  assert.ok(titleMatcher('Silver*')('Silver River'));
  assert.ok(titleMatcher('Silver_R?ver')('Silver River'));
  assert.ok(!titleMatcher('Silver*')('Larkford'));
  assert.ok(titleMatcher('/^Remote-Data-(Objects|Services)$/')('Remote-Data-Services'));
  assert.ok(!titleMatcher('/^remote/')('Remote-Data-Services'));
  assert.ok(titleMatcher('/^remote/i')('Remote-Data-Services'));
  assert.throws(() => titleMatcher('/(/'), /Bad title pattern|Invalid regular expression/);
});

test('rerender with a pattern renders exactly the matching pages, once each', async () => {
  await resetRenders();
  const r = await refresh({ cascadeUrl: app.url, originUrl: origin(), domain: D, mode: 'rerender', pattern: 'R*', concurrency: 3 });
  const expected = titles.filter((t) => t.startsWith('R'));
  assert.ok(expected.length >= 3);
  assert.equal(r.state.done, expected.length);
  assert.deepEqual(r.state.failed, []);
  const counts = await renders();
  assert.deepEqual(Object.keys(counts).sort(), expected.map(key).sort());
  for (const t of expected) assert.equal(counts[key(t)], 1, t);
});

test('an interrupted refresh resumes after its saved position without redoing finished pages', async () => {
  const stateFile = join(dir, 'state.json');
  await resetRenders();
  const ac = new AbortController();
  let ticks = 0;
  const progress: Progress = {
    tick: () => {
      if (++ticks === 25) ac.abort(new Error('interrupted by the test'));
    },
    setTotal: () => {},
    setStart: () => {},
    finish: () => {},
  };
  const first = await refresh({ cascadeUrl: app.url, originUrl: origin(), domain: D, mode: 'rerender', concurrency: 3, stateFile, progress, signal: ac.signal });
  assert.equal(first.interrupted, true);
  // The requests in flight when the run stopped were cut off at the client only: Cascade
  // finishes their renders. Wait until it has none left, so none lands after a counter reset
  // below (the third run asserts that it rendered nothing at all).
  await cascadeIdle();
  const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as RefreshState;
  assert.equal(saved.complete, false);
  assert.ok(saved.position, 'a position was saved');
  const doneBefore = titles.filter((t) => key(t) <= saved.position!.key);
  assert.ok(doneBefore.length >= 20 && doneBefore.length < titles.length, `${doneBefore.length} done of ${titles.length}`);
  const firstRun = await renders();
  for (const t of doneBefore) assert.equal(firstRun[key(t)], 1, `${t} rendered in the first run`);

  // Without --resume an unfinished state is not overwritten.
  await assert.rejects(refresh({ cascadeUrl: app.url, originUrl: origin(), domain: D, mode: 'rerender', stateFile }), /unfinished refresh/);
  // With other options it is not resumed either.
  await assert.rejects(refresh({ cascadeUrl: app.url, originUrl: origin(), domain: D, mode: 'warm', stateFile, resume: true }), /same options/);

  await resetRenders();
  const second = await refresh({ cascadeUrl: app.url, originUrl: origin(), domain: D, mode: 'rerender', concurrency: 3, stateFile, resume: true });
  assert.equal(second.interrupted, false);
  assert.equal(second.state.complete, true);
  assert.equal(saved.done, doneBefore.length, 'done counts the pages up to the position');
  assert.equal(second.state.done, titles.length);
  const secondRun = await renders();
  for (const t of doneBefore) assert.equal(secondRun[key(t)], undefined, `${t} was not redone`);
  // Every page after the position once. The first run's cut-off renders Cascade had started
  // ended before the reset (cascadeIdle); one whose request was still on its way to the server
  // when the run stopped may yet count twice (at most the run's concurrency).
  const rest = titles.filter((x) => !doneBefore.includes(x));
  for (const t of rest) assert.ok(secondRun[key(t)] === 1 || secondRun[key(t)] === 2, `${t} rendered on resume (${secondRun[key(t)]})`);
  assert.ok(rest.filter((t) => secondRun[key(t)] === 2).length <= 3, JSON.stringify(secondRun));
  await cascadeIdle();
  // A finished refresh resumed again does nothing.
  await resetRenders();
  const third = await refresh({ cascadeUrl: app.url, originUrl: origin(), domain: D, mode: 'rerender', stateFile, resume: true });
  assert.equal(third.requested, 0);
  assert.deepEqual(await renders(), {});
});

test('warm renders nothing that is already stored', async () => {
  await resetRenders();
  const w = await refresh({ cascadeUrl: app.url, originUrl: origin(), domain: D, mode: 'warm', pattern: '/^(Main Page|Larkford)$/' });
  assert.equal(w.state.done, 2);
  assert.deepEqual(await renders(), {});
});

test('cascade refresh --url against a running Cascade, paced, with a regex', async () => {
  const cfgFile = join(dir, 'cli.yaml');
  writeFileSync(cfgFile, yaml);
  await resetRenders();
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      [join(projectRoot, 'bin', 'cascade.js'), 'refresh', D, '--config', cfgFile, '--url', app.url, '--origin', origin(), '--pattern', '/^Remote-/', '--rate', '20/s', '--state', join(dir, 'cli-state.json')],
      { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
  assert.equal(out.code, 0, out.stdout + out.stderr);
  const expected = titles.filter((t) => t.startsWith('Remote-'));
  assert.match(out.stdout, new RegExp(`re-rendered ${expected.length} pages of ${D}`));
  assert.match(out.stderr, new RegExp(`rerender ${D}: ${expected.length}/${expected.length} \\(100%\\)`));
  const counts = await renders();
  assert.deepEqual(Object.keys(counts).sort(), expected.map(key).sort());
});
