// Progress display: plain periodic lines off a terminal (done/total, rate, ETA; a final line),
// a cli-progress bar with the same figures on one; the CLI's wiki import reports through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { startProgress, formatDuration } from '../../src/ops/progress.ts';
import { corpusPath, projectRoot } from '../helpers/corpus.ts';

function sink(isTTY: boolean) {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  s.isTTY = isTTY;
  s.columns = 200;
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  return { stream: s, text: () => text };
}

test('off a terminal: a line per interval with done/total, rate and ETA, and a final line', () => {
  let clock = 1_000_000;
  const out = sink(false);
  const p = startProgress({ label: 'refresh', total: 100, stream: out.stream, intervalMs: 2000, now: () => clock });
  for (let i = 0; i < 10; i++) {
    clock += 500; // 2 items/s
    p.tick();
  }
  // 5 s: lines at 2 s and 4 s
  const lines = out.text().trim().split('\n');
  assert.equal(lines.length, 2, out.text());
  assert.equal(lines[0], 'refresh: 4/100 (4%), 2.00/s, ETA 48s');
  assert.equal(lines[1], 'refresh: 8/100 (8%), 2.00/s, ETA 46s');
  p.finish('3 failed');
  assert.equal(out.text().trim().split('\n').at(-1), 'refresh: 10/100 (10%), 2.00/s, in 5s, 3 failed');
});

test('a resumed run counts earlier items in done/total but not in the rate', () => {
  let clock = 0;
  const out = sink(false);
  const p = startProgress({ label: 'refresh', total: 50, stream: out.stream, intervalMs: 1000, now: () => clock });
  p.setStart(40);
  clock += 1000;
  p.tick(5);
  assert.equal(out.text().trim(), 'refresh: 45/50 (90%), 5.00/s, ETA 1s');
});

test('on a terminal: a bar with value/total, rate and ETA', () => {
  let clock = 0;
  const out = sink(true);
  const p = startProgress({ label: 'import', total: 10, stream: out.stream, now: () => clock });
  clock += 1000;
  p.tick(5);
  p.finish();
  assert.match(out.text(), /import \[[^\]]+\] 50% \| 5\/10 \| 5\.00\/s \| ETA 1s/);
});

test('durations', () => {
  assert.equal(formatDuration(59.4), '59s');
  assert.equal(formatDuration(61), '1m01s');
  assert.equal(formatDuration(3 * 3600 + 120), '3h02m');
  assert.equal(formatDuration(NaN), '?');
});

test('cascade wiki import reports progress on stderr when not on a terminal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-progress-'));
  try {
    const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'cascade.js'), 'wiki', 'import', corpusPath('wikitext'), '--db', join(dir, 'w.sqlite')], { encoding: 'utf8', cwd: projectRoot });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /imported (\d+) pages/);
    const n = Number(/imported (\d+) pages/.exec(r.stdout)![1]);
    assert.match(r.stderr, new RegExp(`^import: ${n}/${n} \\(100%\\), [\\d.]+/s, in \\d+s$`, 'm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
