// Errors of the event intake (src/events). The durable log declares its own in src/events/log.
import { defineError } from '../errors/index.ts';

export const EventErrors = {
  /** The whole request body is unusable (not JSON, empty batch, wrong shape). */
  badBody: defineError('CASCADE_EVENTS_BAD_BODY', 400, 'Invalid event request body'),
  unsupportedType: defineError('CASCADE_EVENTS_UNSUPPORTED_MEDIA_TYPE', 415, 'Unsupported event content type'),
  /** One or more events failed validation (in-process producer). */
  invalidEvents: defineError('CASCADE_EVENTS_INVALID', 400, 'Invalid events'),
  /** Every event of a request failed, some on our side (EventGate's 500: a schema that cannot be loaded, …). */
  eventsFailed: defineError('CASCADE_EVENTS_FAILED', 500, 'Events not accepted'),
  /** The log did not make events durable (in-process producer). */
  produceFailed: defineError('CASCADE_EVENTS_PRODUCE_FAILED', 503, 'Events could not be made durable'),
  schemaNotFound: defineError('CASCADE_EVENTS_SCHEMA_NOT_FOUND', 400, 'Event schema not found'),
  schemaInvalid: defineError('CASCADE_EVENTS_SCHEMA_INVALID', 400, 'Event schema cannot be compiled'),
  /** A schema using features that make validation costly for hostile input (ajv's json-schema-secure), as EventGate refuses. */
  schemaInsecure: defineError('CASCADE_EVENTS_SCHEMA_INSECURE', 400, 'Event schema not secure for compilation'),
  schemaHostNotAllowed: defineError('CASCADE_EVENTS_SCHEMA_HOST_NOT_ALLOWED', 400, 'Schema URI outside the configured schema repositories'),
  /** No (or an unknown) bearer token where one is needed for the streams sent. */
  producerUnauthenticated: defineError('CASCADE_EVENTS_PRODUCER_UNAUTHENTICATED', 401, 'Producer not authenticated'),
  /** The producer is known (or needs none) but may not produce to a stream it sent. */
  producerForbidden: defineError('CASCADE_EVENTS_PRODUCER_FORBIDDEN', 403, 'Producer not allowed for this stream'),
  tooManyEvents: defineError('CASCADE_EVENTS_TOO_MANY', 413, 'Too many events in one request'),
  tooDeep: defineError('CASCADE_EVENTS_TOO_DEEP', 400, 'Request body nested too deeply'),
  badSchemaUri: defineError('CASCADE_EVENTS_BAD_SCHEMA_URI', 400, 'Invalid $schema URI'),
  /** The log is down or too slow: retry after Retry-After (resending the same events dedups by id). */
  logUnavailable: defineError('CASCADE_EVENTS_LOG_UNAVAILABLE', 503, 'Event log unavailable'),
} as const;
