// Child process of log-crash.test.ts and log-sqlite.test.ts. Modes (third argument):
//   append (default): appends corpus events in several concurrent loops and prints the id of
//     every event whose append was acknowledged, until it is killed;
//   consume <group>: a group member that prints each record's id, then acks it, until killed;
//   hold <group>: fetches one batch of 10, prints the ids, and never acks (killed holding them).
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { openEventLog, type LogConfig, type LogEvent } from '../../src/events/log/index.ts';
import { corpusPath } from '../helpers/corpus.ts';

const [cfgJson, topic, mode = 'append', group = 'g'] = process.argv.slice(2);
const cfg = JSON.parse(cfgJson) as LogConfig;
const examples = readFileSync(corpusPath('events', 'examples.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => (JSON.parse(l) as { event: Record<string, unknown> }).event);

const log = await openEventLog(cfg);
let n = 0;
async function producer(): Promise<never> {
  for (;;) {
    const batch: LogEvent[] = [];
    const size = 1 + (n % 50);
    for (let i = 0; i < size; i++) {
      const id = randomUUID();
      const ev = examples[n++ % examples.length];
      batch.push({ id, value: Buffer.from(JSON.stringify({ ...ev, meta: { ...(ev.meta as object), id } })) });
    }
    await log.append(topic, batch);
    // Acknowledged: durable from here on.
    process.stdout.write(batch.map((e) => e.id).join('\n') + '\n');
  }
}
if (mode === 'append') {
  process.stdout.write('ready\n');
  await Promise.all([producer(), producer(), producer(), producer()]);
} else {
  const c = await log.consumer(group, [topic], { ackWaitMs: 1000 });
  process.stdout.write('ready\n');
  if (mode === 'hold') {
    const recs = await c.fetch(10, 5000);
    process.stdout.write(recs.map((r) => `${r.id} ${r.deliveries}`).join('\n') + '\n');
    setInterval(() => {}, 1000); // stays up, holding the leases, until killed
  } else {
    for (;;) {
      const recs = await c.fetch(10, 200);
      if (recs.length > 0) process.stdout.write(recs.map((r) => `${r.id} ${r.deliveries}`).join('\n') + '\n');
      await new Promise((r) => setTimeout(r, 2));
      await c.ack(recs);
    }
  }
}
