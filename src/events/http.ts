// POST /v1/events, compatible with EventGate: one event or an array (application/json, or
// text/plain as navigator.sendBeacon sends it), CloudEvents in structured and batched mode.
// 201 all accepted, 207 some, 400 all invalid, 500 all failed, 202 at once with ?hasty=true.
import { CascadeError } from '../errors/index.ts';
import type { Router, RequestContext } from '../router/router.ts';
import { readBody, sendJson } from '../router/server.ts';
import { EventErrors } from './errors.ts';
import { CE_BATCH_CONTENT_TYPE, CE_CONTENT_TYPE } from './cloudevents.ts';
import type { Intake, IntakeResult, ProcessOptions } from './intake.ts';
import { eventSpans } from './json-spans.ts';

export interface EventsHttpDeps {
  intake: Intake;
  maxBodyBytes: number;
  allowHasty: boolean;
  logger?: (msg: string, fields?: Record<string, unknown>) => void;
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

export function mountEvents(router: Router, deps: EventsHttpDeps): void {
  router.add('POST', '/v1/events', async (ctx: RequestContext) => {
    const kind = bodyKind(ctx.req.headers['content-type']);
    const body = await readBody(ctx.req, deps.maxBodyBytes);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new CascadeError(EventErrors.badBody, `body is not valid JSON: ${(e as Error).message}`);
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
          if (r.invalid.length || r.error.length) deps.logger?.('hasty events not accepted', { requestId: ctx.requestId, invalid: r.invalid.length, error: r.error.length });
        },
        (e: unknown) => deps.logger?.('hasty events failed', { requestId: ctx.requestId, error: String((e as Error)?.message ?? e) }),
      );
      return;
    }
    const result = await deps.intake.process(items, opts);
    const status = statusOf(result);
    if (status === 201) {
      ctx.res.statusCode = 201;
      ctx.res.setHeader('content-length', 0);
      ctx.res.end();
      return;
    }
    sendJson(ctx.res, status, { invalid: result.invalid, error: result.error });
  });
}
