// Entry of a derive worker thread. Loader hooks registered in the main thread (tsx through
// --import or bin/cascade.js) do not reach worker threads on Node 20, so the worker registers
// tsx's in-thread CommonJS hooks itself and loads the TypeScript worker through them.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('tsx/cjs/api').register();
require('./worker.ts');
