// The log contract's input checks, shared by every backend so they refuse the same things with
// the same errors (and always as a rejected promise, never a synchronous throw).
import { CascadeError } from '../../errors/index.ts';
import { LogErrors } from './errors.ts';
import type { LogEvent } from './types.ts';

export const MAX_TOPIC_LENGTH = 255;

export function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw new CascadeError(LogErrors.badTopic, `topic must be a non-empty string of at most ${MAX_TOPIC_LENGTH} characters`);
  }
}

export function checkEvents(events: LogEvent[]): void {
  for (const ev of events) {
    if (typeof ev.id !== 'string' || ev.id.length === 0) throw new CascadeError(LogErrors.badEvent, 'every event needs a non-empty id');
    if (!Buffer.isBuffer(ev.value)) throw new CascadeError(LogErrors.badEvent, 'event value must be a Buffer');
    if (ev.key !== undefined && typeof ev.key !== 'string') throw new CascadeError(LogErrors.badEvent, 'event key must be a string');
  }
}

export function checkConsumer(group: string, topics: string[]): void {
  if (typeof group !== 'string' || group.length === 0) throw new CascadeError(LogErrors.badEvent, 'consumer group name must be a non-empty string');
  if (topics.length === 0) throw new CascadeError(LogErrors.badTopic, 'a consumer needs at least one topic');
  for (const t of topics) checkTopic(t);
}
