// Follows one wiki's `list=recentchanges` and puts each change on Cascade's log as the standard
// MediaWiki event, for wikis without the EventBus extension.
//
// Watermark: the newest change timestamp handled plus the rcids handled in the last
// `lookback_seconds` before it, persisted in the domain's `origin-changes` key_value bucket
// (so instances sharing a store share it). Each poll re-reads from `watermark - lookback`
// and skips rcids already handled: MediaWiki inserts some rows (log entries are written
// post-send) after rows with a later timestamp, and those are still caught. The watermark is
// saved only after the events are durable: a crash replays at most the last batch, with the
// same event ids (at least once; the log de-duplicates by id). A first start begins at the
// wiki's newest change: the world before it is not replayed.
//
// Optional push: `$wgRCFeeds` JSON datagrams on a loopback UDP port wake the poller at once.
// UDP may drop; the poll interval still bounds the delay.
import { createSocket, type Socket } from 'node:dgram';
import type { EventProducer } from '../../events/log/types.ts';
import { metrics } from '../../router/metrics.ts';
import type { ContentStore } from '../../storage/types.ts';
import type { OriginChangesConfig } from './feed-config.ts';
import { eventsOfChange, RC_PROPS, type ChangeLookups, type FeedSite, type RecentChange } from './feed-events.ts';
import { WakeableSleep } from '../../util/wakeable-sleep.ts';
import type { MediaWikiAdapter } from './adapter.ts';
import type { Logger } from '../../util/logger.ts';
import { backoff } from '../../util/backoff.ts';

export const WATERMARK_BUCKET = 'origin-changes';

const polls = metrics.counter('cascade_origin_change_polls_total', 'recentchanges polls of followed wikis by domain and result', ['domain', 'result']);
const changesSeen = metrics.counter('cascade_origin_changes_total', 'Changes read from followed wikis and events produced for them, by domain', ['domain', 'kind']);
const WATERMARK_KEY = 'recentchanges';

/** The adapter calls the follower makes. */
export type FeedOrigin = Pick<MediaWikiAdapter, 'recentChanges' | 'revisionFacts' | 'pageInfo' | 'wikiId'>;

export interface Watermark {
  /** Newest change timestamp handled (MediaWiki's `2026-01-01T00:00:00Z`). */
  ts: string;
  /** rcid → timestamp of changes handled at or after `ts - lookback`. */
  seen: [number, string][];
}

export interface FeedStats {
  polls: number;
  changes: number;
  events: number;
  errors: number;
  wakeups: number;
  lastError?: string;
  watermark?: string;
  lastPollAt?: string;
}

