// The durable event log: one contract (types.ts), two backends. `openEventLog` picks one
// from config (`events.log`).
import { isAbsolute, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogConfig } from './config.ts';
import type { EventLog } from './types.ts';
import { SqliteEventLog } from './sqlite.ts';
import type { Clock } from '../../util/clock.ts';

export type { AppendResult, Consumer, ConsumerOptions, EventLog, EventProducer, LogEvent, LogRecord, RetentionOptions } from './types.ts';
export type { LogConfig, SqliteLogConfig, JetStreamLogConfig, LogRetentionConfig } from './config.ts';
export { logConfigSchema, LOG_DEFAULTS } from './config.ts';
export { LogErrors } from './errors.ts';
export { SqliteEventLog } from './sqlite.ts';

/**
 * Opens the configured log. A relative SQLite `path` resolves against `opts.baseDir` (the
 * data directory) or else the working directory.
 */
export async function openEventLog(cfg: LogConfig, opts: { baseDir?: string; clock?: Clock } = {}): Promise<EventLog> {
  if (cfg.backend === 'jetstream') {
    const { JetStreamEventLog } = await import('./jetstream.ts');
    return JetStreamEventLog.open(cfg);
  }
  const path = isAbsolute(cfg.path) ? cfg.path : resolve(opts.baseDir ?? process.cwd(), cfg.path);
  mkdirSync(dirname(path), { recursive: true });
  return new SqliteEventLog({ ...cfg, path }, opts.clock ? { clock: opts.clock } : {});
}
