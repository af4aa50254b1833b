// Dead letters: listing a rule's dead-letter stream and re-publishing its events.
// Replay appends each selected original event to the rule's retry stream, due now, with the
// rule's full retry budget, so only that rule runs it again (other rules on the topic do not).
import { randomUUID } from 'node:crypto';
import type { EventLog } from '../events/log/types.ts';
import { CascadeError } from '../errors/index.ts';
import { ChangepropErrors } from './errors.ts';
import { compileMatch } from './match.ts';
import type { Rule } from './rule.ts';
import { dlqTopic, retryTopic, type RetryEvent } from './engine.ts';
import { EventSigner } from './signing.ts';

export interface DeadLetter {
  rule: string;
  offset: number;
  /** When the dead letter was written (ms). */
  timestamp: number;
  status?: number;
  message: string;
  uri?: string;
  retries?: number;
  /** The original event (parsed from raw_event), when it was JSON. */
  event?: unknown;
  raw_event: string;
  response?: unknown;
}

export interface DlqStreams {
  datacenter: string;
  dlqStream: string;
  retryStream: string;
  /** Replayed retries are signed like the engine's own (signing.ts); the engine runs no other. */
  signingKey: Buffer | string;
}

export async function listDeadLetters(log: EventLog, s: DlqStreams, rule: string, opts: { since?: number; limit?: number } = {}): Promise<DeadLetter[]> {
  const topic = dlqTopic(s.datacenter, s.dlqStream, rule);
  const out: DeadLetter[] = [];
  let from = 0;
  const limit = opts.limit ?? Infinity;
  for (;;) {
    const recs = await log.read(topic, from, 1000);
    if (recs.length === 0) break;
    for (const r of recs) {
      from = r.offset + 1;
      if (opts.since !== undefined && r.timestamp < opts.since) continue;
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(r.value.toString('utf8'));
      } catch {
        continue;
      }
      const raw = String(ev.raw_event ?? '');
      let event: unknown;
      try {
        event = JSON.parse(raw);
      } catch {
        event = undefined;
      }
      const meta = (ev.meta ?? {}) as Record<string, unknown>;
      out.push({
        rule,
        offset: r.offset,
        timestamp: r.timestamp,
        status: typeof ev.status === 'number' ? ev.status : undefined,
        message: String(ev.message ?? ''),
        uri: typeof meta.uri === 'string' ? meta.uri : undefined,
        retries: typeof ev.retries === 'number' ? ev.retries : undefined,
        event,
        raw_event: raw,
        response: ev.response,
      });
      if (out.length >= limit) return out;
    }
  }
  return out;
}

/**
 * Re-publishes dead letters of `rule` (optionally since a time and only those whose original
 * event matches `filter`, a match object in rule syntax). Returns how many were re-published.
 */
export async function replayDeadLetters(
  log: EventLog,
  s: DlqStreams,
  rule: Rule,
  opts: { since?: number; filter?: unknown; onProgress?: (done: number, total: number) => void } = {},
): Promise<number> {
  let filter: ((v: unknown) => boolean) | undefined;
  if (opts.filter !== undefined) {
    if (opts.filter === null || typeof opts.filter !== 'object') throw new CascadeError(ChangepropErrors.invalidRule, '--filter must be a match object, e.g. "{meta: {domain: en.wikipedia.org}}"');
    const m = compileMatch(opts.filter, 'filter');
    filter = (v) => m.test(v);
  }
  const letters = await listDeadLetters(log, s, rule.name, { since: opts.since });
  const topic = retryTopic(s.datacenter, s.retryStream, rule.name);
  const events = [];
  const signer = new EventSigner(s.signingKey);
  const now = new Date().toISOString();
  for (const d of letters) {
    if (d.event === undefined) continue;
    if (filter && !filter(d.event)) continue;
    const meta = ((d.event as { meta?: Record<string, unknown> }).meta ?? {}) as Record<string, unknown>;
    const ev: RetryEvent = {
      $schema: '/change-prop/retry/1.0.0',
      meta: { stream: `${s.retryStream}.${rule.name}`, id: randomUUID(), dt: now, uri: typeof meta.uri === 'string' ? meta.uri : undefined, domain: typeof meta.domain === 'string' ? meta.domain : undefined },
      emitter_id: `change-prop#${rule.name}`,
      // The replayed attempt plus the rule's usual retries.
      retries_left: rule.retryLimit + 1,
      original_event: d.event,
      reason: `replay of dead letter ${d.offset}`,
      retry_at: now,
    };
    // The log's dedup window drops a second replay of the same dead letter within it.
    events.push({ id: `replay:${rule.name}:${d.offset}`, value: Buffer.from(JSON.stringify(signer.sign(ev))) });
  }
  if (events.length === 0) return 0;
  // In batches, so a large replay reports progress (and stays within the log's chunk size).
  let appended = 0;
  opts.onProgress?.(0, events.length);
  for (let i = 0; i < events.length; i += 500) {
    const batch = events.slice(i, i + 500);
    const res = await log.append(topic, batch);
    appended += res.filter((r) => !r.duplicate).length;
    opts.onProgress?.(Math.min(i + 500, events.length), events.length);
  }
  return appended;
}
