// Errors of the durable event log (src/events/log). The intake declares its own in src/events/errors.ts.
import { defineError } from '../../errors/index.ts';

export const LogErrors = {
  /** A caller passed something the log cannot store (empty id, non-Buffer value, bad topic). */
  badEvent: defineError('CASCADE_LOG_BAD_EVENT', 400, 'Invalid log event'),
  badTopic: defineError('CASCADE_LOG_BAD_TOPIC', 400, 'Invalid log topic'),
  /** The log is closed, or its backend (SQLite file, NATS server) cannot be reached. */
  unavailable: defineError('CASCADE_LOG_UNAVAILABLE', 503, 'Event log unavailable'),
  closed: defineError('CASCADE_LOG_CLOSED', 503, 'Event log closed'),
} as const;
