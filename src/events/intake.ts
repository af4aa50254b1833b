// The intake pipeline shared by HTTP (`POST /v1/events`) and the in-process producer:
// fill meta, check the stream, validate against the event's schema, append to the log per
// topic, and report each event as accepted, invalid (client's fault) or failed (ours).
// An event counts as accepted only once the log's append has resolved (durable).
import { randomUUID } from 'node:crypto';
import { CascadeError, isCascadeError } from '../errors/index.ts';
import { LogErrors } from './log/errors.ts';
import type { EventLog, LogEvent } from './log/types.ts';
import { formatErrors, type CompiledSchema, type SchemaRepository } from './schema-repo.ts';
import type { StreamRegistry, ResolvedStream } from './streams.ts';
import { mapCloudEvent } from './cloudevents.ts';
import { metaInsertion, spliceAll, type EventSpan } from './json-spans.ts';
import { errorsText, fromAjv, intakeError, type EventValidationError } from './validation-errors.ts';
import { EventErrors } from './errors.ts';
import { metrics } from '../router/metrics.ts';
import { asLogger, mapLogger, type LogSink, type Logger } from '../util/logger.ts';

/** Events by configured stream and outcome (accepted: durable; invalid: failed its schema; failed: its schema could not be loaded, or not made durable). */
export const intakeEvents = metrics.counter('cascade_events_intake_total', 'Events taken in by stream and outcome (accepted, invalid, failed)', ['stream', 'outcome']);

type Obj = Record<string, unknown>;

export interface InvalidEvent {
  status: 'invalid';
  /** Position in the request's batch. */
  index: number;
  event: unknown;
  /** As EventGate reports it: the AJV error objects and their `errorsText` (plus a one-line message). */
  context: { message: string; errors: EventValidationError[]; errorsText: string };
}

export interface FailedEvent {
  status: 'error';
  index: number;
  event: unknown;
  context: { message: string };
}

export interface IntakeResult {
  total: number;
  /** Accepted and durable (duplicates of already stored events count as accepted). */
  accepted: number;
  /** Log ids of the accepted events, in batch order. */
  ids: string[];
  invalid: InvalidEvent[];
  error: FailedEvent[];
  /** Some events failed because the log is down or too slow (retrying later may succeed). */
  logUnavailable?: boolean;
}

export interface IntakeOptions {
  log: EventLog;
  repo: SchemaRepository;
  streams: StreamRegistry;
  /** Error events for invalid input go here ('' or undefined: nowhere). */
  errorStream?: string;
  errorSchema: string;
  emitterId: string;
  logger?: Logger;
  /** An append not durable by then fails (503 over HTTP) instead of holding the request; default 1000 ms. */
  appendTimeoutMs?: number;
  /**
   * How an event whose schema cannot be loaded (not found, does not compile, insecure) counts:
   * `error` as in EventGate (500 when all are), or `invalid` (400). Default `error`.
   */
  unloadableSchema?: 'error' | 'invalid';
}

/** Schema failures EventGate reports as "error" (its EventSchemaLoadError). */
const UNLOADABLE = new Set([EventErrors.schemaNotFound.code, EventErrors.schemaInvalid.code, EventErrors.schemaInsecure.code]);

export interface ProcessOptions {
  requestId?: string;
  /** Items are structured CloudEvents rather than plain events. */
  cloudEvents?: boolean;
  /** Produce error events for invalid input (HTTP: yes; in-process producer: the caller gets an exception). */
  emitErrorEvents?: boolean;
  /**
   * The request body and where each item lies in it (json-spans.ts): an event is then stored
   * as the bytes it was sent in (plus the meta fields the intake filled), not serialised again.
   */
  raw?: { body: Buffer; spans: EventSpan[] };
}

/** How long Cascade's own producer waits for an append (it fails at once while the log reports itself down). */
const IN_PROCESS_APPEND_TIMEOUT_MS = 10_000;

/** Schema lookups one request runs at once. */
const SCHEMA_LOOKUPS_AT_ONCE = 8;

// Which meta fields the intake added, so the raw event can be reported as it was sent.
const ADDED = { id: 1, dt: 2, request_id: 4 } as const;

