// The event log on NATS JetStream.
//
// Streams: one stream per topic, `<prefix>_<topic>` (sanitized), subjects `<prefix>.<topic>.>`;
// its sequence is the topic's offset. Appends publish with `Nats-Msg-Id` = event id, so the
// server drops duplicates within the stream's duplicate window. Retention is the stream's
// max_age / max_bytes (discard old).
//
// Consumer groups: durable pull consumers with explicit acks; ack_wait gives redelivery.
//
// Ordering per key (JetStream has no per-key in-flight limit, so we build one from subjects):
// unkeyed events go to `<…>.u`; a keyed event goes to `<…>.k.<p>`, p = FNV-1a(key) mod
// `key_partitions`. A group has one durable consumer on `.u` (any number in flight) and one
// per partition with max_ack_pending = 1: the server hands out the next record of a partition
// only after the previous one is acked (or its ack_wait expired and it is redelivered first),
// to whichever member asks. Limits: keys that hash to one partition wait for each other
// (head-of-line blocking), so keyed throughput per group is at most one record per partition
// per ack round trip; raise `key_partitions` for more parallelism (more consumers per group).
// Unkeyed events and keyed events are not ordered relative to each other.
import { connect, type NatsConnection, type Msg, type Subscription, headers as natsHeaders, createInbox } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { createHash } from 'node:crypto';
import { CascadeError } from '../../errors/index.ts';
import { LOG_DEFAULTS, type JetStreamLogConfig } from './config.ts';
import { LogErrors } from './errors.ts';
import type { AppendResult, Consumer, ConsumerOptions, EventLog, LogEvent, LogRecord, RetentionOptions } from './types.ts';
import { SingleFlight } from '../../util/single-flight.ts';
import { checkConsumer, checkEvents, checkTopic } from './validate.ts';

const KEY_HEADER = 'Cascade-Key';
/** An ack's payload, encoded once (one ack per record). */
const ACK_BODY = new TextEncoder().encode('+ACK');
const DEFAULT_ACK_WAIT_MS = 30_000;
const NO_WAIT_EXPIRES_MS = 1000;
/** How long past a pull request's expiry it is taken as over without the server's status. */
const EXPIRY_MARGIN_MS = 20;
/** How long a no_wait request without expiry waits for its answer before it is taken as lost. */
const LOST_ANSWER_MS = 3000;
/** How long a fetch waits for what is already there before it returns what arrived. */
const IMMEDIATE_MS = 25;
/** Most messages / bytes one pull of `read` asks for (see read). */
const READ_PULL = 500;
const READ_PULL_BYTES = 8 * 1024 * 1024;
/** Restarts of one `read` after messages were lost in flight before it gives up. */
const READ_ATTEMPTS = 5;
const ms2ns = (ms: number) => Math.round(ms * 1_000_000);

/** A NATS name token from any string: safe characters kept, a hash keeps distinct inputs distinct. */
export function natsToken(s: string): string {
  if (/^[A-Za-z0-9_-]{1,64}$/.test(s)) return s;
  const h = createHash('sha1').update(s).digest('hex').slice(0, 8);
  return `${s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48)}_${h}`;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A stream or consumer that does not exist (v3 reports API errors as JetStreamApiError with a code). */
export function isNotFound(e: unknown): boolean {
  return e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamNotFound || e.code === JetStreamApiCodes.ConsumerNotFound);
}

/** Delivery info from a JetStream ack subject (v1: 9 tokens; v2 with domain/account: 12+). */
type AckInfo = { stream: string; deliveries: number; seq: number; cseq: number; ts: number };
// The last subject parsed: a delivered message's subject is read for its topic and then for
// its record, one after the other.
let lastReply = '';
let lastInfo: AckInfo | undefined;

