// Store size per bucket as Prometheus gauges. Measuring is a scan of the store, so it runs at
// most once a minute, off the scrape: a scrape (of /metrics or the dashboard) answers the last
// measurement and starts the next one when the last is older than REFRESH_MS.
import { metrics } from '../router/metrics.ts';
import type { BucketSize, ContentStore } from '../storage/types.ts';
import { silentLogger, type Logger } from '../util/logger.ts';

const REFRESH_MS = 60_000;

export class BucketSizeProbe {
  sizes: BucketSize[] = [];
  private measuredAt = 0;
  private running: Promise<void> | undefined;
  constructor(
    private readonly store: ContentStore,
    private readonly log: Logger = silentLogger,
  ) {}

  /** The last sizes; starts a new measurement when they are stale. */
  current(): BucketSize[] {
    if (!this.running && Date.now() - this.measuredAt >= REFRESH_MS) void this.refresh();
    return this.sizes;
  }

  /** Measures now (or joins the measurement under way). */
  refresh(): Promise<void> {
    this.running ??= this.store
      .bucketSizes()
      .then((s) => {
        this.sizes = s;
      })
      .catch((e: unknown) => this.log('bucket sizes failed', { error: String(e) }))
      .finally(() => {
        this.measuredAt = Date.now();
        this.running = undefined;
      });
    return this.running;
  }
}

const bytes = metrics.sampled<BucketSizeProbe>('cascade_storage_bucket_bytes', 'Stored (compressed) body bytes per bucket, measured at most once a minute', 'gauge', ['domain', 'bucket'], (p) =>
  p.current().map((s) => [[s.domain, s.bucket], s.bytes] as const),
);
const rows = metrics.sampled<BucketSizeProbe>('cascade_storage_bucket_rows', 'Stored rows (renders, values) per bucket, measured at most once a minute', 'gauge', ['domain', 'bucket'], (p) =>
  p.sizes.map((s) => [[s.domain, s.bucket], s.rows] as const),
);

/** Starts reporting the store's bucket sizes; the returned function stops it. */
export function trackBucketSizes(probe: BucketSizeProbe): () => void {
  const a = bytes.track(probe);
  const b = rows.track(probe);
  void probe.refresh();
  return () => {
    a();
    b();
  };
}