/** An event that passed the envelope checks and awaits (or passed) validation. */
export interface Candidate {
  index: number;
  raw: unknown;
  event: Obj;
  schemaUri: string;
  /** Canonical cache key of schemaUri (schema-cache.ts). */
  schemaKey: string;
  stream: ResolvedStream;
  logId: string;
  added: number;
  /** The event's bytes in the request body, when known. */
  bytes?: Buffer;
  /** Just past the `{` of its meta object in `bytes` (-1: unknown). */
  metaAt?: number;
}

export interface Checked {
  total: number;
  valid: Candidate[];
  invalid: InvalidEvent[];
  error: FailedEvent[];
}

const LOG_FIELD_MAX = 500;

/**
 * A logger whose lines stay short whatever a client sent: every field is cut to 500 characters
 * (objects after serialising), so a 100 KB `$schema` or event never becomes a 100 KB log line.
 */
export function boundedLogger(logger: LogSink | undefined): Logger {
  return mapLogger(asLogger(logger), (msg, fields) => {
    if (!fields) return [truncate(msg, LOG_FIELD_MAX), undefined];
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(fields).slice(0, 20)) {
      const v = fields[k];
      if (typeof v === 'string') out[k] = truncate(v, LOG_FIELD_MAX);
      else if (v !== null && typeof v === 'object') out[k] = truncate(safeStringify(v), LOG_FIELD_MAX);
      else out[k] = v;
    }
    return [truncate(msg, LOG_FIELD_MAX), out];
  });
}

export class Intake {
  private readonly log: Logger;
  constructor(private readonly o: IntakeOptions) {
    this.log = boundedLogger(o.logger);
  }

  /** Validates a batch and appends the valid events; emits error events for invalid ones. */
  async process(items: unknown[], opts: ProcessOptions = {}): Promise<IntakeResult> {
    const checked = await this.check(items, opts);
    const [appended] = await Promise.all([
      this.append(checked.valid, this.o.appendTimeoutMs ?? 1000),
      opts.emitErrorEvents && checked.invalid.length > 0 ? this.emitErrors(checked.invalid, opts.requestId) : undefined,
    ]);
    return {
      total: checked.total,
      accepted: appended.ids.length,
      ids: appended.ids,
      invalid: checked.invalid,
      error: [...checked.error, ...appended.error].sort((a, b) => a.index - b.index),
      ...(appended.logUnavailable ? { logUnavailable: true } : {}),
    };
  }

  /** Envelope checks, meta filling and schema validation (no I/O once schemas are cached). */
  async check(items: unknown[], opts: ProcessOptions = {}): Promise<Checked> {
    const now = new Date().toISOString();
    const invalid: InvalidEvent[] = [];
    const error: FailedEvent[] = [];
    const candidates: Candidate[] = [];
    let uncached: Set<string> | undefined;
    for (let i = 0; i < items.length; i++) {
      const c = this.prepare(items[i], i, now, opts, invalid);
      if (!c) continue;
      candidates.push(c);
      if (!this.o.repo.cachedKey(c.schemaKey)) (uncached ??= new Set()).add(c.schemaKey);
    }
    // Schemas not yet compiled are resolved once per key for the whole batch, a few at a time
    // (a batch naming thousands of unknown schemas must not open thousands of lookups at once).
    const failures = new Map<string, unknown>();
    if (uncached) {
      const keys = [...uncached];
      let next = 0;
      const worker = async () => {
        while (next < keys.length) {
          const key = keys[next++];
          await this.o.repo.get(key).catch((e: unknown) => void failures.set(key, e));
        }
      };
      await Promise.all(Array.from({ length: Math.min(SCHEMA_LOOKUPS_AT_ONCE, keys.length) }, worker));
    }
    const valid: Candidate[] = [];
    for (const c of candidates) {
      let schema = this.o.repo.cachedKey(c.schemaKey);
      // Evicted meanwhile (a batch naming more schemas than the cache holds): compile it again.
      if (!schema && !failures.has(c.schemaKey)) schema = await this.o.repo.get(c.schemaKey).catch((e: unknown) => void failures.set(c.schemaKey, e) as undefined);
      if (!schema) {
        const e = failures.get(c.schemaKey);
        const asError = !isCascadeError(e) || e.status >= 500 || (UNLOADABLE.has(e.code) && this.o.unloadableSchema !== 'invalid');
        if (!asError) {
          invalid.push(this.invalidOf(c, e.message, [intakeError('/$schema', e.message, 'schema')]));
          intakeEvents.inc([c.stream.name, 'invalid']);
        } else {
          intakeEvents.inc([c.stream.name, 'failed']);
          if (!isCascadeError(e) || e.status >= 500) this.log('schema lookup failed', { schema: c.schemaUri, error: String((e as Error)?.message ?? e) });
          const why = isCascadeError(e) && e.status < 500 ? `: ${e.message}` : '';
          error.push({ status: 'error', index: c.index, event: rawOf(c), context: { message: `Failed loading schema at ${c.schemaKey}${why}` } });
        }
        continue;
      }
      const problem = validateAgainst(schema, c);
      if (problem) {
        invalid.push(this.invalidOf(c, problem.message, problem.errors));
        intakeEvents.inc([c.stream.name, 'invalid']);
      }
      else valid.push(c);
    }
    if (invalid.length > 1) invalid.sort((a, b) => a.index - b.index);
    return { total: items.length, valid, invalid, error };
  }

