// One error registry for the whole platform (in the style of fastify's error codes):
// every error is declared once with a stable code, an HTTP status and a title, and
// renders as RFC 9457 `application/problem+json`.
import type { ResponseWriter } from '../router/http-types.ts';

export interface ErrorDefinition {
  /** Stable, documented code, e.g. `CASCADE_STORAGE_UNKNOWN_BUCKET`. */
  readonly code: string;
  /** HTTP status the error maps to. Client errors are 4xx, never 5xx. */
  readonly status: number;
  /** Short human title; the per-occurrence explanation goes in `detail`. */
  readonly title: string;
}

const registry = new Map<string, ErrorDefinition>();

/** Declares an error code once. Declaring the same code twice is a programming error. */
export function defineError(code: string, status: number, title: string): ErrorDefinition {
  if (registry.has(code)) throw new Error(`error code ${code} declared twice`);
  const def = Object.freeze({ code, status, title });
  registry.set(code, def);
  return def;
}

/** Every declared error, for docs and tests. */
export function errorRegistry(): ReadonlyMap<string, ErrorDefinition> {
  return registry;
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: string;
  [extension: string]: unknown;
}

/** The one error base class. `extra` fields become problem+json extension members. */
export class CascadeError extends Error {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly extra: Record<string, unknown>;

  constructor(def: ErrorDefinition, detail?: string, options?: { cause?: unknown; extra?: Record<string, unknown> }) {
    super(detail ?? def.title, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CascadeError';
    this.code = def.code;
    this.status = def.status;
    this.title = def.title;
    this.extra = options?.extra ?? {};
  }

  toProblem(instance?: string): ProblemDocument {
    return {
      ...this.extra,
      type: `https://cascade.dev/errors/${this.code}`,
      title: this.title,
      status: this.status,
      detail: this.message,
      code: this.code,
      ...(instance ? { instance } : {}),
    };
  }
}

export function isCascadeError(e: unknown): e is CascadeError {
  return e instanceof CascadeError;
}

// Generic errors shared by every layer. Capability-specific errors are declared in
// their own module (src/storage/errors.ts, ...) through defineError.
export const Errors = {
  internal: defineError('CASCADE_INTERNAL', 500, 'Internal error'),
  badRequest: defineError('CASCADE_BAD_REQUEST', 400, 'Bad request'),
  notFound: defineError('CASCADE_NOT_FOUND', 404, 'Not found'),
  methodNotAllowed: defineError('CASCADE_METHOD_NOT_ALLOWED', 405, 'Method not allowed'),
  forbidden: defineError('CASCADE_FORBIDDEN', 403, 'Forbidden'),
  unauthorized: defineError('CASCADE_UNAUTHORIZED', 401, 'Unauthorized'),
  payloadTooLarge: defineError('CASCADE_PAYLOAD_TOO_LARGE', 413, 'Payload too large'),
  unsupportedMediaType: defineError('CASCADE_UNSUPPORTED_MEDIA_TYPE', 415, 'Unsupported media type'),
  rateLimited: defineError('CASCADE_RATE_LIMITED', 429, 'Too many requests'),
  preconditionFailed: defineError('CASCADE_PRECONDITION_FAILED', 412, 'Precondition failed'),
  badGateway: defineError('CASCADE_BAD_GATEWAY', 502, 'Upstream service failed'),
  unavailable: defineError('CASCADE_UNAVAILABLE', 503, 'Service unavailable'),
  config: defineError('CASCADE_CONFIG_INVALID', 500, 'Invalid configuration'),
} as const;

/** Normalises anything thrown into a CascadeError (unknown errors become 500 CASCADE_INTERNAL). */
export function toCascadeError(e: unknown): CascadeError {
  if (e instanceof CascadeError) return e;
  return new CascadeError(Errors.internal, 'internal error', { cause: e });
}

/** Writes a problem+json response. Safe to call once headers are not yet sent. */
export function sendProblem(res: ResponseWriter, err: unknown, instance?: string): void {
  const ce = toCascadeError(err);
  const body = JSON.stringify(ce.toProblem(instance));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = ce.status;
  res.setHeader('content-type', 'application/problem+json');
  res.setHeader('content-length', Buffer.byteLength(body));
  if ((ce.status === 429 || ce.status === 503) && typeof ce.extra.retry_after === 'number') res.setHeader('retry-after', String(ce.extra.retry_after));
  res.end(body);
}
