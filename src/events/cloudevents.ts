// CloudEvents (v1.0, structured JSON mode): the envelope carries the schema (`dataschema`),
// the dedup identity (`source` + `id`) and, as the `stream` extension attribute, the stream;
// `data` is the event that is validated and stored.
import { createHash } from 'node:crypto';

export const CE_CONTENT_TYPE = 'application/cloudevents+json';
export const CE_BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';

export interface MappedCloudEvent {
  data: Record<string, unknown>;
  schemaUri: string | undefined;
  stream: string | undefined;
  /** Deterministic id from source + id: a redelivered CloudEvent maps to the same log id. */
  dedupId: string;
  time: string | undefined;
}

/** A name-based (v5-style, SHA-1) UUID for `source` + `id`. */
export function cloudEventIdentity(source: string, id: string): string {
  const h = createHash('sha1').update('cloudevents\0').update(source).update('\0').update(id).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Maps a structured CloudEvent; returns a reason string when the envelope is not acceptable. */
export function mapCloudEvent(ce: unknown): MappedCloudEvent | string {
  if (!ce || typeof ce !== 'object' || Array.isArray(ce)) return 'a CloudEvent must be a JSON object';
  const c = ce as Record<string, unknown>;
  if (c.specversion !== '1.0') return `CloudEvent specversion must be "1.0" (got ${JSON.stringify(c.specversion)})`;
  for (const attr of ['id', 'source', 'type'] as const) {
    if (!nonEmpty(c[attr])) return `CloudEvent attribute ${attr} is required (non-empty string)`;
  }
  if (c.data_base64 !== undefined) return 'CloudEvent data_base64 is not supported: send JSON data';
  if (c.datacontenttype !== undefined && !(typeof c.datacontenttype === 'string' && /^application\/([\w.-]+\+)?json\b/i.test(c.datacontenttype))) {
    return `CloudEvent datacontenttype ${JSON.stringify(c.datacontenttype)} is not JSON`;
  }
  const data = c.data;
  if (!data || typeof data !== 'object' || Array.isArray(data)) return 'CloudEvent data must be a JSON object';
  const d = data as Record<string, unknown>;
  const meta = d.meta && typeof d.meta === 'object' ? (d.meta as Record<string, unknown>) : undefined;
  const schemaUri = nonEmpty(c.dataschema) ? c.dataschema : nonEmpty(d.$schema) ? d.$schema : undefined;
  const stream = nonEmpty(c.stream) ? c.stream : nonEmpty(meta?.stream) ? meta.stream : undefined;
  return {
    data: d,
    schemaUri,
    stream,
    dedupId: cloudEventIdentity(c.source as string, c.id as string),
    time: nonEmpty(c.time) ? c.time : undefined,
  };
}
