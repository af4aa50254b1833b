// Crash test at the HTTP level: a child process runs the intake on a SQLite log; producers
// post batches and record which events were acknowledged (201); the child is SIGKILLed while
// requests are in flight. Reopened, the log holds every acknowledged event exactly once.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { corpusPath } from '../helpers/corpus.ts';
import { openEventLog } from '../../src/events/log/index.ts';

const template = (() => {
  for (const l of readFileSync(corpusPath('events', 'examples.jsonl'), 'utf8').split('\n')) {
    if (!l) continue;
    const { schema, event } = JSON.parse(l) as { schema: string; event: Record<string, unknown> };
    if (schema === '/mediawiki/revision/create/2.0.0') return event;
  }
  throw new Error('no revision-create 2.0.0 example in the corpus');
})();

it('every event acknowledged over HTTP survives SIGKILL exactly once', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cascade-crash-'));
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'crash-intake-child.ts'), dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.on('line', (line) => {
        const m = /^READY (\S+)/.exec(line);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    const acked: string[] = [];
    let sent = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let b = 0; !stop; b++) {
        const batch = Array.from({ length: 25 }, (_, i) => ({
          ...template,
          rev_id: w * 1_000_000 + b * 25 + i,
          meta: { ...(template.meta as object), id: randomUUID() },
        }));
        sent += batch.length;
        try {
          const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
          await res.arrayBuffer();
          if (res.status === 201) for (const e of batch) acked.push(e.meta.id);
          else assert.fail(`unexpected status ${res.status}`);
        } catch (e) {
          if (!stop) throw e;
          return; // the child is gone: this batch was not acknowledged
        }
      }
    };
    const workers = [0, 1, 2, 3].map((w) => worker(w));
    // Kill while requests are in flight, once a fair number were acknowledged.
    const t0 = Date.now();
    while (acked.length < 3000 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    child.kill('SIGKILL');
    await Promise.all(workers);
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
    assert.ok(acked.length >= 1000, `${acked.length} events acknowledged before the kill`);

    const log = await openEventLog({ backend: 'sqlite', path: join(dataDir, 'events.sqlite') });
    try {
      const counts = new Map<string, number>();
      for (let from = 0; ; ) {
        const page = await log.read('dc1.mediawiki.revision-create', from, 5000);
        if (page.length === 0) break;
        for (const r of page) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
        from = page[page.length - 1].offset + 1;
      }
      const missing = acked.filter((id) => counts.get(id) !== 1);
      assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged events not stored exactly once`);
      assert.ok([...counts.values()].every((n) => n === 1), 'no event stored twice');
      console.log(`crash test: sent ${sent}, acknowledged ${acked.length}, stored ${counts.size} (acked + in-flight at the kill)`);
    } finally {
      await log.close();
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
