#!/usr/bin/env node
// Production build: compiles src/ to dist/ with tsc (relative `.ts` imports rewritten to `.js`
// by rewriteRelativeImportExtensions) and copies the files tsc does not emit (event schemas,
// html/css assets) beside the compiled modules, which find them through import.meta.url.
// dist/BUILD.json records when, so bin/cascade.js can tell a build older than its sources.
import { cpSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src');
const dist = join(root, 'dist');
const started = Date.now();

// Built beside dist/ and swapped in at the end, so a cascade started meanwhile never sees half a build.
const out = join(root, `.dist-${process.pid}`);
rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit', cwd: root });
if (r.status !== 0) {
  rmSync(out, { recursive: true, force: true });
  process.exit(r.status ?? 1);
}

let assets = 0;
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full);
    else if (!name.endsWith('.ts') && !name.endsWith('.md')) {
      const to = join(out, relative(src, full));
      mkdirSync(join(to, '..'), { recursive: true });
      cpSync(full, to);
      assets++;
    }
  }
})(src);
writeFileSync(join(out, 'BUILD.json'), JSON.stringify({ built_at: new Date(started).toISOString(), built_at_ms: started }) + '\n');
rmSync(dist, { recursive: true, force: true });
renameSync(out, dist);
console.log(`dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s (${assets} asset file${assets === 1 ? '' : 's'} copied)`);
