// Config of the change feed per domain: `domains.<d>.origin.changes`.
import type { FromSchema } from '../../config/schema-types.ts';
import { section, int } from '../../config/schema-fragments.ts';

export const originChangesSchema = section({
  /**
   * `recentchanges`: Cascade polls the wiki's `list=recentchanges` and turns each change into
   * the standard MediaWiki event on its log (wikis without the EventBus extension).
   * `eventbus`: the wiki posts its own events to `/v1/events` (nothing to follow).
   * `off`: nothing follows the wiki (the example wiki posts its own events).
   */
  follow: { enum: ['recentchanges', 'eventbus', 'off'], default: 'off' },
  /** Time between polls when nothing wakes the follower earlier. */
  poll_interval_ms: int(50, 1000, 3_600_000),
  /** Optional loopback UDP port for `$wgRCFeeds` JSON: each datagram triggers an immediate poll. */
  rcfeed_udp_port: { type: 'integer', minimum: 1, maximum: 65535 },
  /**
   * Address the UDP listener binds (default loopback). A datagram only triggers a poll (its
   * content is not trusted), so binding a LAN address for a wiki on another host is safe.
   */
  rcfeed_udp_host: { type: 'string', minLength: 1, default: '127.0.0.1' },
  /** Changes are re-read this far back (and de-duplicated by rcid) to catch late commits. */
  lookback_seconds: int(0, 10, 3600),
  /** `rclimit` per request. */
  batch: int(1, 500, 500),
});

export type OriginChangesConfig = FromSchema<typeof originChangesSchema>;
export type FollowMode = OriginChangesConfig['follow'];