  /**
   * Appends valid events, one append per topic. Durable when this resolves. `timeoutMs` bounds
   * the wait (HTTP: events.append_timeout_ms; Cascade's own producer waits longer by default,
   * since no client is held and a lost resource_change costs a missed re-render).
   */
  async append(valid: Candidate[], timeoutMs = IN_PROCESS_APPEND_TIMEOUT_MS): Promise<{ ids: string[]; error: FailedEvent[]; logUnavailable?: boolean }> {
    const byTopic = new Map<string, Candidate[]>();
    for (const c of valid) {
      let list = byTopic.get(c.stream.topic);
      if (!list) byTopic.set(c.stream.topic, (list = []));
      list.push(c);
    }
    const error: FailedEvent[] = [];
    const ok = new Set<Candidate>();
    let logUnavailable = false;
    await Promise.all(
      [...byTopic].map(async ([topic, list]) => {
        const reuse = !this.o.repo.mutating;
        const batch = toLogEvents(list, reuse);
        try {
          await this.appendGuarded(topic, batch, timeoutMs);
          for (const c of list) ok.add(c);
          intakeEvents.inc([list[0].stream.name, 'accepted'], list.length);
        } catch (e) {
          if (isCascadeError(e) && e.status === 503) logUnavailable = true;
          this.log('log append failed', { topic, events: list.length, error: String((e as Error)?.message ?? e) });
          for (const c of list) error.push({ status: 'error', index: c.index, event: rawOf(c), context: { message: `event could not be made durable in ${topic}` } });
          intakeEvents.inc([list[0].stream.name, 'failed'], list.length);
        }
      }),
    );
    const ids: string[] = [];
    for (const c of valid) if (ok.has(c)) ids.push(c.logId);
    return logUnavailable ? { ids, error, logUnavailable } : { ids, error };
  }