export interface FeedOptions {
  domain: string;
  config: OriginChangesConfig;
  origin: FeedOrigin;
  producer: EventProducer;
  store: ContentStore;
  logger?: Logger;
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class RecentChangesFeed {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly idle = new WakeableSleep();
  private again = false;
  private wakeRetries = 0;
  private wm: Watermark | undefined;
  private site: FeedSite | undefined;
  private udp: Socket | undefined;
  private readonly counters: FeedStats = { polls: 0, changes: 0, events: 0, errors: 0, wakeups: 0 };

  constructor(private readonly o: FeedOptions) {}

  async start(): Promise<void> {
    await this.o.store.declareBucket({ domain: this.o.domain, name: WATERMARK_BUCKET, type: 'key_value', compression: 'none', retention: { policy: 'all' } });
    const stored = await this.o.store.getLatest(this.o.domain, WATERMARK_BUCKET, WATERMARK_KEY);
    if (stored) this.wm = JSON.parse(stored.body().toString('utf8')) as Watermark;
    if (this.o.config.rcfeed_udp_port) await this.listenUdp(this.o.config.rcfeed_udp_port, this.o.config.rcfeed_udp_host);
    this.running = true;
    this.loop = this.run();
  }

  stats(): FeedStats {
    return { ...this.counters, ...(this.wm ? { watermark: this.wm.ts } : {}) };
  }

  /** Polls as soon as possible (the current poll, if any, is followed by another). */
  poke(): void {
    this.again = true;
    this.idle.wake();
  }

  async close(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loop;
    await new Promise<void>((resolve) => (this.udp ? this.udp.close(() => resolve()) : resolve()));
  }

  private listenUdp(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', reject);
      s.on('message', () => {
        this.counters.wakeups++;
        // The datagram may leave before MediaWiki commits the row: re-poll briefly if it is not there yet.
        this.wakeRetries = 5;
        this.poke();
      });
      s.bind(port, host, () => {
        s.off('error', reject);
        s.on('error', (e) => this.o.logger?.('rcfeed udp error', { domain: this.o.domain, error: e.message }));
        this.udp = s;
        resolve();
      });
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.again || !this.running) return Promise.resolve();
    return this.idle.sleep(ms);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.again = false;
      let produced = 0;
      try {
        produced = await this.pollOnce();
        failures = 0;
        polls.inc([this.o.domain, 'ok']);
      } catch (e) {
        failures++;
        this.counters.errors++;
        polls.inc([this.o.domain, 'error']);
        this.counters.lastError = String((e as Error)?.message ?? e);
        this.o.logger?.('recentchanges poll failed', { domain: this.o.domain, error: this.counters.lastError });
      }
      // After errors: back off (capped at 30 s), never faster than the configured interval.
      const base = this.o.config.poll_interval_ms;
      if (produced > 0) this.wakeRetries = 0;
      if (this.wakeRetries > 0 && !failures) {
        await this.sleep(Math.min(base, 25 * 2 ** (5 - this.wakeRetries--)));
        continue;
      }
      await this.sleep(failures ? backoff({ kind: 'exponential', initialMs: base, maxMs: 30_000 }).delay(Math.min(failures, 6)) : base);
    }
  }

  /** One poll: reads every change since the watermark, produces its events, saves the watermark. */
  async pollOnce(): Promise<number> {
    this.counters.polls++;
    this.counters.lastPollAt = new Date().toISOString();
    this.site ??= await this.siteOf();
    if (!this.wm) {
      this.wm = await this.bootstrap();
      await this.save();
      return 0;
    }
    const lookbackMs = this.o.config.lookback_seconds * 1000;
    const start = isoSeconds(Date.parse(this.wm.ts) - lookbackMs);
    const seen = new Map(this.wm.seen);
    let cont: string | undefined;
    let produced = 0;
    for (let page = 0; page < 20 && this.running; page++) {
      const r = await this.query({ rcstart: start, rcdir: 'newer', ...(cont ? { rccontinue: cont } : {}) });
      const fresh = r.changes.filter((c) => !seen.has(c.rcid));
      if (fresh.length) {
        const events: Record<string, unknown>[] = [];
        for (const c of fresh) events.push(...(await eventsOfChange(c, this.site, this.lookups)));
        if (events.length) await this.o.producer.produce(events);
        produced += events.length;
        this.counters.changes += fresh.length;
        this.counters.events += events.length;
        changesSeen.inc([this.o.domain, 'change'], fresh.length);
        changesSeen.inc([this.o.domain, 'event'], events.length);
        for (const c of fresh) seen.set(c.rcid, c.timestamp);
        let ts: string = this.wm.ts;
        for (const c of fresh) if (Date.parse(c.timestamp) > Date.parse(ts)) ts = c.timestamp;
        const keepFrom = Date.parse(ts) - lookbackMs;
        this.wm = { ts, seen: [...seen].filter(([, t]) => Date.parse(t) >= keepFrom) };
        await this.save();
      }
      if (!r.cont) break;
      cont = r.cont;
    }
    return produced;
  }

  /** First start: begin at the newest change (nothing older is replayed). */
  private async bootstrap(): Promise<Watermark> {
    const newest = await this.query({ rcdir: 'older', rclimit: '1' });
    if (!newest.changes.length) return { ts: '1970-01-01T00:00:00Z', seen: [] };
    const ts = newest.changes[0].timestamp;
    const recent = await this.query({ rcstart: isoSeconds(Date.parse(ts) - this.o.config.lookback_seconds * 1000), rcdir: 'newer' });
    this.o.logger?.('recentchanges follower starts at the newest change', { domain: this.o.domain, timestamp: ts });
    return { ts, seen: recent.changes.map((c) => [c.rcid, c.timestamp]) };
  }

  private async save(): Promise<void> {
    await this.o.store.put({
      domain: this.o.domain,
      bucket: WATERMARK_BUCKET,
      key: WATERMARK_KEY,
      contentType: 'application/json',
      body: JSON.stringify(this.wm),
      skipUnchanged: true,
    });
  }

  private async query(params: Record<string, string>): Promise<{ changes: RecentChange[]; cont?: string }> {
    const r = await this.o.origin.recentChanges(this.o.domain, { rcprop: RC_PROPS, rctype: 'edit|new|log', rclimit: String(this.o.config.batch), ...params });
    const changes = r.changes.slice();
    // Oldest first whatever the direction asked for, so the watermark only moves forward.
    if (params.rcdir === 'newer') changes.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp) || a.rcid - b.rcid);
    return { changes, ...(r.cont ? { cont: r.cont } : {}) };
  }

  private async siteOf(): Promise<FeedSite> {
    const id = await this.o.origin.wikiId(this.o.domain);
    return { domain: this.o.domain, database: id ?? this.o.domain.replace(/[^a-z0-9]/gi, '_') };
  }

  private readonly lookups: ChangeLookups = {
    revisions: (ids) => this.o.origin.revisionFacts(this.o.domain, ids),
    page: (title) => this.o.origin.pageInfo(this.o.domain, title),
  };
}
