#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's own test runner (TypeScript through tsx).
// Node 20's --test does not discover .ts files, so we list them here.
// Extra arguments are substrings that select test files: `npm run test:only -- storage`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full);
    else if (name.endsWith('.test.ts')) files.push(relative(root, full));
  }
})(join(root, 'test'));
const selected = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (selected.length === 0) {
  console.error('no test files matched', filters);
  process.exit(1);
}
// Bring up what the suites need (PostgreSQL, NATS, Varnish, MediaWiki, Chromium): started if
// stopped, installed from Debian if missing and permitted. CASCADE_NO_SERVICES=1 skips it.
if (!process.env.CASCADE_NO_SERVICES) spawnSync('bash', [join(root, 'scripts/services.sh')], { stdio: 'inherit', cwd: root });
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...selected],
  { stdio: 'inherit', cwd: root },
);
process.exit(r.status ?? 1);