  /**
   * The log's append, failing fast: at once while the log reports itself down, and after
   * `appendTimeoutMs` when it does not answer (a NATS connection black-holed, a SQLite file
   * locked by another process). The append may still complete later; producers resend with
   * the same ids and the log's dedup keeps one copy.
   */
  private appendGuarded(topic: string, events: LogEvent[], timeoutMs: number): Promise<unknown> {
    const log = this.o.log;
    if (log.available && !log.available()) {
      return Promise.reject(new CascadeError(LogErrors.unavailable, `the event log (${log.backend}) is not reachable`));
    }
    const append = log.append(topic, events);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CascadeError(LogErrors.unavailable, `the event log (${log.backend}) did not make the events durable within ${timeoutMs} ms`)), timeoutMs);
    });
    append.catch(() => {}); // a late failure after the timeout is not unhandled
    return Promise.race([append, timeout]).finally(() => clearTimeout(timer));
  }

  private prepare(item: unknown, index: number, now: string, opts: ProcessOptions, invalid: InvalidEvent[]): Candidate | undefined {
    const reject = (message: string, field: string) => {
      const errors = [intakeError(field, message)];
      invalid.push({ status: 'invalid', index, event: item, context: { message, errors, errorsText: errorsText(errors) } });
      return undefined;
    };
    let event: Obj;
    let schemaUri: unknown;
    let streamName: unknown;
    let logId: string | undefined;
    let time: string | undefined;
    if (opts.cloudEvents) {
      const m = mapCloudEvent(item);
      if (typeof m === 'string') return reject(m, '/');
      event = m.data;
      schemaUri = m.schemaUri;
      streamName = m.stream;
      logId = m.dedupId;
      time = m.time;
      if (schemaUri === undefined) return reject('CloudEvent names no schema (dataschema or data.$schema)', '/dataschema');
      if (streamName === undefined) return reject('CloudEvent names no stream (stream extension or data.meta.stream)', '/stream');
    } else {
      if (!item || typeof item !== 'object' || Array.isArray(item)) return reject('an event must be a JSON object', '/');
      event = item as Obj;
      schemaUri = event.$schema;
      if (typeof schemaUri !== 'string' || schemaUri === '') return reject('$schema is required (a schema URI)', '/$schema');
      const meta = event.meta;
      if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return reject('meta.stream is required (meta is missing)', '/meta/stream');
      streamName = (meta as Obj).stream;
      if (typeof streamName !== 'string' || streamName === '') return reject('meta.stream is required', '/meta/stream');
    }
    const stream = this.o.streams.get(streamName as string);
    if (!stream) return reject(`stream ${streamName as string} is not configured`, '/meta/stream');
    // Fill meta (as EventGate does) before validation: schemas often require meta.dt.
    let added = 0;
    const meta = event.meta;
    if (meta && typeof meta === 'object' && !Array.isArray(meta)) {
      const m = meta as Obj;
      if (m.id === undefined) {
        m.id = logId ?? randomUUID();
        added |= ADDED.id;
      }
      if (m.dt === undefined) {
        m.dt = time ?? now;
        added |= ADDED.dt;
      }
      if (m.request_id === undefined && opts.requestId) {
        m.request_id = opts.requestId;
        added |= ADDED.request_id;
      }
      if (logId === undefined) logId = typeof m.id === 'string' && m.id !== '' ? m.id : undefined;
    }
    if (logId === undefined) {
      if (!opts.cloudEvents) return reject('meta.id must be a non-empty string', '/meta/id');
      logId = randomUUID();
    }
    const k = this.o.repo.key(schemaUri as string);
    if ('problem' in k) return reject(k.problem, opts.cloudEvents ? '/dataschema' : '/$schema');
    const c: Candidate = { index, raw: item, event, schemaUri: schemaUri as string, schemaKey: k.key, stream, logId, added };
    const span = opts.cloudEvents ? undefined : opts.raw?.spans[index];
    if (span) {
      c.bytes = opts.raw!.body.subarray(span.start, span.end);
      c.metaAt = span.metaAt >= 0 ? span.metaAt - span.start : -1;
    }
    return c;
  }

  private invalidOf(c: Candidate, message: string, errors: EventValidationError[]): InvalidEvent {
    return { status: 'invalid', index: c.index, event: rawOf(c), context: { message, errors, errorsText: errorsText(errors) } };
  }

  /** Error events, in the shape of the public `/error/…` schema, to the error stream. */
  private async emitErrors(invalid: InvalidEvent[], requestId: string | undefined): Promise<void> {
    const stream = this.o.errorStream;
    if (!stream) return;
    const now = new Date().toISOString();
    let schema: CompiledSchema | undefined;
    try {
      schema = await this.o.repo.get(this.o.errorSchema);
    } catch {
      schema = undefined; // no such schema in the repositories: EventGate's shape, unvalidated
    }
    const props = (schema?.schema.properties ?? {}) as Obj;
    const withErrorsField = !schema || schema.schema.additionalProperties !== false || 'errors' in props;
    const events: LogEvent[] = [];
    for (const inv of invalid) {
      const raw = inv.event;
      const rawMeta = raw && typeof raw === 'object' ? ((raw as Obj).meta as Obj | undefined) : undefined;
      const rawSchema = raw && typeof raw === 'object' ? (raw as Obj).$schema : undefined;
      const id = randomUUID();
      const ev: Obj = {
        $schema: this.o.errorSchema,
        meta: {
          stream,
          id,
          dt: now,
          ...(requestId ? { request_id: requestId } : {}),
          ...(rawMeta && typeof rawMeta.domain === 'string' && rawMeta.domain ? { domain: rawMeta.domain } : {}),
        },
        dt: now,
        emitter_id: this.o.emitterId,
        error_type: 'ValidationError',
        message: `${inv.context.message}: ${inv.context.errorsText}`,
        raw_event: safeStringify(raw),
        ...(typeof rawSchema === 'string' ? { errored_schema_uri: rawSchema } : {}),
        ...(rawMeta && typeof rawMeta.stream === 'string' ? { errored_stream_name: rawMeta.stream } : {}),
        ...(withErrorsField ? { errors: formatErrors(inv.context.errors) } : {}),
      };
      if (schema && !schema.validate(ev)) {
        this.log('error event does not match its schema; dropped', { errors: formatErrors(schema.validate.errors) });
        continue;
      }
      events.push({ id, value: Buffer.from(JSON.stringify(ev)) });
    }
    if (events.length === 0) return;
    try {
      await this.appendGuarded(this.o.streams.topicOf(stream), events, this.o.appendTimeoutMs ?? 1000);
    } catch (e) {
      this.log('error events could not be appended', { error: String((e as Error)?.message ?? e) });
    }
  }
}

