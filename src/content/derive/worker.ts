// Worker thread of the derive pool: summary, mobile sections and mobile HTML from Parsoid HTML, and the
// lead/remaining split of a mobile-sections document, as JSON text. Runs the same code as the
// main thread (src/content/derive), only off the event loop that serves hits.
import { parentPort } from 'node:worker_threads';
import { deriveMobileSections } from './mobile.ts';
import { deriveMobileHtml } from './mobile-html.ts';
import { deriveSummary } from './summary.ts';
import type { DeriveJob, DeriveReply } from './pool.ts';
import { runJob } from './pool.ts';

parentPort?.on('message', (job: DeriveJob) => {
  let reply: DeriveReply;
  try {
    reply = { id: job.id, ok: true, out: runJob(job, deriveSummary, deriveMobileSections, deriveMobileHtml) };
  } catch (e) {
    reply = { id: job.id, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort?.postMessage(reply);
});

// Loaded: from here on a failure is the job's, not the pool's.
parentPort?.postMessage({ ready: true } satisfies DeriveReply);