function parseAckSubject(reply: string): AckInfo | undefined {
  if (reply === lastReply) return lastInfo;
  const t = reply.split('.');
  let info: AckInfo | undefined;
  if (t[0] === '$JS' && t[1] === 'ACK') {
    const base = t.length === 9 ? 2 : 4;
    info = { stream: t[base], deliveries: Number(t[base + 2]), seq: Number(t[base + 3]), cseq: Number(t[base + 4]), ts: Math.floor(Number(t[base + 5]) / 1e6) };
  }
  lastReply = reply;
  lastInfo = info;
  return info;
}

/**
 * `<stream>.<consumer>` of an ack subject (`$JS.ACK.<stream>.<consumer>.…`, 9 tokens, or with
 * a domain and account hash before the stream), without splitting it: once per message.
 */
function ackStreamConsumer(reply: string): string {
  let dots = 0;
  for (let i = reply.indexOf('.'); i !== -1; i = reply.indexOf('.', i + 1)) dots++;
  let from = 8; // past `$JS.ACK.`
  if (dots !== 8) from = reply.indexOf('.', reply.indexOf('.', from) + 1) + 1; // past domain and account
  return reply.slice(from, reply.indexOf('.', reply.indexOf('.', from) + 1));
}

interface SubConsumer {
  topic: string;
  stream: string;
  durable: string;
  /** Most records one pull asks for. */
  batch: number;
  /** max_ack_pending 1 (a key partition): a no_wait pull may get no answer, so it needs an expiry. */
  limited: boolean;
}

export class JetStreamEventLog implements EventLog {
  readonly backend = 'jetstream';
  // Each topic's stream is created once; a failure is forgotten so the next append retries.
  private readonly streams = new SingleFlight<string, void>({ memoize: true });
  private readonly consumers = new Set<JetStreamConsumer>();
  private closed = false;
  /** False between a disconnect and the next reconnect (see watchConnection). */
  private connected = true;
  readonly partitions: number;
  private readonly dedupMs: number;
  private readonly retention: { max_age_ms: number; max_bytes: number };

