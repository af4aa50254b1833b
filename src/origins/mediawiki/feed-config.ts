// Config of the change feed per domain: `domains.<d>.origin.changes`.
export type FollowMode = 'recentchanges' | 'eventbus' | 'off';

export interface OriginChangesConfig {
  /**
   * `recentchanges`: Cascade polls the wiki's `list=recentchanges` and turns each change into
   * the standard MediaWiki event on its log (wikis without the EventBus extension).
   * `eventbus`: the wiki posts its own events to `/v1/events` (nothing to follow).
   * `off`: nothing follows the wiki (the example wiki posts its own events).
   */
  follow: FollowMode;
  /** Time between polls when nothing wakes the follower earlier. */
  poll_interval_ms: number;
  /** Optional loopback UDP port for `$wgRCFeeds` JSON: each datagram triggers an immediate poll. */
  rcfeed_udp_port?: number;
  /** Changes are re-read this far back (and de-duplicated by rcid) to catch late commits. */
  lookback_seconds: number;
  /** `rclimit` per request. */
  batch: number;
}

export const originChangesSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    follow: { enum: ['recentchanges', 'eventbus', 'off'], default: 'off' },
    poll_interval_ms: { type: 'integer', minimum: 50, maximum: 3_600_000, default: 1000 },
    rcfeed_udp_port: { type: 'integer', minimum: 1, maximum: 65535 },
    lookback_seconds: { type: 'integer', minimum: 0, maximum: 3600, default: 10 },
    batch: { type: 'integer', minimum: 1, maximum: 500, default: 500 },
  },
} as const;

export const DEFAULT_CHANGES: OriginChangesConfig = { follow: 'off', poll_interval_ms: 1000, lookback_seconds: 10, batch: 500 };
