// The shapes the MediaWiki adapter returns (adapter.ts re-exports them).
/** A page's latest revision (REST `/v1/page/{title}/bare`). */
export interface PageBare {
  id: number;
  key?: string;
  title?: string;
  latest: { id: number; timestamp: string };
}

/** One revision's metadata (REST `/v1/revision/{id}/bare`). */
export interface RevisionBare {
  id: number;
  timestamp?: string;
  page?: { id: number; key?: string; title?: string };
  user?: { id?: number; name?: string } | null;
  comment?: string | null;
  size?: number;
  minor?: boolean;
}

/** What the action API says about a page's access state. */
export interface PageAccess {
  exists: boolean;
  pageId?: number;
  latestRev?: number;
  latestTimestamp?: string;
  /** `page_touched` (ms): bumped by edits, purges and template link updates. */
  touched?: number;
  /** Whether the latest revision's text is hidden. */
  latestHidden?: boolean;
}

/** A Parsoid render as the origin sent it. */
export interface OriginHtml {
  body: Buffer;
  /** HTML spec version of the render (`mw:htmlVersion` or the content-type profile), e.g. `2.6.0`. */
  htmlVersion?: string;
  /** ms since epoch the origin rendered it (from the time UUID in its ETag), when it says. */
  renderedAt?: number;
}

export type TransformRoute = 'v1' | 'coredev' | 'parsoid-v3' | 'none';

/** What a wiki offers, probed once per domain at start. */
export interface OriginCapabilities {
  generator?: string;
  mainPage?: string;
  /** The REST API answers (`/v1/page/{title}/bare`). */
  rest: boolean;
  transform: TransformRoute;
  /** HTML version of the renders (learnt from the first render or transform). */
  htmlVersion?: string;
  /** action=purge exists: a stock wiki serves REST HTML from its parser cache, so re-renders must purge. */
  purge: boolean;
  /** The EventBus extension is installed: the wiki posts its own events, no follower needed. */
  eventBus: boolean;
  /** CirrusSearch is installed: `morelike:` search for related pages. */
  cirrusSearch: boolean;
  /** Domain segment of the Parsoid extension's `/{domain}/v3/` routes (the wiki's server name). */
  parsoidDomain: string;
  probedAt: number;
}
