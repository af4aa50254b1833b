// Cross-instance hot-cache invalidation. Processes sharing one store (PostgreSQL) each keep a
// hot cache; when one stores a new render it emits resource_change, and every other process
// evicts its hot entries of that page on receipt, instead of serving the old render until
// `hot_cache.ttl_ms`. Each process reads the topic in its own consumer group (a stable
// per-instance name, so a restart resumes it rather than creating another), from 'latest'.
import type { Consumer, EventLog, LogRecord } from '../events/log/types.ts';
import type { ContentService } from './service.ts';
import { ConsumerLoop } from '../util/consumer-loop.ts';
import { asLogger, type Logger } from '../util/logger.ts';

export interface InvalidationOptions {
  log: EventLog;
  /** The resource_change topic (`{datacenter}.resource_change`). */
  topic: string;
  /** This instance's consumer group. */
  group: string;
  logger?: Logger;
}

export interface Invalidator {
  readonly group: string;
  /** Events seen, and pages evicted for another instance's writes. */
  stats(): { events: number; evicted: number };
  close(): Promise<void>;
}

const FETCH_MAX = 500;
/** Long-poll wait of a fetch; also bounds how long close() waits for the loop. */
const FETCH_WAIT_MS = 500;

/** Consumer group name of an instance. */
export function invalidationGroup(instanceId: string): string {
  return `cascade-hot-invalidation-${instanceId}`;
}

export async function startInvalidation(service: ContentService, opts: InvalidationOptions): Promise<Invalidator> {
  const log = asLogger(opts.logger);
  // The ack wait only matters for a crashed instance's unacked records; eviction is idempotent.
  // A group per instance id: forgotten a day after its instance is gone, so ids that change
  // (listen port 0) do not pile up durable JetStream consumers.
  const consumer: Consumer = await opts.log.consumer(opts.group, [opts.topic], { startAt: 'latest', ackWaitMs: 30_000, forgetAfterMs: 86_400_000 });
  let events = 0;
  let evicted = 0;
  const apply = (r: LogRecord) => {
    events++;
    try {
      const ev = JSON.parse(r.value.toString('utf8')) as { meta?: { uri?: unknown; id?: unknown } };
      const uri = ev.meta?.uri;
      if (typeof uri !== 'string') return;
      if (service.applyResourceChange(uri, typeof ev.meta?.id === 'string' ? ev.meta.id : undefined)) evicted++;
    } catch {
      // not JSON: nothing to evict
    }
  };
  // Entries still expire after ttl_ms while the log is unavailable: a failed fetch is retried.
  const loop = new ConsumerLoop<LogRecord>({
    fetch: () => consumer.fetch(FETCH_MAX, FETCH_WAIT_MS),
    handle: async (recs) => {
      for (const r of recs) apply(r);
      await consumer.ack(recs);
    },
    onError: (e) => log('hot cache invalidation: fetch failed', { group: opts.group, error: String(e) }),
  }).start();
  log('hot cache invalidation started', { group: opts.group, topic: opts.topic });
  return {
    group: opts.group,
    stats: () => ({ events, evicted }),
    async close() {
      await loop.stop();
      await consumer.close();
    },
  };
}
