#!/usr/bin/env node
// Entry point. Runs the compiled build (dist/, `npm run build`; what an installed package
// ships) when there is one, else the TypeScript sources through tsx, so a fresh clone needs
// no build step. In a checkout a build older than any source file is ignored (with a note),
// so an edit is never shadowed by a stale dist/. CASCADE_RUNTIME=dist|tsx forces one.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const distMain = new URL('dist/cli/main.js', root);
const srcDir = new URL('src/', root);

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = new URL(e.name + (e.isDirectory() ? '/' : ''), dir);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function useDist() {
  const forced = process.env.CASCADE_RUNTIME;
  if (forced === 'dist' || forced === 'tsx') return forced === 'dist';
  if (!existsSync(distMain)) return false;
  if (!existsSync(srcDir)) return true; // an installed package: dist/ only
  let built = 0;
  try {
    built = JSON.parse(readFileSync(new URL('dist/BUILD.json', root), 'utf8')).built_at_ms;
  } catch {
    // no stamp: a partial or foreign build
  }
  if (newestSource(srcDir) <= built) return true;
  process.stderr.write('cascade: dist/ is older than src/, running the sources (npm run build to refresh it)\n');
  return false;
}

if (useDist()) {
  await import(distMain.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
