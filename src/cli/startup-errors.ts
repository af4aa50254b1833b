// Operational start-up failures as one line an operator can act on (which service, where,
// which setting), instead of a stack trace.
import type { CascadeConfig } from '../config/index.ts';

interface SysError extends Error {
  code?: string;
  syscall?: string;
  address?: string;
  port?: number;
  path?: string;
  errors?: unknown[];
}

function firstLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim() !== '') ?? s;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line.trim();
}

function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return u;
  }
}

/** Walks `cause` and AggregateError members for the system error underneath. */
function rootCause(e: unknown): SysError | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 8 && cur instanceof Error; depth++) {
    const se = cur as SysError;
    if (se.code && se.syscall) return se;
    if (Array.isArray(se.errors) && se.errors[0] instanceof Error) cur = se.errors[0];
    else cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The one line printed when `startApp` fails. */
export function describeStartupError(e: unknown, cfg: CascadeConfig): string {
  const err = e instanceof Error ? (e as SysError) : new Error(String(e));
  const sys = rootCause(err) ?? (err as SysError);
  const code = sys.code ?? '';
  const where = sys.address !== undefined ? `${sys.address}${sys.port !== undefined ? `:${sys.port}` : ''}` : '';
  if (sys.syscall === 'listen' || code === 'EADDRINUSE') {
    const what = code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'may not be bound by this user' : `cannot be bound (${code})`;
    return `${where || `${cfg.listen.host}:${cfg.listen.port}`} ${what} (listen.host/listen.port${cfg.wiki.enabled ? ', or wiki.port' : ''})`;
  }
  const pgUrl = cfg.storage.backend === 'postgres' ? cfg.storage.postgres.url : undefined;
  const log = cfg.events.log;
  const natsUrl = log.backend === 'jetstream' ? log.url : undefined;
  const conn = ['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET'].includes(code);
  const text = firstLine(err.message || code);
  if (pgUrl && (conn || /postgres|password authentication|database .* does not exist|role .* does not exist/i.test(text)) && !/nats/i.test(text)) {
    if (!natsUrl || matchesPort(where, pgUrl)) return `PostgreSQL at ${redactUrl(pgUrl)} is unreachable (storage.postgres.url): ${text}`;
  }
  if (natsUrl && (conn || /nats|CONNECTION_REFUSED|jetstream/i.test(text) || (err.name ?? '').includes('Connection'))) {
    return `NATS at ${redactUrl(natsUrl)} is unreachable (events.log.url): ${text}`;
  }
  if (['ENOTDIR', 'EEXIST', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC'].includes(code) && sys.path) {
    return `cannot use ${sys.path} (data_dir ${cfg.data_dir}): ${code}`;
  }
  return text;
}

function matchesPort(where: string, url: string): boolean {
  if (!where) return true;
  try {
    const u = new URL(url);
    return where.endsWith(`:${u.port || '5432'}`);
  } catch {
    return true;
  }
}
