// Log lines stay bounded whatever a request carried: string fields are cut to MAX_FIELD
// characters, other values to MAX_FIELD characters of their JSON, so one hostile request
// cannot write a 100 KB line.
export const MAX_FIELD = 2048;

function cut(s: string): string {
  return s.length <= MAX_FIELD ? s : `${s.slice(0, MAX_FIELD)}… [${s.length - MAX_FIELD} more characters]`;
}

/** The fields with every value bounded (objects become their truncated JSON when too long). */
export function boundFields(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return fields;
  let out: Record<string, unknown> | undefined;
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

/** One JSON line per message, fields bounded. */
export function formatLogLine(msg: string, fields?: Record<string, unknown>): string {
  return JSON.stringify({ msg: cut(msg), ...boundFields(fields) });
}