  private readonly publisher: Publisher;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly cfg: JetStreamLogConfig,
  ) {
    this.publisher = new Publisher(nc);
    void this.watchConnection();
    this.partitions = cfg.key_partitions ?? LOG_DEFAULTS.key_partitions;
    this.dedupMs = cfg.dedup_window_ms ?? LOG_DEFAULTS.dedup_window_ms;
    this.retention = {
      max_age_ms: cfg.retention?.max_age_ms ?? LOG_DEFAULTS.retention.max_age_ms,
      max_bytes: cfg.retention?.max_bytes ?? LOG_DEFAULTS.retention.max_bytes,
    };
  }

  static async open(cfg: JetStreamLogConfig): Promise<JetStreamEventLog> {
    let nc: NatsConnection;
    try {
      // Reconnect every ~0.5 s (not the default 2 s), so producers see the log back soon after NATS is.
      nc = await connect({ servers: cfg.url.split(',').map((s) => s.trim()), name: 'cascade-event-log', maxReconnectAttempts: -1, reconnectTimeWait: 500 });
    } catch (e) {
      throw new CascadeError(LogErrors.unavailable, `cannot connect to NATS at ${cfg.url}: ${(e as Error).message}`, { cause: e });
    }
    const jsm = await jetstreamManager(nc);
    return new JetStreamEventLog(nc, jetstream(nc), jsm, cfg);
  }

  /** False while the connection to NATS is down: producers then fail at once (503) instead of queueing. */
  available(): boolean {
    return this.connected && !this.closed;
  }

  /**
   * Follows the connection's status. On a disconnect, publishes waiting for their acks fail at
   * once (they may still be stored once the client reconnects and flushes; a resend dedups by
   * Nats-Msg-Id), and new appends are refused until the reconnect.
   */
  private async watchConnection(): Promise<void> {
    try {
      for await (const st of this.nc.status()) {
        if (st.type === 'disconnect' || st.type === 'staleConnection') {
          this.connected = false;
          this.publisher.failWaiting(new CascadeError(LogErrors.unavailable, 'JetStream: the connection to NATS was lost'));
        } else if (st.type === 'reconnect') {
          this.connected = true;
          this.streams.clear(); // a restarted server may have lost memory-backed streams
        } else if (st.type === 'close') this.connected = false;
      }
    } catch {
      this.connected = false;
    }
  }

  streamName(topic: string): string {
    return `${this.cfg.stream_prefix}_${natsToken(topic)}`;
  }

  private subjectBase(topic: string): string {
    return `${this.cfg.stream_prefix}.${natsToken(topic)}`;
  }

  subject(topic: string, key: string | undefined): string {
    return key === undefined ? `${this.subjectBase(topic)}.u` : `${this.subjectBase(topic)}.k.${fnv1a(key) % this.partitions}`;
  }

  private limits(maxAgeMs: number, maxBytes: number): Partial<StreamConfig> {
    const dup = maxAgeMs > 0 ? Math.min(this.dedupMs, maxAgeMs) : this.dedupMs;
    return { max_age: maxAgeMs > 0 ? ms2ns(maxAgeMs) : 0, max_bytes: maxBytes > 0 ? maxBytes : -1, duplicate_window: ms2ns(Math.max(dup, 100)) };
  }

  /** Creates the topic's stream once (idempotent across processes). */
  ensureStream(topic: string): Promise<void> {
    return this.streams.run(topic, () => this.createStream(topic));
  }

  private async createStream(topic: string): Promise<void> {
    const name = this.streamName(topic);
    try {
      await this.jsm.streams.info(name);
      return;
    } catch (e) {
      if (!isNotFound(e)) throw unavailable(e);
    }
    try {
      await this.jsm.streams.add({
        name,
        subjects: [`${this.subjectBase(topic)}.>`],
        storage: (this.cfg.storage ?? LOG_DEFAULTS.storage) === 'memory' ? 'memory' : 'file',
        num_replicas: this.cfg.replicas ?? LOG_DEFAULTS.replicas,
        discard: 'old',
        ...this.limits(this.retention.max_age_ms, this.retention.max_bytes),
      } as Partial<StreamConfig> as StreamConfig);
    } catch (e) {
      // Another process may have created it meanwhile.
      try {
        await this.jsm.streams.info(name);
      } catch {
        throw unavailable(e);
      }
    }
  }

  async append(topic: string, events: LogEvent[]): Promise<AppendResult[]> {
    this.checkOpen();
    checkTopic(topic);
    checkEvents(events);
    if (events.length === 0) return [];
    await this.ensureStream(topic);
    // Published back to back on one connection, so the server stores them in this order.
    return this.publisher.publishAll(events.map((ev) => ({ subject: this.subject(topic, ev.key), ev })));
  }

  /**
   * Reads through an ephemeral consumer (ack none) in bounded pulls. One pull for the whole
   * page let the server push it all at once: beyond what the client drains in time the server
   * cuts the connection as a slow consumer and the messages in flight are lost, and an ack-none
   * consumer never redelivers them, so a page came back with holes or cut short. Now each pull
   * asks for at most READ_PULL messages / READ_PULL_BYTES, and a gap in the consumer sequence
   * (messages lost on a reconnect) restarts the read after the last record received.
   */
  async read(topic: string, fromOffset: number, max: number): Promise<LogRecord[]> {
    this.checkOpen();
    checkTopic(topic);
    if (max <= 0) return [];
    const stream = this.streamName(topic);
    const out: LogRecord[] = [];
    let next = Math.max(1, fromOffset);
    for (let attempt = 0; out.length < max; attempt++) {
      if (attempt >= READ_ATTEMPTS) throw unavailable(new Error(`read of ${topic} from ${next} kept losing messages`));
      const r = await this.readRun(topic, stream, next, max - out.length, out);
      if (r.done) break;
      next = r.next;
    }
    return out;
  }

  /** One ephemeral consumer from `from`; appends to `out`. `done` false: messages were lost, go on from `next`. */
  private async readRun(topic: string, stream: string, from: number, want: number, out: LogRecord[]): Promise<{ done: boolean; next: number }> {
    let name: string;
    let available: number;
    try {
      const ci = await this.jsm.consumers.add(stream, {
        ack_policy: 'none',
        ...(from > 1 ? { deliver_policy: 'by_start_sequence', opt_start_seq: from } : { deliver_policy: 'all' }),
        inactive_threshold: ms2ns(30_000),
        mem_storage: true,
        num_replicas: 1,
      } as never);
      name = ci.name;
      available = ci.num_pending;
    } catch (e) {
      if (isNotFound(e)) return { done: true, next: from };
      throw unavailable(e);
    }
    const reader = new Puller(this.nc);
    let next = from;
    let cseq = 0;
    let got = 0;
    try {
      const goal = Math.min(want, available);
      while (got < goal) {
        // Ask for no more than is there: a pull asking for more waits out its expiry.
        await reader.pull(stream, name, Math.min(READ_PULL, goal - got), 0, false, READ_PULL_BYTES);
        // One message above the byte bound is refused (409) by such a pull: take it alone.
        if (reader.ready.length === 0) await reader.pull(stream, name, 1, 0, false);
        const msgs = reader.ready.splice(0);
        if (msgs.length === 0) return { done: true, next }; // trimmed meanwhile: nothing more
        for (const m of msgs) {
          const info = parseAckSubject(m.reply ?? '');
          if (!info || info.cseq !== cseq + 1) return { done: false, next }; // lost in flight
          cseq = info.cseq;
          out.push(toRecord(topic, m, 0));
          next = info.seq + 1;
          if (++got >= goal) break;
        }
      }
      return { done: true, next };
    } finally {
      reader.close();
      await this.jsm.consumers.delete(stream, name).catch(() => {});
    }
  }

  durable(group: string, part: number | 'u'): string {
    return `${natsToken(group)}_${part === 'u' ? 'u' : `k${part}`}`;
  }

  async consumer(group: string, topics: string[], opts: ConsumerOptions = {}): Promise<Consumer> {
    this.checkOpen();
    checkConsumer(group, topics);
    const ackWaitMs = opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    const subs: SubConsumer[] = [];
    for (const topic of topics) {
      await this.ensureStream(topic);
      const stream = this.streamName(topic);
      const base = this.subjectBase(topic);
      const parts: (number | 'u')[] = ['u', ...Array.from({ length: this.partitions }, (_, i) => i)];
      await Promise.all(
        parts.map(async (p) => {
          const durable = this.durable(group, p);
          await this.ensureConsumer(stream, durable, p === 'u' ? `${base}.u` : `${base}.k.${p}`, p === 'u' ? 10_000 : 1, ackWaitMs, opts.startAt ?? 'earliest', opts.forgetAfterMs);
          subs.push({ topic, stream, durable, batch: p === 'u' ? 1000 : 1, limited: p !== 'u' });
        }),
      );
    }
    const c = new JetStreamConsumer(this, subs);
    this.consumers.add(c);
    return c;
  }

  private async ensureConsumer(
    stream: string,
    durable: string,
    filter: string,
    maxAckPending: number,
    ackWaitMs: number,
    startAt: 'earliest' | 'latest',
    forgetAfterMs?: number,
  ): Promise<void> {
    try {
      const info = await this.jsm.consumers.info(stream, durable);
      if (info.config.ack_wait !== ms2ns(ackWaitMs)) await this.jsm.consumers.update(stream, durable, { ack_wait: ms2ns(ackWaitMs) });
      return;
    } catch (e) {
      if (!isNotFound(e)) throw unavailable(e);
    }
    try {
      await this.jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: 'explicit',
        ack_wait: ms2ns(ackWaitMs),
        max_ack_pending: maxAckPending,
        max_deliver: -1,
        deliver_policy: startAt === 'latest' ? 'new' : 'all',
        filter_subject: filter,
        ...(forgetAfterMs ? { inactive_threshold: ms2ns(forgetAfterMs) } : {}),
      } as never);
    } catch (e) {
      try {
        await this.jsm.consumers.info(stream, durable);
      } catch {
        throw unavailable(e);
      }
    }
  }

  async lag(group: string, topic: string): Promise<number> {
    this.checkOpen();
    const stream = this.streamName(topic);
    const parts: (number | 'u')[] = ['u', ...Array.from({ length: this.partitions }, (_, i) => i)];
    try {
      const infos = await Promise.all(
        parts.map((p) =>
          this.jsm.consumers.info(stream, this.durable(group, p)).catch((e: unknown) => {
            if (isNotFound(e)) return undefined;
            throw e;
          }),
        ),
      );
      if (infos.every((i) => i === undefined)) {
        const si = await this.jsm.streams.info(stream).catch((e: unknown) => {
          if (isNotFound(e)) return undefined;
          throw e;
        });
        return si ? si.state.messages : 0;
      }
      return infos.reduce((s, i) => s + (i ? i.num_pending + i.num_ack_pending : 0), 0);
    } catch (e) {
      throw unavailable(e);
    }
  }

  async setRetention(topic: string, opts: RetentionOptions): Promise<void> {
    this.checkOpen();
    await this.ensureStream(topic);
    const maxAge = opts.maxAgeMs ?? this.retention.max_age_ms;
    const maxBytes = opts.maxBytes ?? this.retention.max_bytes;
    try {
      const info = await this.jsm.streams.info(this.streamName(topic));
      await this.jsm.streams.update(this.streamName(topic), { ...info.config, ...this.limits(maxAge, maxBytes) });
    } catch (e) {
      throw unavailable(e);
    }
  }

  forget(c: JetStreamConsumer): void {
    this.consumers.delete(c);
  }

  private checkOpen(): void {
    if (this.closed) throw new CascadeError(LogErrors.closed, 'the event log is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const c of [...this.consumers]) await c.close();
    this.closed = true;
    this.publisher.close();
    await this.nc.drain().catch(() => this.nc.close());
  }
}

