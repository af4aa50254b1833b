// The content service's shared shapes (read options, what a read serves, title slots).
import type { CascadeConfig } from '../config/index.ts';
import type { EventProducer } from '../events/log/types.ts';
import type { ContentStore } from '../storage/types.ts';
import type { Title } from '../titles/index.ts';
import type { Logger } from '../util/logger.ts';
import type { ServedEntry } from './hot.ts';

export type DerivedKind = 'summary' | 'mobile-sections' | 'mobile-sections-lead' | 'mobile-sections-remaining' | 'mobile-html';
export type Outcome = 'hit' | 'miss' | 'stale' | 'coalesced' | 'unchanged' | 'rerender';

/** The config sections the content API reads: its own, the domains, and the declared resources'. */
export type ContentSections = Pick<CascadeConfig, 'content' | 'domains' | 'default_domain' | 'resources' | 'resource_backends' | 'resource_heat'>;

export interface ContentDeps {
  config: ContentSections;
  store: ContentStore;
  /** resource_change events go here (the event bus's in-process producer). */
  producer?: EventProducer;
  log?: Logger;
}

export interface ReadOptions {
  requestId?: string;
  /** Internal `Cache-Control: no-cache`: render again. */
  noCache?: boolean;
  /** With noCache: ms since epoch from If-Unmodified-Since. */
  ifUnmodifiedSince?: number;
  /** `x-triggered-by` of the request, carried into emitted events. */
  triggeredBy?: string;
}

/** A normalized title with the cache keys of its page (built once per raw title). */
export interface TitleSlot {
  title: Title;
  /** Hot cache key of the page's latest HTML. */
  htmlKey: string;
  /** Key of its access metadata. */
  metaKey: string;
}

export interface Served {
  entry: ServedEntry;
  outcome: Outcome;
  /** Set when a stored copy was served because the origin failed. */
  stale?: string;
}
