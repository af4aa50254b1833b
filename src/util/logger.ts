// The one logger: pino underneath (structured JSON, one object per line with `msg`, levels,
// child loggers carrying request ids). A Logger is also callable: `log(msg, fields)` logs at
// info, so code that only reports takes a Logger and calls it like a function.

import { pino, type DestinationStream, type Level, type Logger as PinoLogger } from 'pino';

export type LogFields = Record<string, unknown>;
export type LogLevel = Level | 'silent';

export interface Logger {
  /** Logs at info. */
  (msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `bindings` (e.g. `{ request_id }`). */
  child(bindings: LogFields): Logger;
}

/** Log lines stay bounded whatever a request carried: each string field is cut to this. */
export const MAX_FIELD = 2048;

function cut(s: string): string {
  return s.length <= MAX_FIELD ? s : `${s.slice(0, MAX_FIELD)}… [${s.length - MAX_FIELD} more characters]`;
}

/** The fields with every value bounded (objects become their truncated JSON when too long). */
export function boundFields(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return fields;
  let out: LogFields | undefined;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    let bounded: unknown = v;
    if (typeof v === 'string') bounded = cut(v);
    else if (v !== null && typeof v === 'object') {
      let json: string;
      try {
        json = JSON.stringify(v) ?? '';
      } catch {
        json = String(v);
      }
      if (json.length > MAX_FIELD) bounded = cut(json);
    }
    if (bounded !== v) (out ??= { ...fields })[k] = bounded;
  }
  return out ?? fields;
}

export interface LoggerOptions {
  /** Lowest level written (default `info`; `silent` writes nothing). */
  level?: LogLevel;
  /** Where lines go (default: stdout, written synchronously so no line is lost at exit). */
  destination?: DestinationStream;
  /** Fields on every line. */
  bindings?: LogFields;
}

type PinoLike = Pick<PinoLogger, Level> & { child(bindings: LogFields): PinoLike };

function wrap(p: PinoLike): Logger {
  const at = (level: Level) => (msg: string, fields?: LogFields) => {
    const f = boundFields(fields);
    if (f) p[level](f, cut(msg));
    else p[level](cut(msg));
  };
  const info = at('info');
  return Object.assign((msg: string, fields?: LogFields) => info(msg, fields), {
    debug: at('debug'),
    info,
    warn: at('warn'),
    error: at('error'),
    child: (bindings: LogFields) => wrap(p.child(boundFields(bindings) ?? {})),
  });
}

/** A pino-backed logger writing JSON lines (`{"level":"info","time":…,"msg":…,…fields}`). */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const p = pino(
    {
      level: opts.level ?? 'info',
      base: opts.bindings ?? null,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return wrap(p as unknown as PinoLike);
}

/** A logger that writes nothing. */
export const silentLogger: Logger = createLogger({ level: 'silent' });

/** What a plain reporting function looks like (tests collecting lines, older callers). */
export type LogSink = Logger | ((msg: string, fields?: LogFields) => void);

/**
 * A Logger that rewrites (or, returning undefined, drops) each line before `base` writes it,
 * at every level and in children.
 */
export function mapLogger(base: Logger, map: (msg: string, fields?: LogFields) => [string, LogFields | undefined] | undefined): Logger {
  const at = (write: (msg: string, fields?: LogFields) => void) => (msg: string, fields?: LogFields) => {
    const m = map(msg, fields);
    if (m) write(m[0], m[1]);
  };
  const info = at((m, f) => base.info(m, f));
  return Object.assign((msg: string, fields?: LogFields) => info(msg, fields), {
    debug: at((m, f) => base.debug(m, f)),
    info,
    warn: at((m, f) => base.warn(m, f)),
    error: at((m, f) => base.error(m, f)),
    child: (bindings: LogFields) => mapLogger(base.child(bindings), map),
  });
}

/**
 * A Logger from a plain `(msg, fields) => void` (tests collecting lines, older callers): every
 * level goes to it, with `level` added for the non-info ones and child bindings merged in.
 */
export function asLogger(sink: LogSink | undefined, bindings?: LogFields): Logger {
  if (!sink) return silentLogger;
  if (isLogger(sink) && !bindings) return sink;
  const fn = sink;
  const at = (level: Level | undefined) => (msg: string, fields?: LogFields) => {
    const f = bindings || level ? { ...bindings, ...fields, ...(level ? { level } : {}) } : fields;
    fn(msg, f);
  };
  const info = at(undefined);
  return Object.assign((msg: string, fields?: LogFields) => info(msg, fields), {
    debug: at('debug'),
    info,
    warn: at('warn'),
    error: at('error'),
    child: (more: LogFields) => asLogger(fn, { ...bindings, ...more }),
  });
}

function isLogger(x: unknown): x is Logger {
  return typeof x === 'function' && typeof (x as Partial<Logger>).child === 'function' && typeof (x as Partial<Logger>).warn === 'function';
}