function validateAgainst(schema: CompiledSchema, c: Candidate): { message: string; errors: EventValidationError[] } | undefined {
  if (schema.title !== undefined && !c.stream.titles.has(schema.title)) {
    return {
      message: `schema ${c.schemaUri} (title ${schema.title}) is not allowed in stream ${c.stream.name}`,
      errors: [intakeError('/$schema', `title ${schema.title} is not one of ${[...c.stream.titles].join(', ')}`, 'stream')],
    };
  }
  if (schema.title === undefined) {
    return { message: `schema ${c.schemaUri} has no title; stream ${c.stream.name} cannot admit it`, errors: [intakeError('/$schema', 'has no title', 'stream')] };
  }
  if (schema.validate(c.event)) return undefined;
  const errors = fromAjv(schema.validate.errors);
  return { message: `Event failed validation with schema at ${c.schemaUri}: ${formatErrors(errors)[0]}`, errors };
}

/**
 * The log events of validated candidates: each event's bytes as sent when known (plus the
 * meta fields the intake filled, spliced in; see json-spans.ts), else serialised.
 * Exported for bench/events.ts's stage profile.
 */
export function toLogEvents(list: Candidate[], reuseBytes: boolean): LogEvent[] {
  const values: Buffer[] = new Array(list.length);
  const spliceAt: number[] = [];
  const parts: { bytes: Buffer; metaAt: number; ins: string }[] = [];
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (reuseBytes && c.bytes && c.added === 0) values[i] = c.bytes;
    else if (reuseBytes && c.bytes && c.metaAt !== undefined && c.metaAt >= 0) {
      const meta = c.event.meta as Obj;
      const fields: [string, string][] = [];
      if (c.added & ADDED.id) fields.push(['id', meta.id as string]);
      if (c.added & ADDED.dt) fields.push(['dt', meta.dt as string]);
      if (c.added & ADDED.request_id) fields.push(['request_id', meta.request_id as string]);
      parts.push({ bytes: c.bytes, metaAt: c.metaAt, ins: metaInsertion(c.bytes, c.metaAt, fields) });
      spliceAt.push(i);
    } else values[i] = Buffer.from(JSON.stringify(c.event));
  }
  const spliced = spliceAll(parts);
  for (let j = 0; j < spliceAt.length; j++) values[spliceAt[j]] = spliced[j];
  return list.map((c, i) => {
    const key = c.stream.keyPath ? keyOf(c.event, c.stream.keyPath) : undefined;
    return key === undefined ? { id: c.logId, value: values[i] } : { id: c.logId, key, value: values[i] };
  });
}

function keyOf(event: Obj, path: string[]): string | undefined {
  let v: unknown = event;
  for (const p of path) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Obj)[p];
  }
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}

/** The event as the producer sent it (without the meta fields the intake filled in). */
function rawOf(c: Candidate): unknown {
  if (!c.added) return c.raw;
  const meta = { ...(c.event.meta as Obj) };
  if (c.added & ADDED.id) delete meta.id;
  if (c.added & ADDED.dt) delete meta.dt;
  if (c.added & ADDED.request_id) delete meta.request_id;
  const event = { ...c.event, meta };
  if (c.raw !== c.event && c.raw && typeof c.raw === 'object') return { ...(c.raw as Obj), data: event };
  return event;
}

/** Log fields stay short whatever a client sent (a 100 KB `$schema` must not become a 100 KB log line). */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} chars)`;
}

function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
