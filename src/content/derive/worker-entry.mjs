// Entry of a derive worker thread. Loader hooks registered in the main thread (tsx through
// --import or bin/cascade.js) do not reach worker threads on Node 20, so the worker registers
// tsx's in-thread CommonJS hooks itself and loads the TypeScript worker through them (or the
// compiled worker.js next to it in a tsc build).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
require('tsx/cjs/api').register();
require(existsSync(fileURLToPath(new URL('./worker.ts', import.meta.url))) ? './worker.ts' : './worker.js');
