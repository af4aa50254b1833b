// MediaWiki origins: following a wiki's changes without EventBus (feed*.ts) and probing what a
// wiki offers (check.ts). The adapter for typed origin calls lives beside them (adapter.ts).
import { OriginClient } from '../../content/origin.ts';
import type { EventProducer } from '../../events/log/types.ts';
import type { ContentStore } from '../../storage/types.ts';
import type { OriginChangesConfig } from './feed-config.ts';
import { RecentChangesFeed } from './feed.ts';
import { MediaWikiAdapter } from './adapter.ts';
import type { Logger } from '../../util/logger.ts';

export { RecentChangesFeed, WATERMARK_BUCKET, type FeedStats, type Watermark } from './feed.ts';
export { originChangesSchema, type OriginChangesConfig, type FollowMode } from './feed-config.ts';
export { eventsOfChange, eventId, type RecentChange } from './feed-events.ts';

export interface ChangeFeeds {
  /** The running followers by domain (only domains with `follow: recentchanges`). */
  feeds: Map<string, RecentChangesFeed>;
  close(): Promise<void>;
}

/** Starts a recentchanges follower for each domain whose `origin.changes.follow` is `recentchanges`. */
export async function startChangeFeeds(
  domains: Record<string, { origin: { url: string; changes: OriginChangesConfig } }>,
  shared: { originTimeoutMs: number },
  deps: { producer: EventProducer; store: ContentStore; logger?: Logger },
): Promise<ChangeFeeds> {
  const feeds = new Map<string, RecentChangesFeed>();
  const followed = Object.fromEntries(Object.entries(domains).filter(([, d]) => d.origin.changes.follow === 'recentchanges'));
  // The followers' own connection per origin: polls must not queue behind slow renders.
  const origin = new OriginClient(followed, { timeoutMs: shared.originTimeoutMs, connections: 1 });
  const adapter = new MediaWikiAdapter(origin, deps.logger);
  try {
    for (const [domain, d] of Object.entries(followed)) {
      const cfg = d.origin.changes;
      const feed = new RecentChangesFeed({
        domain,
        config: cfg,
        origin: adapter,
        producer: deps.producer,
        store: deps.store,
        logger: deps.logger,
      });
      await feed.start();
      feeds.set(domain, feed);
      deps.logger?.('following recentchanges', { domain, poll_interval_ms: cfg.poll_interval_ms, udp: cfg.rcfeed_udp_port ?? null });
    }
  } catch (e) {
    await Promise.all([...feeds.values()].map((f) => f.close()));
    await origin.close();
    throw e;
  }
  return {
    feeds,
    close: async () => {
      await Promise.all([...feeds.values()].map((f) => f.close()));
      await origin.close();
    },
  };
}
