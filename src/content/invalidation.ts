// Cross-instance hot-cache invalidation. Processes sharing one store (PostgreSQL) each keep a
// hot cache; when one stores a new render it emits resource_change, and every other process
// evicts its hot entries of that page on receipt, instead of serving the old render until
// `hot_cache.ttl_ms`. Each process reads the topic in its own consumer group (a stable
// per-instance name, so a restart resumes it rather than creating another), from 'latest'.
import type { Consumer, EventLog, LogRecord } from '../events/log/types.ts';
import type { ContentService } from './service.ts';

export interface InvalidationOptions {
  log: EventLog;
  /** The resource_change topic (`{datacenter}.resource_change`). */
  topic: string;
  /** This instance's consumer group. */
  group: string;
  logger?: (msg: string, fields?: Record<string, unknown>) => void;
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
  const log = opts.logger ?? (() => {});
  // The ack wait only matters for a crashed instance's unacked records; eviction is idempotent.
  // A group per instance id: forgotten a day after its instance is gone, so ids that change
  // (listen port 0) do not pile up durable JetStream consumers.
  const consumer: Consumer = await opts.log.consumer(opts.group, [opts.topic], { startAt: 'latest', ackWaitMs: 30_000, forgetAfterMs: 86_400_000 });
  let stopped = false;
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
  const loop = (async () => {
    let backoff = 100;
    while (!stopped) {
      try {
        const recs = await consumer.fetch(FETCH_MAX, FETCH_WAIT_MS);
        if (recs.length === 0) continue;
        for (const r of recs) apply(r);
        await consumer.ack(recs);
        backoff = 100;
      } catch (e) {
        if (stopped) break;
        log('hot cache invalidation: fetch failed', { group: opts.group, error: String(e) });
        // Entries still expire after ttl_ms while the log is unavailable.
        await new Promise((res) => setTimeout(res, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  })();
  log('hot cache invalidation started', { group: opts.group, topic: opts.topic });
  return {
    group: opts.group,
    stats: () => ({ events, evicted }),
    async close() {
      stopped = true;
      await loop;
      await consumer.close();
    },
  };
}
