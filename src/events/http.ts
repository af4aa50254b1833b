// POST /v1/events, compatible with EventGate: one event or an array (application/json, or
// text/plain as navigator.sendBeacon sends it), CloudEvents in structured and batched mode.
// 201 all accepted, 207 some, 400 all invalid, 500 all failed, 202 at once with ?hasty=true.
import { CascadeError, isCascadeError, sendProblem } from '../errors/index.ts';
import type { Router, RequestContext } from '../router/router.ts';
import { readBody, sendJson } from '../router/server.ts';
import { EventErrors } from './errors.ts';
import { CE_BATCH_CONTENT_TYPE, CE_CONTENT_TYPE } from './cloudevents.ts';
import { boundedLogger, truncate, type Intake, type IntakeResult, type ProcessOptions } from './intake.ts';
import { eventSpans, nestsDeeperThan } from './json-spans.ts';
import { ProducerAuthorizer, type ProducerCaller } from './producers.ts';
import { DEFAULT_PRODUCERS, type EventsConfig } from './config.ts';
import type { Logger } from '../util/logger.ts';
import type { CapabilityScope } from '../router/scopes.ts';

export interface EventsHttpDeps {
  intake: Intake;
  maxBodyBytes: number;
  allowHasty: boolean;
  logger?: Logger;
  /** Who may produce what; default: loopback may produce `mediawiki.*` (DEFAULT_PRODUCERS). */
  producers?: ProducerAuthorizer;
  /** Most events per request (413 beyond); default 1000. */
  maxEvents?: number;
  /** Deepest JSON nesting (400 beyond); default 64. */
  maxJsonDepth?: number;
  /** Retry-After (seconds) of a 503 while the log is down; default 1. */
  retryAfterSeconds?: number;
}

type BodyKind = 'events' | 'cloudevent' | 'cloudevents-batch';

function bodyKind(contentType: string | undefined): BodyKind {
  const t = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (t === '' || t === 'application/json' || t === 'text/plain') return 'events';
  if (t === CE_CONTENT_TYPE) return 'cloudevent';
  if (t === CE_BATCH_CONTENT_TYPE) return 'cloudevents-batch';
  throw new CascadeError(EventErrors.unsupportedType, `content-type ${t} is not accepted: send application/json, text/plain or CloudEvents JSON`);
}

/** Status as EventGate computes it. */
export function statusOf(r: IntakeResult): number {
  if (r.accepted === r.total) return 201;
  if (r.invalid.length === r.total) return 400;
  if (r.error.length === r.total) return 500;
  return 207;
}

/** The stream an item names (before any validation), for authorization. */
function streamOf(item: unknown, kind: BodyKind): string | undefined {
  if (!item || typeof item !== 'object' || Array.isArray(item)) return undefined;
  const o = item as Record<string, unknown>;
  if (kind !== 'events' && typeof o.stream === 'string' && o.stream !== '') return o.stream;
  const ev = kind === 'events' ? o : o.data;
  const meta = ev && typeof ev === 'object' ? (ev as Record<string, unknown>).meta : undefined;
  const s = meta && typeof meta === 'object' ? (meta as Record<string, unknown>).stream : undefined;
  return typeof s === 'string' && s !== '' ? s : undefined;
}

