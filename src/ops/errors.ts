// Errors of the operator pages, declared once (see src/errors/index.ts).
import { defineError } from '../errors/index.ts';

export const OpsErrors = {
  /** The dashboard is for internal callers or holders of the admin token. */
  dashboardForbidden: defineError('CASCADE_OPS_FORBIDDEN', 403, 'Operator page needs an internal caller or the admin token'),
  /** A query parameter of an operator page is malformed. */
  badQuery: defineError('CASCADE_OPS_BAD_QUERY', 400, 'Invalid query parameter'),
} as const;
