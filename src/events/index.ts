// Public surface of the event bus: the intake (POST /v1/events), the in-process producer,
// the schema repository and the durable log.
import type { CascadeConfig } from '../config/index.ts';
import { openEventLog } from './log/index.ts';
import type { EventLog, EventProducer } from './log/types.ts';
import { SchemaRepository, schemaSourceFor } from './schema-repo.ts';
import { StreamRegistry } from './streams.ts';
import { Intake } from './intake.ts';
import { IntakeProducer } from './producer.ts';

export { mountEvents, statusOf, type EventsHttpDeps } from './http.ts';
export { Intake, type IntakeResult, type InvalidEvent, type FailedEvent, type ProcessOptions } from './intake.ts';
export { IntakeProducer } from './producer.ts';
export { SchemaRepository, DirectorySchemaSource, HttpSchemaSource, schemaSourceFor, BUILTIN_SCHEMA_DIR, formatErrors, type SchemaSource, type CompiledSchema } from './schema-repo.ts';
export { StreamRegistry, type ResolvedStream } from './streams.ts';
export { cloudEventIdentity, CE_CONTENT_TYPE, CE_BATCH_CONTENT_TYPE } from './cloudevents.ts';
export { EventErrors } from './errors.ts';
export { eventsConfigSchema, type EventsConfig, type StreamConfig } from './config.ts';
export type { EventLog, EventProducer, LogEvent, LogRecord, Consumer } from './log/types.ts';

export interface EventBus {
  log: EventLog;
  intake: Intake;
  producer: EventProducer;
  repo: SchemaRepository;
  streams: StreamRegistry;
  close(): Promise<void>;
}

export interface EventBusOptions {
  /** Use this log instead of opening `events.log` (the bus then does not close it). */
  log?: EventLog;
  logger?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Opens the configured log and builds the intake and producer on it. */
export async function openEventBus(config: CascadeConfig, opts: EventBusOptions = {}): Promise<EventBus> {
  const ev = config.events;
  const repo = new SchemaRepository(
    ev.schema_base_uris.map((b) => schemaSourceFor(b, { timeoutMs: ev.schema_fetch_timeout_ms })),
    { mutating: ev.mutating_validation },
  );
  const streams = new StreamRegistry(ev.streams, config.datacenter);
  const log = opts.log ?? (await openEventLog(ev.log, { baseDir: config.data_dir }));
  const intake = new Intake({
    log,
    repo,
    streams,
    errorStream: ev.error_stream || undefined,
    errorSchema: ev.error_schema,
    emitterId: ev.emitter_id,
    logger: opts.logger,
  });
  return {
    log,
    intake,
    producer: new IntakeProducer(intake),
    repo,
    streams,
    async close() {
      if (!opts.log) await log.close();
    },
  };
}
