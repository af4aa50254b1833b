// Errors of the HTTP edge (declared once, rendered as problem+json).
import { defineError } from '../errors/index.ts';

export const EdgeErrors = {
  headersTooLarge: defineError('CASCADE_HEADERS_TOO_LARGE', 431, 'Request header fields too large'),
  uriTooLong: defineError('CASCADE_URI_TOO_LONG', 414, 'URI too long'),
  requestTimeout: defineError('CASCADE_REQUEST_TIMEOUT', 408, 'Request timeout'),
  metricsForbidden: defineError('CASCADE_METRICS_FORBIDDEN', 403, 'Metrics are for internal callers'),
} as const;

/** Longest request target served (bytes); a longer one is answered 414. */
export const MAX_URI_BYTES = 8192;
