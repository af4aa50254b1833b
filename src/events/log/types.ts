// The durable event log contract. Backends: SQLite (embedded default) and NATS JetStream.
// Both pass test/events/log-conformance.test.ts.

export interface LogEvent {
  /** Dedup identity (meta.id, or CloudEvents source+id). Duplicates within the window are dropped. */
  id: string;
  /** Optional ordering key: events with one key are delivered in append order. */
  key?: string;
  /** Serialized event (JSON bytes). The log may keep a reference to it: do not modify it after appending. */
  value: Buffer;
}

export interface AppendResult {
  offset: number;
  /** True when the id was seen within the dedup window and nothing new was stored. */
  duplicate: boolean;
}

export interface LogRecord {
  topic: string;
  /** Position in the topic: the first record of a topic is 1, then increasing (gaps allowed). */
  offset: number;
  id: string;
  key?: string;
  value: Buffer;
  /** ms since epoch when appended. */
  timestamp: number;
  /** 1 on first delivery to a consumer group, more on redelivery; 0 for `read`. */
  deliveries: number;
}

export interface ConsumerOptions {
  /** Where a new group starts. */
  startAt?: 'earliest' | 'latest';
  /** A fetched record not acked within this time is redelivered (to any member). */
  ackWaitMs?: number;
  /**
   * A group with no member for this long may be forgotten by the backend (its position
   * dropped), for throwaway per-instance groups. JetStream: the consumers' inactive_threshold;
   * SQLite keeps group rows (a few bytes each).
   */
  forgetAfterMs?: number;
}

/** One member of a consumer group. Members of one group share the work. */
export interface Consumer {
  /** Up to `max` records, waiting up to `waitMs` when none is ready. */
  fetch(max: number, waitMs: number): Promise<LogRecord[]>;
  /**
   * Marks records processed; the group's committed position advances past them. Resolves once
   * the commit is durable. Acking a record whose lease expired still counts (at-least-once).
   */
  ack(records: LogRecord[]): Promise<void>;
  /** Leaves the group; records fetched and not acked are released to other members at once. */
  close(): Promise<void>;
}

export interface RetentionOptions {
  maxAgeMs?: number;
  maxBytes?: number;
}

export interface EventLog {
  readonly backend: string;
  /**
   * False while the backend is known to be unreachable (JetStream: the connection is down), so
   * producers fail at once instead of waiting for a timeout. Optional: absent means unknown.
   */
  available?(): boolean;
  /** Durable when the promise resolves (an acknowledged event survives kill -9). */
  append(topic: string, events: LogEvent[]): Promise<AppendResult[]>;
  /** Records from `fromOffset` (inclusive; 0 or 1 = from the start), at most `max`, oldest first. */
  read(topic: string, fromOffset: number, max: number): Promise<LogRecord[]>;
  consumer(group: string, topics: string[], opts?: ConsumerOptions): Promise<Consumer>;
  /** Records of `topic` not yet acked by `group`. */
  lag(group: string, topic: string): Promise<number>;
  setRetention(topic: string, opts: RetentionOptions): Promise<void>;
  close(): Promise<void>;
}

/** In-process producer API (the content API's resource_change events go through it). */
export interface EventProducer {
  /** Validates and appends events; resolves when durable. Throws on invalid events. */
  produce(events: Record<string, unknown>[]): Promise<void>;
}
