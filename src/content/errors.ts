import { defineError } from '../errors/index.ts';

export const ContentErrors = {
  pageNotFound: defineError('CASCADE_CONTENT_PAGE_NOT_FOUND', 404, 'Page not found'),
  revisionNotFound: defineError('CASCADE_CONTENT_REVISION_NOT_FOUND', 404, 'Revision not found'),
  renderNotFound: defineError('CASCADE_CONTENT_RENDER_NOT_FOUND', 404, 'Render not found'),
  pageDeleted: defineError('CASCADE_CONTENT_PAGE_DELETED', 404, 'Page deleted'),
  revisionSuppressed: defineError('CASCADE_CONTENT_REVISION_SUPPRESSED', 403, 'Revision suppressed'),
  badRevision: defineError('CASCADE_CONTENT_BAD_REVISION', 400, 'Invalid revision'),
  badTid: defineError('CASCADE_CONTENT_BAD_TID', 400, 'Invalid tid'),
  unknownDomain: defineError('CASCADE_CONTENT_UNKNOWN_DOMAIN', 404, 'Unknown domain'),
  originFailed: defineError('CASCADE_CONTENT_ORIGIN_FAILED', 502, 'Origin request failed'),
  originRefused: defineError('CASCADE_CONTENT_ORIGIN_REFUSED', 400, 'Origin refused the request'),
  editConflict: defineError('CASCADE_CONTENT_EDIT_CONFLICT', 409, 'Edit conflict'),
  editForbidden: defineError('CASCADE_CONTENT_EDIT_FORBIDDEN', 403, 'Edit not permitted'),
  badForm: defineError('CASCADE_CONTENT_BAD_FORM', 400, 'Invalid form data'),
  outboundHost: defineError('CASCADE_CONTENT_OUTBOUND_HOST', 403, 'Outbound host not allowed'),
  transformUnavailable: defineError('CASCADE_CONTENT_TRANSFORM_UNAVAILABLE', 501, 'The origin offers no wikitext transform'),
  originStale: defineError('CASCADE_CONTENT_ORIGIN_STALE', 503, 'The origin served an outdated render'),
  deriveBusy: defineError('CASCADE_CONTENT_DERIVE_BUSY', 503, 'Too many derivations waiting'),
  relatedUnavailable: defineError('CASCADE_CONTENT_RELATED_UNAVAILABLE', 404, 'Related pages unavailable'),
  dataParsoidUnavailable: defineError('CASCADE_CONTENT_DATA_PARSOID_UNAVAILABLE', 404, 'data-parsoid not stored separately'),
  sysExternal: defineError('CASCADE_CONTENT_SYS_EXTERNAL', 403, 'Internal endpoint'),
} as const;