export function mountEvents(router: Router, deps: EventsHttpDeps): void {
  const producers = deps.producers ?? new ProducerAuthorizer(DEFAULT_PRODUCERS, { names: ['resource_change'], prefixes: ['change-prop.'] });
  const maxEvents = deps.maxEvents ?? 1000;
  const maxDepth = deps.maxJsonDepth ?? 64;
  const retryAfter = String(deps.retryAfterSeconds ?? 1);
  const log = boundedLogger(deps.logger);
  // Refusals carry what a client needs to act on (and, for 401, the auth scheme); the body of a
  // refused request is drained unread.
  const refuse = (ctx: RequestContext, e: unknown, drain: boolean): never => {
    if (isCascadeError(e) && e.status === 401) ctx.res.setHeader('www-authenticate', 'Bearer realm="cascade-events"');
    if (drain) {
      ctx.res.setHeader('connection', 'close');
      ctx.req.resume();
    }
    throw e;
  };
  router.add('POST', '/v1/events', async (ctx: RequestContext) => {
    const caller: ProducerCaller = producers.identify(ctx.req, ctx.clientIp);
    try {
      producers.admit(caller);
    } catch (e) {
      refuse(ctx, e, true);
    }
    const kind = bodyKind(ctx.req.headers['content-type']);
    const body = await readBody(ctx.req, deps.maxBodyBytes);
    if (nestsDeeperThan(body, maxDepth)) throw new CascadeError(EventErrors.tooDeep, `the body nests arrays/objects deeper than ${maxDepth} levels`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new CascadeError(EventErrors.badBody, `body is not valid JSON: ${truncate((e as Error).message, 200)}`);
    }
    let items: unknown[];
    if (kind === 'cloudevent') {
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CascadeError(EventErrors.badBody, `${CE_CONTENT_TYPE} carries one CloudEvent object`);
      items = [parsed];
    } else if (kind === 'cloudevents-batch') {
      if (!Array.isArray(parsed)) throw new CascadeError(EventErrors.badBody, `${CE_BATCH_CONTENT_TYPE} carries a JSON array of CloudEvents`);
      items = parsed;
    } else {
      items = Array.isArray(parsed) ? parsed : [parsed];
    }
    if (items.length === 0) throw new CascadeError(EventErrors.badBody, 'no events in the request');
    if (items.length > maxEvents) throw new CascadeError(EventErrors.tooManyEvents, `${items.length} events in one request; at most ${maxEvents} (events.max_events_per_request)`);
    // Every stream named must be open to this caller, or nothing is stored (see README: producers).
    const streams = new Set<string>();
    for (const it of items) {
      const s = streamOf(it, kind);
      if (s !== undefined) streams.add(s);
    }
    try {
      producers.authorize(caller, streams);
    } catch (e) {
      refuse(ctx, e, false);
    }
    const sentId = ctx.req.headers['x-request-id'];
    const opts: ProcessOptions = {
      requestId: typeof sentId === 'string' && sentId !== '' ? ctx.requestId : undefined,
      cloudEvents: kind !== 'events',
      emitErrorEvents: true,
    };
    if (kind === 'events') {
      // Store each event as the bytes it came in (see json-spans.ts), when they can be told apart.
      const spans = eventSpans(body);
      if (spans && spans.length === items.length) opts.raw = { body, spans };
    }
    if (deps.allowHasty && ctx.query.get('hasty') === 'true') {
      // Answer before the events are durable; failures are only logged.
      ctx.res.statusCode = 202;
      ctx.res.setHeader('content-length', 0);
      ctx.res.end();
      deps.intake.process(items, opts).then(
        (r) => {
          if (r.invalid.length || r.error.length) log('hasty events not accepted', { requestId: ctx.requestId, invalid: r.invalid.length, error: r.error.length });
        },
        (e: unknown) => log('hasty events failed', { requestId: ctx.requestId, error: String((e as Error)?.message ?? e) }),
      );
      return;
    }
    const result = await deps.intake.process(items, opts);
    if (result.logUnavailable) {
      ctx.res.setHeader('retry-after', retryAfter);
      // Nothing stored and only the log to blame: one 503, not EventGate's per-event 500.
      if (result.error.length === result.total) {
        throw new CascadeError(EventErrors.logUnavailable, `the event log is unavailable; nothing was stored, send the events again after ${retryAfter} s (same ids: no duplicates)`);
      }
    }
    const status = statusOf(result);
    if (status === 201) {
      ctx.res.statusCode = 201;
      ctx.res.setHeader('content-length', 0);
      ctx.res.end();
      return;
    }
    if (status === 207) {
      sendJson(ctx.res, status, { invalid: result.invalid, error: result.error });
      return;
    }
    // 400 / 500: EventGate's body ({invalid, error}) as members of a problem+json document,
    // so EventGate clients and problem+json clients both read it.
    const def = status === 400 ? EventErrors.invalidEvents : EventErrors.eventsFailed;
    const detail =
      status === 400
        ? `${result.invalid.length} out of ${result.total} events were invalid and not accepted`
        : `${result.invalid.length + result.error.length} out of ${result.total} events had failures and were not accepted (${result.invalid.length} invalid and ${result.error.length} errored)`;
    sendProblem(ctx.res, new CascadeError(def, detail, { extra: { invalid: result.invalid, error: result.error } }), ctx.path);
  });
}

/** The intake's request policy (mounted by app.ts): POST /v1/events counts in its own class. */
export function eventsScope(config: Pick<EventsConfig, 'rate_limit'>): CapabilityScope {
  return {
    name: 'events',
    owns: (ctx) => ctx.path === '/v1/events',
    rateClasses: { produce: config.rate_limit.produce },
    rateClassOf: () => 'produce',
  };
}
