// Child process of log-crash.test.ts: appends corpus events to a log in several concurrent
// loops and prints the id of every event whose append was acknowledged, until it is killed.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { openEventLog, type LogConfig, type LogEvent } from '../../src/events/log/index.ts';
import { corpusPath } from '../helpers/corpus.ts';

const [cfgJson, topic] = process.argv.slice(2);
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
process.stdout.write('ready\n');
await Promise.all([producer(), producer(), producer(), producer()]);
