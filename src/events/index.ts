// Public surface of the event bus: the intake (POST /v1/events), the in-process producer,
// the schema repository and the durable log.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/load.ts';
import { openEventLog } from './log/index.ts';
import type { EventLog, EventProducer } from './log/types.ts';
import { SchemaRepository, schemaSourceFor } from './schema-repo.ts';
import { StreamRegistry } from './streams.ts';
import { Intake } from './intake.ts';
import { IntakeProducer } from './producer.ts';
import { ProducerAuthorizer, internalStreams, type InternalStreams } from './producers.ts';
import { DEFAULT_PRODUCERS, type EventsConfig } from './config.ts';
import type { EventsHttpDeps } from './http.ts';
import type { Logger } from '../util/logger.ts';
import type { Clock } from '../util/clock.ts';

export { mountEvents, statusOf, eventsScope, type EventsHttpDeps } from './http.ts';
export { Intake, type IntakeResult, type InvalidEvent, type FailedEvent, type ProcessOptions } from './intake.ts';
export { IntakeProducer } from './producer.ts';
export { SchemaRepository, DirectorySchemaSource, HttpSchemaSource, schemaSourceFor, BUILTIN_SCHEMA_DIR, formatErrors, type SchemaSource, type CompiledSchema } from './schema-repo.ts';
export { StreamRegistry, type ResolvedStream } from './streams.ts';
export { cloudEventIdentity, CE_CONTENT_TYPE, CE_BATCH_CONTENT_TYPE } from './cloudevents.ts';
export { EventErrors } from './errors.ts';
export { eventsConfigSchema, DEFAULT_PRODUCERS, type EventsConfig, type StreamConfig, type ProducerRule } from './config.ts';
export { ProducerAuthorizer, producerAddress, internalStreams, checkProducerConfig, type ProducerCaller, type InternalStreams } from './producers.ts';
export type { EventLog, EventProducer, LogEvent, LogRecord, Consumer } from './log/types.ts';

export interface EventBus {
  log: EventLog;
  intake: Intake;
  producer: EventProducer;
  repo: SchemaRepository;
  streams: StreamRegistry;
  /** Who may produce what over HTTP (events.producers). */
  producers: ProducerAuthorizer;
  /** What mountEvents needs, from config (add a logger). */
  http: EventsHttpDeps;
  close(): Promise<void>;
}

/** What the bus takes from outside its own section (`events:`). */
export interface EventBusShared {
  /** Topics are `{datacenter}.{stream}`. */
  datacenter: string;
  /** A relative `log.path` resolves against it. */
  dataDir: string;
  /** Streams the other capabilities produce themselves (HTTP producers need an `internal: true` rule). */
  internal: InternalStreams;
}

export interface EventBusOptions {
  /** Use this log instead of opening `events.log` (the bus then does not close it). */
  log?: EventLog;
  logger?: Logger;
  /** Time of the embedded log's appends, leases and retention (tests advance it). */
  clock?: Clock;
  /** Where `{ env: NAME }` producer tokens are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * What `serve` would refuse in the events section beyond its JSON Schema: stream and producer
 * patterns that are no regular expressions, networks that do not parse, token variables that
 * are unset, schema directories that do not exist. Throws ConfigError naming the setting.
 */
export function checkEventsConfig(ev: EventsConfig, shared: Pick<EventBusShared, 'datacenter' | 'internal'>, env: NodeJS.ProcessEnv = process.env): void {
  new StreamRegistry(ev.streams, shared.datacenter);
  new ProducerAuthorizer(ev.producers ?? DEFAULT_PRODUCERS, internalStreams(ev, shared.internal), env);
  ev.schema_base_uris.forEach((b, i) => {
    if (b === 'builtin' || /^https?:\/\//i.test(b)) return;
    const dir = b.startsWith('file:') ? fileURLToPath(b) : b;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new ConfigError([{ file: '<config>', line: 0, column: 0, path: `events.schema_base_uris.${i}`, message: `${b} is not a directory` }]);
    }
  });
}

/** Opens the configured log and builds the intake and producer on it. */
export async function openEventBus(ev: EventsConfig, shared: EventBusShared, opts: EventBusOptions = {}): Promise<EventBus> {
  checkEventsConfig(ev, shared, opts.env);
  const repo = new SchemaRepository(
    ev.schema_base_uris.map((b) => schemaSourceFor(b, { timeoutMs: ev.schema_fetch_timeout_ms })),
    {
      mutating: ev.mutating_validation,
      allowInsecure: ev.allow_insecure_schemas,
      cache: { maxEntries: ev.schema_cache.max_entries, maxBytes: ev.schema_cache.max_bytes, negativeMaxEntries: ev.schema_cache.negative_max_entries, negativeTtlMs: ev.schema_cache.negative_ttl_ms },
    },
  );
  const streams = new StreamRegistry(ev.streams, shared.datacenter);
  const producers = new ProducerAuthorizer(ev.producers ?? DEFAULT_PRODUCERS, internalStreams(ev, shared.internal), opts.env);
  if (!ev.producers) {
    opts.logger?.('events.producers is not set: only loopback may produce mediawiki.* streams over HTTP, nothing else is open', {
      add: 'events: { producers: [ { streams: [\'/^mediawiki\\./\'], from: [loopback, <your wiki\'s network>] }, { streams: [<stream>], tokens: [{ env: <VAR> }] } ] }',
    });
  }
  const log = opts.log ?? (await openEventLog(ev.log, { baseDir: shared.dataDir, ...(opts.clock ? { clock: opts.clock } : {}) }));
  const intake = new Intake({
    log,
    repo,
    streams,
    errorStream: ev.error_stream || undefined,
    errorSchema: ev.error_schema,
    emitterId: ev.emitter_id,
    logger: opts.logger,
    appendTimeoutMs: ev.append_timeout_ms,
    unloadableSchema: ev.unloadable_schema,
  });
  return {
    log,
    intake,
    producer: new IntakeProducer(intake),
    repo,
    streams,
    producers,
    http: {
      intake,
      producers,
      maxBodyBytes: ev.max_body_bytes,
      allowHasty: ev.allow_hasty,
      maxEvents: ev.max_events_per_request,
      maxJsonDepth: ev.max_json_depth,
      retryAfterSeconds: Math.max(1, Math.ceil(ev.append_timeout_ms / 1000)),
    },
    async close() {
      if (!opts.log) await log.close();
    },
  };
}