/**
 * JetStream publishes with the acks read off one inbox subscription (the client's
 * js.publish costs ~100 µs of CPU per message, several times this).
 */
class Publisher {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private seq = 0;
  private readonly waiting = new Map<string, (r: AppendResult | Error) => void>();

  constructor(private readonly nc: NatsConnection) {
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (_err, m) => this.onAck(m) });
  }

  private onAck(m: Msg): void {
    const id = m.subject.slice(this.inbox.length + 1);
    const done = this.waiting.get(id);
    if (!done) return;
    this.waiting.delete(id);
    if ((m.headers?.code ?? 0) >= 400) {
      done(new Error(`publish failed: ${m.headers!.code} ${m.headers!.description}`));
      return;
    }
    try {
      const a = JSON.parse(Buffer.from(m.data).toString()) as { seq?: number; duplicate?: boolean; error?: { description?: string } };
      if (a.error || typeof a.seq !== 'number') done(new Error(`publish failed: ${a.error?.description ?? 'no sequence in ack'}`));
      else done({ offset: a.seq, duplicate: a.duplicate === true });
    } catch (e) {
      done(e as Error);
    }
  }

  async publishAll(items: { subject: string; ev: LogEvent }[], timeoutMs = 10_000): Promise<AppendResult[]> {
    const ids: string[] = [];
    const results = items.map(({ subject, ev }) => {
      const id = String(++this.seq);
      ids.push(id);
      return new Promise<AppendResult>((resolve, reject) => {
        this.waiting.set(id, (r) => (r instanceof Error ? reject(r) : resolve(r)));
        const h = natsHeaders();
        h.set('Nats-Msg-Id', ev.id);
        if (ev.key !== undefined) h.set(KEY_HEADER, ev.key);
        this.nc.publish(subject, ev.value, { reply: `${this.inbox}.${id}`, headers: h });
      });
    });
    const timer = setTimeout(() => {
      for (const id of ids) this.waiting.get(id)?.(new Error(`no ack from JetStream within ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      return await Promise.all(results);
    } catch (e) {
      throw unavailable(e);
    } finally {
      clearTimeout(timer);
      for (const id of ids) this.waiting.delete(id);
    }
  }

  /** Fails every publish still waiting for its ack. */
  failWaiting(e: Error): void {
    for (const done of [...this.waiting.values()]) done(e);
  }

  close(): void {
    for (const done of this.waiting.values()) done(new CascadeError(LogErrors.closed, 'the event log is closed'));
    this.waiting.clear();
    this.sub.unsubscribe();
  }
}

function unavailable(e: unknown): CascadeError {
  if (e instanceof CascadeError) return e;
  return new CascadeError(LogErrors.unavailable, `JetStream: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

function toRecord(topic: string, m: Msg, deliveriesFallback: number): LogRecord {
  const info = parseAckSubject(m.reply ?? '');
  // One pass over the headers: `get` builds a key list per call.
  let id = '';
  let key: string | undefined;
  if (m.headers) {
    for (const [k, v] of m.headers) {
      if (k === 'Nats-Msg-Id') id = v[0] ?? '';
      else if (k === KEY_HEADER) key = v[0];
    }
  }
  const rec: LogRecord = {
    topic,
    offset: info?.seq ?? 0,
    id,
    value: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength),
    timestamp: info?.ts ?? Date.now(),
    deliveries: deliveriesFallback === 0 ? 0 : (info?.deliveries ?? deliveriesFallback),
  };
  if (key) rec.key = key;
  return rec;
}

/**
 * Raw pull requests ($JS.API.CONSUMER.MSG.NEXT) on one inbox subscription. The high-level
 * client API wants expires >= 1 s; a log fetch may wait less, or not at all. Every delivered
 * message lands in `ready` whichever request it answers (a message carries its own subject,
 * not the inbox's); requests are tracked only to know when they are over: one open request
 * per consumer, matched by the consumer named in the ack subject.
 */
class Puller {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private seq = 0;
  /** Open request per `stream.consumer`. */
  private readonly open = new Map<string, PullRequest>();
  /** Request id (inbox suffix, for status messages) → `stream.consumer`. */
  private readonly ids = new Map<string, string>();
  /** Delivered to this member and not yet handed out by a fetch. */
  readonly ready: Msg[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly nc: NatsConnection) {
    this.sub = nc.subscribe(`${this.inbox}.>`, { callback: (_err, m) => this.onMsg(m) });
  }

  private onMsg(m: Msg): void {
    const status = m.headers?.code ?? 0;
    if (status >= 100) {
      // 404 no messages / 408 request expired / 409 limits: the request is over (100: heartbeat).
      if (status < 400) return;
      const key = this.ids.get(m.subject.slice(this.inbox.length + 1));
      const req = key === undefined ? undefined : this.open.get(key);
      if (req && req.subject === m.subject) this.finish(key!, req);
      return;
    }
    this.ready.push(m);
    const key = m.reply ? ackStreamConsumer(m.reply) : '';
    const req = this.open.get(key);
    if (req && ++req.got >= req.want) this.finish(key, req);
    for (const w of this.waiters) w();
  }

  private finish(key: string, req: PullRequest): void {
    if (req.finished) return;
    req.finished = true;
    clearTimeout(req.timer);
    if (this.open.get(key) === req) this.open.delete(key);
    this.ids.delete(req.subject.slice(this.inbox.length + 1));
    req.resolve();
    for (const w of this.waiters) w(); // a waiting fetch renews the request
  }

  /** True while a request to this consumer is open. */
  busy(stream: string, durable: string): boolean {
    return this.open.has(`${stream}.${durable}`);
  }

  /**
   * One pull, resolved when the request is fulfilled or over. `waitMs` 0 asks for what is
   * there now: no_wait, with an expiry because a no_wait request to a consumer at its
   * max_ack_pending gets no answer at all from nats-server 2.9.
   */
  pull(stream: string, durable: string, batch: number, waitMs: number, limited = true, maxBytes = 0): Promise<void> {
    const key = `${stream}.${durable}`;
    if (this.open.has(key)) return Promise.resolve();
    const id = String(++this.seq);
    return new Promise((resolve) => {
      const req: PullRequest = {
        subject: `${this.inbox}.${id}`,
        got: 0,
        want: batch,
        finished: false,
        resolve,
        // A request with an expiry ends there should the server not say so: nats-server 2.9
        // sends no 408 for some partly filled ones, and a request taken as still open blocks
        // new pulls of its consumer (the records appended meanwhile waited seconds). A message
        // that comes later is still taken (onMsg keeps every record), so it loses nothing. A
        // plain no_wait request is always answered at once: the timer only backs up a lost
        // answer, and is long, as a reader takes an empty answer for the end of the stream.
        timer: setTimeout(() => this.finish(key, req), waitMs > 0 ? Math.max(waitMs, 50) + EXPIRY_MARGIN_MS : limited ? NO_WAIT_EXPIRES_MS + EXPIRY_MARGIN_MS : LOST_ANSWER_MS),
      };
      this.open.set(key, req);
      this.ids.set(id, key);
      // An expiry shorter than the server's queueing delay would get the request dropped unanswered.
      // no_wait with an expiry waits for that expiry when nothing is there: only where needed.
      const body: Record<string, unknown> =
        waitMs > 0 ? { batch, expires: ms2ns(Math.max(waitMs, 50)) } : limited ? { batch, no_wait: true, expires: ms2ns(NO_WAIT_EXPIRES_MS) } : { batch, no_wait: true };
      if (maxBytes > 0) body.max_bytes = maxBytes;
      this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`, JSON.stringify(body), { reply: req.subject });
    });
  }

  /** Resolves when `n` messages are ready, or after `ms`. */
  waitReady(n: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const w = () => {
        if (this.ready.length < n && !timedOut) return;
        clearTimeout(t);
        this.waiters.delete(w);
        resolve();
      };
      let timedOut = false;
      const t = setTimeout(() => {
        timedOut = true;
        w();
      }, ms);
      this.waiters.add(w);
    });
  }

  /** Resolves when a message arrives or a request is over, or after `ms`. */
  waitAny(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const w = () => {
        clearTimeout(t);
        this.waiters.delete(w);
        resolve();
      };
      const t = setTimeout(w, ms);
      this.waiters.add(w);
    });
  }

  close(): void {
    for (const [key, req] of this.open) this.finish(key, req);
    this.sub.unsubscribe();
  }
}

interface PullRequest {
  subject: string;
  got: number;
  want: number;
  finished: boolean;
  resolve: () => void;
  timer: NodeJS.Timeout;
}

class JetStreamConsumer implements Consumer {
  private readonly puller: Puller;
  /** Delivered, not yet acked: `topic\0offset` → ack subject. */
  private readonly outstanding = new Map<string, string>();
  private rotate = 0;
  private closed = false;

  constructor(
    private readonly log: JetStreamEventLog,
    private readonly subs: SubConsumer[],
  ) {
    this.puller = new Puller(log.nc);
  }

  private topicOf(m: Msg): string {
    const info = parseAckSubject(m.reply ?? '');
    for (const s of this.subs) if (s.stream === info?.stream) return s.topic;
    return '';
  }

  private deliver(msgs: Msg[]): LogRecord[] {
    const out: LogRecord[] = [];
    for (const m of msgs) {
      const rec = toRecord(this.topicOf(m), m, 1);
      if (m.reply) this.outstanding.set(`${rec.topic}\u0000${rec.offset}`, m.reply);
      out.push(rec);
    }
    return out;
  }

  /** Asks each sub-consumer for what is there now (rotating who goes first), at most `max` in all. */
  private async pullNow(max: number): Promise<void> {
    const n = this.subs.length;
    const start = this.rotate;
    this.rotate = (this.rotate + 1) % n;
    let left = max - this.puller.ready.length;
    const pulls: Promise<void>[] = [];
    for (let i = 0; i < n && left > 0; i++) {
      const s = this.subs[(start + i) % n];
      if (this.puller.busy(s.stream, s.durable)) continue; // still open: delivers into `ready`
      const batch = Math.min(left, s.batch);
      left -= batch;
      pulls.push(this.puller.pull(s.stream, s.durable, batch, 0, s.limited));
    }
    // A partition at its max_ack_pending answers only at expiry: do not wait for that one.
    await Promise.race([Promise.all(pulls), this.puller.waitReady(max, IMMEDIATE_MS)]);
  }

  /**
   * Waits up to `waitMs` for a record, with a request open on every sub-consumer for the whole
   * wait (renewed when one is over early), so a record appended to any of them comes at once.
   * Sharing `max` among them in rotation, as pullNow does, left some without a request (the
   * unkeyed consumer's batch took it all): a record appended there waited for a later fetch
   * whose rotation reached it, 1-2 s in the changeprop loop. So this may ask for more than
   * `max` in all; what comes beyond it stays in `ready` for the next fetch.
   */
  private async pullWait(max: number, waitMs: number): Promise<void> {
    const deadline = performance.now() + waitMs;
    const unlimited = this.subs.filter((s) => !s.limited).length;
    const share = Math.max(1, Math.ceil(max / Math.max(1, unlimited)));
    for (;;) {
      const began = performance.now();
      const left = deadline - began;
      if (this.puller.ready.length > 0 || left < 1 || this.closed) break;
      for (const s of this.subs) {
        if (this.puller.busy(s.stream, s.durable)) continue;
        void this.puller.pull(s.stream, s.durable, s.limited ? 1 : Math.min(s.batch, share), left, s.limited);
      }
      await this.puller.waitAny(left); // a message, a request over, or the deadline
      // A request refused at once (409 …) must not turn this into a busy loop.
      const spent = performance.now() - began;
      if (this.puller.ready.length === 0 && spent < 20) await new Promise((r) => setTimeout(r, Math.min(20 - spent, deadline - performance.now())));
    }
    // One more turn, to take what came with the first message.
    await new Promise((r) => setImmediate(r));
  }

  async fetch(max: number, waitMs: number): Promise<LogRecord[]> {
    if (this.closed) throw new CascadeError(LogErrors.closed, 'the consumer is closed');
    if (!(max > 0)) return [];
    const ready = this.puller.ready;
    if (ready.length < max) await this.pullNow(max);
    if (ready.length === 0 && waitMs > 0 && !this.closed) await this.pullWait(max, waitMs);
    return this.deliver(ready.splice(0, max));
  }

  async ack(records: LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    let sent = false;
    for (const r of records) {
      const k = `${r.topic}\u0000${r.offset}`;
      const reply = this.outstanding.get(k);
      if (!reply) continue;
      this.outstanding.delete(k);
      this.log.nc.publish(reply, ACK_BODY);
      sent = true;
    }
    // The acks are applied once the server answered the PING behind them.
    if (sent) await this.log.nc.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.log.forget(this);
    // Hand back what this member holds, so another member gets it at once.
    for (const m of this.puller.ready.splice(0)) if (m.reply) this.log.nc.publish(m.reply, '-NAK');
    for (const reply of this.outstanding.values()) this.log.nc.publish(reply, '-NAK');
    this.outstanding.clear();
    this.puller.close();
    await this.log.nc.flush().catch(() => {});
  }
}

/** Deletes every stream whose name starts with `<prefix>_` (tests and benchmarks clean up). */
export async function deleteStreamsWithPrefix(url: string, prefix: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    let n = 0;
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`${prefix}_`)) {
        await jsm.streams.delete(name);
        n++;
      }
    }
    return n;
  } finally {
    await nc.close();
  }
}
