// resource_change: emitted when this process stores a new render or derivation (change
// propagation re-derives what depends on it and purges the CDN), and applied when another
// process sharing the store emitted one (this process's hot copies of the page are dropped).
// Its own events come back on the shared log too: recognized by meta.id and skipped.
import { randomUUID } from 'node:crypto';
import type { EventProducer } from '../events/log/types.ts';
import { encodeTitle, parsePublicUri } from './html.ts';
import type { ReadOptions } from './types.ts';

/** Ids of events whose echo never came back (no consumer) are forgotten past this many. */
const MAX_OWN = 10_000;

export class ChangeNotices {
  private readonly own = new Set<string>();
  /** Pages evicted because another instance stored a new render (for tests and metrics). */
  remoteEvictions = 0;

  constructor(
    private readonly producer: EventProducer | undefined,
    private readonly hooks: { hasDomain(domain: string): boolean; dropHot(domain: string, key: string): void; log(msg: string, f?: Record<string, unknown>): void },
  ) {}

  /** Public URL of a resource, as CDNs know it (meta.uri of resource_change). */
  publicUri(domain: string, endpoint: string, key: string): string {
    return `https://${domain}/api/rest_v1/page/${endpoint}/${encodeTitle(key)}`;
  }

  emit(domain: string, endpoint: string, key: string, o: ReadOptions): void {
    if (!this.producer) return;
    const id = randomUUID();
    const uri = this.publicUri(domain, endpoint, key);
    const event: Record<string, unknown> = {
      $schema: '/resource_change/1.0.0',
      meta: { uri, stream: 'resource_change', domain, dt: new Date().toISOString(), id, ...(o.requestId ? { request_id: o.requestId } : {}) },
      tags: ['cascade', endpoint],
      ...(o.triggeredBy ? { triggered_by: o.triggeredBy } : {}),
    };
    if (this.own.size >= MAX_OWN) this.own.clear();
    this.own.add(id);
    this.producer.produce([event]).catch((e: unknown) => this.hooks.log('resource_change not emitted', { uri, error: String(e) }));
  }

  /**
   * A resource_change from the shared log: when another process stored a new render of the
   * page, drops this process's hot entries of it (all endpoints, latest and revisions) so the
   * next read goes to the shared store. Returns whether anything was evicted for it.
   */
  apply(uri: string, eventId: string | undefined): boolean {
    if (eventId !== undefined && this.own.delete(eventId)) return false;
    const page = parsePublicUri(uri);
    if (!page || !this.hooks.hasDomain(page.domain)) return false;
    this.hooks.dropHot(page.domain, page.key);
    this.remoteEvictions++;
    return true;
  }
}
