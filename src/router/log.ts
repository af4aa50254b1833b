// Log lines stay bounded whatever a request carried (the bounding lives with the logger).
import { boundFields, MAX_FIELD, type LogFields } from '../util/logger.ts';

export { boundFields, MAX_FIELD };

/** One JSON line per message, fields bounded (the shape the logger writes, without level/time). */
export function formatLogLine(msg: string, fields?: LogFields): string {
  const m = msg.length <= MAX_FIELD ? msg : `${msg.slice(0, MAX_FIELD)}… [${msg.length - MAX_FIELD} more characters]`;
  return JSON.stringify({ msg: m, ...boundFields(fields) });
}
