// The change-propagation engine: one consumer group per rule on the durable log.
//
// Delivery: a record is acked only after its exec succeeded, was ignored, was scheduled for
// retry (a retry event appended durably to the rule's retry stream) or went to the rule's
// dead-letter stream; a crash replays from the last ack (at least once).
// Retries wait on timers, outside the concurrency slots: a delayed retry record stays
// unacked (leased to us for up to the backoff cap) and takes a slot only when due.
import { randomUUID } from 'node:crypto';
import type { Consumer, EventLog, LogRecord } from '../events/log/types.ts';
import { isCascadeError } from '../errors/index.ts';
import { routeEvent, resolveRuleStreams, type Rule, type RouteResult } from './rule.ts';
import type { Dispatch } from '../router/inprocess.ts';
import { HttpExecutor, HostAllowList, type ExecResponse } from './http.ts';
import type { Scope } from './expr.ts';
import { SysModules, CONTINUE_STREAM, TRANSCLUDES_STREAM, type SysOptions } from './sys.ts';
import { propagationLag } from './metrics.ts';
import { EventSigner } from './signing.ts';
import { wellFormed } from './template.ts';
import { ConsumerLoop } from '../util/consumer-loop.ts';
import { Acker, Slots, TokenBucket, WindowMap } from './flow-control.ts';
import { backoff, parseRetryAfter, type BackoffStrategy } from '../util/backoff.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { asLogger, type Logger } from '../util/logger.ts';
import { CHANGEPROP_DEFAULTS as D } from './config.ts';

export interface EngineOptions {
  log: EventLog;
  rules: Rule[];
  /**
   * The configured domains: an event whose `meta.domain` is not one of them is refused
   * (dead-lettered, counted as `refused`) before any rule matches it.
   */
  domains: string[];
  /** Key of the HMAC that authenticates Cascade's own retry and continuation events (signing.ts). */
  signingKey: Buffer | string;
  /** This datacenter: retry and dead-letter streams are written here. */
  datacenter: string;
  /** Datacenters whose topics are consumed (default: this one). */
  datacenters?: string[];
  /** Stream names `/regex/` topics resolve against. */
  knownStreams?: string[];
  allowedHosts: string[];
  baseUri?: string;
  concurrency?: number;
  retryStream?: string;
  dlqStream?: string;
  dedupeWindowMs?: number;
  retryMaxDelayMs?: number;
  userAgent?: string;
  /** Records fetched per call (bounded by free slots). */
  fetchBatch?: number;
  /** Where a new consumer group starts (default: earliest). */
  startAt?: 'earliest' | 'latest';
  logger?: Logger;
  /** Time for retries, dedupe windows, circuit breakers and rate limits (tests advance it). */
  clock?: Clock;
  /** Entries kept per dedupe window (meta.id and superseded roots), default 200,000. */
  dedupeMaxEntries?: number;
  /** In-process `/sys/links/…` and `/sys/purge` exec targets (template fan-out, CDN purges). */
  sys?: SysOptions;
  /** Outbound HTTP: keep-alive connections per host and requests pipelined per connection. */
  http?: { connections?: number; pipelining?: number };
  /** Cascade's own handler: relative exec URIs are dispatched through it in process (http.ts). */
  local?: Dispatch;
}

export interface RuleStats {
  received: number;
  matched: number;
  executed: number;
  succeeded: number;
  ignored: number;
  retried: number;
  dead: number;
  deduped: number;
  superseded: number;
  loops: number;
  parked: number;
  /** Events refused before matching: `meta.domain` not a configured domain. */
  refused: number;
  /** Retry and continuation events dropped (dead-lettered) for a missing or wrong signature. */
  forged: number;
  /** Exceptions while matching, templating or executing that became a dead letter or a retry. */
  faults: number;
}

/** A durable write (retry event, dead letter) failed: the record stays unacked, for redelivery. */
class DurableWriteError extends Error {}

/** Streams only Cascade writes to; their events must carry a valid signature. */
const SIGNED_STREAMS = new Set([CONTINUE_STREAM, TRANSCLUDES_STREAM]);

const MAX_CHAIN = 16;
/** Default bound of each dedupe window's entries (EngineOptions.dedupeMaxEntries). */
const DEDUPE_MAX = 200_000;

export function groupName(rule: string): string {
  return `changeprop-${rule}`;
}
export function retryTopic(dc: string, stream: string, rule: string): string {
  return `${dc}.${stream}.${rule}`;
}
export function dlqTopic(dc: string, stream: string, rule: string): string {
  return `${dc}.${stream}.${rule}`;
}

interface Outcome {
  kind: 'success' | 'ignored' | 'retry' | 'dead';
  status?: number;
  res?: ExecResponse;
  reason?: string;
  /** Refused at the gate: not a configured domain. */
  refused?: boolean;
  /** Refused at the gate: a signed stream's event without a valid signature. */
  forged?: boolean;
}

/** Shared: the outcome of most events, read and never changed. */
const SUCCESS: Outcome = Object.freeze({ kind: 'success' });

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).slice(0, 500);

async function durably<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    throw new DurableWriteError(errText(e), { cause: e });
  }
}

class RuleRunner {
  readonly stats: RuleStats = { received: 0, matched: 0, executed: 0, succeeded: 0, ignored: 0, retried: 0, dead: 0, deduped: 0, superseded: 0, loops: 0, parked: 0, refused: 0, forged: 0, faults: 0 };
  private readonly slots: Slots;
  private readonly seen: WindowMap;
  private readonly rootDone: WindowMap;
  private readonly keyChains = new Map<string, Promise<void>>();
  private readonly breaker = new Map<string, { failures: number; parkedUntil: number }>();
  private readonly bucket?: TokenBucket;
  private readonly inFlight = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = false;
  private loops: ConsumerLoop<LogRecord>[] = [];
  private consumers: Consumer[] = [];
  private active = 0;
  private idle: (() => void)[] = [];
  readonly topics: string[];
  readonly retryTopic: string;
  readonly dlqTopic: string;
  readonly emitterId: string;
  private readonly maxDelay: number;
  private readonly retryDelay: BackoffStrategy;
  /** The lag histogram's label values (one array for every observation). */
  private readonly lagLabels: readonly string[];

  /** Executions holding a concurrency slot now (metrics). */
  get inFlightCount(): number {
    return this.slots.used;
  }

  constructor(
    readonly rule: Rule,
    private readonly e: Required<Pick<EngineOptions, 'log' | 'datacenter' | 'concurrency' | 'retryStream' | 'dlqStream' | 'dedupeWindowMs' | 'retryMaxDelayMs' | 'fetchBatch' | 'startAt'>> & {
      datacenters: string[];
      knownStreams: string[];
      logger: Logger;
      clock: Clock;
      dedupeMaxEntries: number;
      domains: Set<string>;
      signer: EventSigner;
    },
    private readonly http: HttpExecutor,
    private readonly sys?: SysModules,
  ) {
    this.slots = new Slots(rule.concurrency ?? e.concurrency);
    this.seen = new WindowMap(e.dedupeWindowMs, e.dedupeMaxEntries);
    this.rootDone = new WindowMap(e.dedupeWindowMs, e.dedupeMaxEntries);
    if (rule.rateLimit) this.bucket = new TokenBucket(rule.rateLimit.perSecond, rule.rateLimit.burst, e.clock);
    const streams = resolveRuleStreams(rule, e.knownStreams);
    this.topics = e.datacenters.flatMap((dc) => streams.map((s) => `${dc}.${s}`));
    this.retryTopic = retryTopic(e.datacenter, e.retryStream, rule.name);
    this.dlqTopic = dlqTopic(e.datacenter, e.dlqStream, rule.name);
    this.emitterId = `change-prop#${rule.name}`;
    this.lagLabels = [rule.name];
    this.maxDelay = rule.retryMaxDelay ?? e.retryMaxDelayMs;
    this.retryDelay = backoff({ kind: 'exponential', initialMs: rule.retryDelay, factor: rule.retryFactor, jitter: rule.retryJitter, maxMs: this.maxDelay });
  }

  async start(): Promise<void> {
    this.running = true;
    // A record not acked within ackWait is redelivered: longer than the worst exec chain.
    const execWait = this.rule.timeout * Math.max(1, ...this.rule.cases.map((c) => c.exec.length)) + 5_000;
    if (this.topics.length) {
      const main = await this.e.log.consumer(groupName(this.rule.name), this.topics, { startAt: this.e.startAt, ackWaitMs: execWait });
      this.consumers.push(main);
      // Fetch no more than the free slots take; wait for one before fetching.
      this.loops.push(
        this.consume(main, {
          what: 'changeprop',
          batch: () => Math.max(1, Math.min(this.e.fetchBatch, this.slots.free())),
          take: (recs, acker) => this.takeMain(recs, acker),
          ready: () => this.slots.whenFree(),
        }),
      );
    }
    const retry = await this.e.log.consumer(`${groupName(this.rule.name)}-retry`, [this.retryTopic], { startAt: 'earliest', ackWaitMs: this.maxDelay + execWait });
    this.consumers.push(retry);
    // Retries wait on timers, outside the slots: fetch whole batches.
    this.loops.push(this.consume(retry, { what: 'changeprop retry', batch: () => this.e.fetchBatch, take: (recs, acker) => this.takeRetries(recs, acker) }));
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled(this.loops.map((l) => l.stop()));
    if (this.active > 0) await new Promise<void>((r) => this.idle.push(r));
    for (const c of this.consumers) await c.close().catch(() => {});
  }

  private track<T>(p: Promise<T>): void {
    this.active++;
    void p.finally(() => this.untrack());
  }

  private untrack(): void {
    this.active--;
    if (this.active === 0) for (const r of this.idle.splice(0)) r();
  }

  /** A main-stream record is done (acked or left for redelivery): its slot and tracking end. */
  private doneMain(id: string): void {
    this.inFlight.delete(id);
    this.slots.release();
    this.untrack();
  }

  /** The main and retry consumers run the same loop; they differ in batch size, gate and handling. */
  private consume(
    consumer: Consumer,
    o: { what: string; batch: () => number; take: (recs: LogRecord[], acker: Acker) => Promise<void> | void; ready?: () => Promise<void> },
  ): ConsumerLoop<LogRecord> {
    const acker = new Acker(consumer, (err) => this.e.logger(`${o.what} ack failed`, { rule: this.rule.name, error: String(err) }));
    return new ConsumerLoop<LogRecord>({
      fetch: () => consumer.fetch(o.batch(), 200),
      handle: (recs) => o.take(recs, acker),
      ...(o.ready ? { ready: o.ready } : {}),
      onError: (err) => this.e.logger(`${o.what} fetch failed`, { rule: this.rule.name, error: String(err) }),
      onStop: () => acker.flush(),
    }).start();
  }

  private async takeMain(recs: LogRecord[], acker: Acker): Promise<void> {
    for (const rec of recs) {
      const id = `${rec.topic}@${rec.offset}`;
      if (this.inFlight.has(id)) continue; // redelivered while we still work on it
      this.stats.received++;
      const parsed = parse(rec);
      let route: RouteResult | undefined;
      let refusal: Outcome | undefined;
      if (parsed.ok) {
        try {
          // Events stay data: a refused event never reaches a rule's match or templates.
          refusal = this.admit(rec.topic, parsed.value);
          if (refusal?.kind === 'ignored') {
            acker.add(rec); // a canary event the rule discards
            continue;
          }
          if (!refusal) route = routeEvent(this.rule, parsed.value);
        } catch (err) {
          this.stats.faults++;
          refusal = { kind: 'dead', status: 500, reason: `matching failed: ${errText(err)}` };
        }
        if (!refusal && !route) {
          acker.add(rec); // not for this rule: nothing to do, no slot taken
          continue;
        }
      }
      this.inFlight.add(id);
      if (!this.slots.tryAcquire()) await this.slots.acquire();
      // One settlement per event (the hot path): ack or log, then free the slot.
      this.active++;
      this.handle(rec, parsed, route, refusal).then(
        () => {
          acker.add(rec);
          this.doneMain(id);
        },
        (err: unknown) => {
          this.e.logger('changeprop event failed (left unacked for redelivery)', { rule: this.rule.name, offset: rec.offset, error: String(err) });
          this.doneMain(id);
        },
      );
    }
  }

  private takeRetries(recs: LogRecord[], acker: Acker): void {
    for (const rec of recs) {
      const id = `${rec.topic}@${rec.offset}`;
      if (this.inFlight.has(id)) continue;
      const parsed = parse(rec);
      if (!parsed.ok) {
        acker.add(rec); // not a retry event at all
        continue;
      }
      const retry = parsed.value as RetryEvent;
      this.inFlight.add(id);
      // Only Cascade's own retries for this rule run; a forged or pre-signing one is
      // dead-lettered (its original event kept there, for `cascade dlq replay` after a review).
      const original = retry.original_event !== null && typeof retry.original_event === 'object' && !Array.isArray(retry.original_event);
      const genuine = original && retry.emitter_id === this.emitterId && this.e.signer.verify(retry);
      // A genuine retry is due when it says, within the backoff cap.
      const due = genuine ? Math.min(Date.parse(String(retry.retry_at ?? '')) || 0, this.e.clock.now() + this.maxDelay) : 0;
      const run = () => {
        this.track(
          (async () => {
            await this.slots.acquire();
            try {
              if (genuine) await this.handleRetry(retry);
              else
                await this.refuseForged(
                  original ? JSON.stringify(retry.original_event) : parsed.raw,
                  original ? (retry.original_event as EventLike) : undefined,
                  `retry event without a valid signature for ${this.emitterId} (forged, or written before retry events were signed)`,
                );
              acker.add(rec);
            } catch (err) {
              this.e.logger('changeprop retry failed (left unacked for redelivery)', { rule: this.rule.name, error: String(err) });
            } finally {
              this.slots.release();
              this.inFlight.delete(id);
            }
          })(),
        );
      };
      const wait = due - this.e.clock.now();
      if (wait <= 0) run();
      else {
        // Waiting holds no slot: just a timer.
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (this.running) run();
          else this.inFlight.delete(id);
        }, wait);
        this.timers.add(t);
      }
    }
  }

  /** One event from a source topic. Resolves when it may be acked. */
  /**
   * The gate before any rule sees an event: undefined when admitted, `ignored` for a canary
   * event the rule discards, else the refusal (dead letter).
   */
  private admit(topic: string, ev: unknown): Outcome | undefined {
    const meta = (ev as EventLike).meta;
    const domain = meta !== null && typeof meta === 'object' ? meta.domain : undefined;
    if (domain === 'canary' && this.rule.discardCanaryEvents) return { kind: 'ignored' };
    if (typeof domain !== 'string' || !this.e.domains.has(domain)) {
      return { kind: 'dead', status: 400, reason: `meta.domain ${JSON.stringify(typeof domain === 'string' ? domain.slice(0, 200) : domain ?? null)} is not a configured domain`, refused: true };
    }
    const stream = topic.slice(topic.indexOf('.') + 1);
    if (SIGNED_STREAMS.has(stream) && !this.e.signer.verify(ev)) {
      return { kind: 'dead', status: 401, reason: `event on ${stream} without a valid signature (only Cascade writes to it)`, forged: true };
    }
    return undefined;
  }

  private async refuseForged(raw: string, msg: EventLike | undefined, reason: string): Promise<void> {
    this.stats.forged++;
    this.e.logger('changeprop refused an event', { rule: this.rule.name, reason });
    await this.deadLetter(raw, msg, { kind: 'dead', status: 401, reason }, 0);
  }

  private async handle(rec: LogRecord, parsed: Parsed, route: RouteResult | undefined, refusal?: Outcome): Promise<void> {
    if (!parsed.ok) {
      await this.deadLetter(parsed.raw, undefined, { kind: 'dead', reason: `unparseable event: ${parsed.error}` }, 0);
      return;
    }
    const msg = parsed.value as EventLike;
    if (refusal) {
      if (refusal.forged) return this.refuseForged(parsed.raw, msg, refusal.reason ?? 'forged');
      if (refusal.refused) {
        this.stats.refused++;
        this.e.logger('changeprop refused an event', { rule: this.rule.name, reason: refusal.reason });
      }
      await this.deadLetter(parsed.raw, msg, refusal, 0);
      return;
    }
    try {
      await this.handleAdmitted(rec, parsed.raw, msg, route!);
    } catch (err) {
      if (err instanceof DurableWriteError) throw err; // unacked: redelivered once the log is back
      // Whatever else went wrong with this event, it must not come back forever.
      this.stats.faults++;
      this.e.logger('changeprop event failed (dead-lettered)', { rule: this.rule.name, error: errText(err) });
      await this.deadLetter(parsed.raw, msg, { kind: 'dead', status: 500, reason: `internal error: ${errText(err)}` }, 0);
    }
  }

  private async handleAdmitted(rec: LogRecord, raw: string, msg: EventLike, route: RouteResult): Promise<void> {
    this.stats.matched++;
    const now = this.e.clock.now();
    const id = msg.meta?.id;
    if (typeof id === 'string' && this.seen.get(id, now) !== undefined) {
      this.stats.deduped++;
      return;
    }
    // Superseded: an execution for the same signature already came from a strictly newer root
    // event (change-prop's rule). Not "older than our last execution time": MediaWiki's times
    // are whole seconds, so a second edit in the same second would look already handled.
    const sig = rootSignature(msg);
    if (sig) {
      const done = this.rootDone.get(sig.key, now);
      if (done !== undefined && sig.dt < done) {
        this.stats.superseded++;
        return;
      }
    }
    const chain = triggeredBy(msg, rec.topic);
    if (chain.loop) {
      this.stats.loops++;
      this.e.logger('changeprop loop stopped', { rule: this.rule.name, chain: chain.value });
      await this.deadLetter(raw, msg, { kind: 'dead', status: 508, reason: `loop detected: ${chain.value}` }, 0);
      return;
    }
    await this.run(route, msg, raw, this.rule.retryLimit, chain.value);
    if (typeof id === 'string') this.seen.set(id, this.e.clock.now());
    if (sig) this.rootDone.set(sig.key, Math.max(sig.dt, this.rootDone.get(sig.key, now) ?? -Infinity));
  }

  private async handleRetry(retry: RetryEvent): Promise<void> {
    const msg = retry.original_event as EventLike;
    let raw = '';
    try {
      raw = JSON.stringify(msg);
      // The domain may have been removed from the config since.
      const refusal = this.admit('', msg);
      if (refusal?.kind === 'ignored') return;
      if (refusal) {
        this.stats.refused++;
        await this.deadLetter(raw, msg, refusal, 0);
        return;
      }
      const route = routeEvent(this.rule, msg);
      if (!route) return; // the rule changed since: nothing to do
      // retries_left counts this attempt (Wikimedia's convention): after it, one fewer is left;
      // never more than the rule allows, whatever the event says.
      const left = Math.min(this.rule.retryLimit, Math.max(0, Math.floor(Number(retry.retries_left) || 0) - 1));
      await this.run(route, msg, raw, left, typeof retry.triggered_by === 'string' ? retry.triggered_by : '');
    } catch (err) {
      if (err instanceof DurableWriteError) throw err;
      this.stats.faults++;
      this.e.logger('changeprop retry failed (dead-lettered)', { rule: this.rule.name, error: errText(err) });
      await this.deadLetter(raw, msg, { kind: 'dead', status: 500, reason: `internal error: ${errText(err)}` }, this.rule.retryLimit);
    }
  }

  /**
   * Executes (ordered per key when order_by is set) and records the outcome durably.
   * `retriesLeft`: retries still allowed after this attempt.
   */
  private run(route: RouteResult, msg: EventLike, raw: string, retriesLeft: number, chain: string): Promise<void> {
    const key = this.rule.orderBy ? String(this.rule.orderBy(route.scope)) : undefined;
    if (key === undefined) return this.runOnce(route, msg, raw, retriesLeft, chain);
    const prev = this.keyChains.get(key) ?? Promise.resolve();
    const mine = prev.then(() => this.runOnce(route, msg, raw, retriesLeft, chain));
    const tail = mine.catch(() => {});
    this.keyChains.set(key, tail);
    void tail.then(() => {
      if (this.keyChains.get(key) === tail) this.keyChains.delete(key);
    });
    return mine;
  }

  private breakerKey(scope: Scope, msg: EventLike): string {
    const cb = this.rule.circuitBreaker;
    if (cb?.key) return String(cb.key(scope));
    if (this.rule.orderBy) return String(this.rule.orderBy(scope));
    return String(msg.meta?.uri ?? '');
  }

  private async runOnce(route: RouteResult, msg: EventLike, raw: string, retriesLeft: number, chain: string): Promise<void> {
    const cb = this.rule.circuitBreaker;
    const bkey = cb ? this.breakerKey(route.scope, msg) : '';
    if (cb) {
      const st = this.breaker.get(bkey);
      if (st && st.parkedUntil > this.e.clock.now()) {
        // Parked key: come back when the breaker closes, without spending a retry.
        this.stats.parked++;
        await this.scheduleRetry(msg, retriesLeft + 1, chain, st.parkedUntil - this.e.clock.now(), 'circuit open', false);
        return;
      }
    }
    const outcome = await this.exec(route, msg, chain);
    if (cb) {
      const st = this.breaker.get(bkey) ?? { failures: 0, parkedUntil: 0 };
      if (outcome.kind === 'retry' || (outcome.kind === 'dead' && (outcome.status ?? 0) >= 500)) {
        st.failures++;
        if (st.failures >= cb.failures) {
          st.parkedUntil = this.e.clock.now() + cb.parkMs;
          st.failures = 0;
        }
        this.breaker.set(bkey, st);
      } else this.breaker.delete(bkey);
    }
    switch (outcome.kind) {
      case 'success': {
        this.stats.succeeded++;
        const dt = Date.parse(String(msg.meta?.dt ?? ''));
        if (!Number.isNaN(dt)) propagationLag.observe(this.lagLabels, Math.max(0, this.e.clock.now() - dt) / 1000);
        return;
      }
      case 'ignored':
        this.stats.ignored++;
        return;
      case 'retry':
        if (retriesLeft > 0) {
          await this.scheduleRetry(msg, retriesLeft, chain, this.backoff(retriesLeft, outcome.res), outcome.reason ?? '', true);
          return;
        }
        await this.deadLetter(raw, msg, outcome, this.rule.retryLimit - retriesLeft);
        return;
      case 'dead':
        await this.deadLetter(raw, msg, outcome, this.rule.retryLimit - retriesLeft);
    }
  }

  /** Delay before the next attempt: exponential, capped, jittered; Retry-After wins when longer. */
  backoff(retriesLeft: number, res?: ExecResponse): number {
    const ra = res ? parseRetryAfter(res.headers['retry-after'], this.e.clock.now()) : undefined;
    return this.retryDelay.delay(Math.max(0, this.rule.retryLimit - retriesLeft), ra !== undefined ? { retryAfterMs: ra } : undefined);
  }

  private async exec(route: RouteResult, msg: EventLike, chain: string): Promise<Outcome> {
    this.stats.executed++;
    for (const tpl of route.ruleCase.exec) {
      if (this.bucket) await this.bucket.take();
      let res: ExecResponse;
      try {
        const req = tpl.expand(route.scope);
        res =
          this.sys && SysModules.handles(req.uri)
            ? await this.sys.handle(req, chain, this.rule.timeout)
            : await this.http.send(req, { 'x-request-id': headerSafe(str(msg.meta?.request_id) ?? ''), 'x-triggered-by': headerSafe(chain) }, this.rule.timeout);
      } catch (err) {
        // Template errors and forbidden hosts cannot succeed on retry; anything else might.
        if (isCascadeError(err) && err.status < 500) return { kind: 'dead', status: err.status, reason: err.message };
        this.stats.faults++;
        return { kind: 'retry', status: 503, reason: `exec failed: ${errText(err)}` };
      }
      if (res.status < 400) continue;
      const reason = res.error ?? `HTTP ${res.status}${typeof res.body === 'object' && res.body && 'title' in res.body ? `: ${String((res.body as { title: unknown }).title)}` : ''}`;
      if (this.rule.shouldIgnore(res)) return { kind: 'ignored', status: res.status, res };
      if (this.rule.shouldRetry(res)) return { kind: 'retry', status: res.status, res, reason };
      return { kind: 'dead', status: res.status, res, reason };
    }
    return SUCCESS;
  }

  /** Appends a retry event; `retriesLeft` is its `retries_left` (attempts left including it). */
  private async scheduleRetry(msg: EventLike, retriesLeft: number, chain: string, delayMs: number, reason: string, counted: boolean): Promise<void> {
    const now = this.e.clock.now();
    const ev: RetryEvent = {
      $schema: '/change-prop/retry/1.0.0',
      meta: { stream: `${this.e.retryStream}.${this.rule.name}`, id: randomUUID(), dt: new Date(now).toISOString(), uri: str(msg.meta?.uri), domain: str(msg.meta?.domain), request_id: str(msg.meta?.request_id) },
      emitter_id: this.emitterId,
      retries_left: retriesLeft,
      original_event: msg,
      reason,
      triggered_by: chain,
      retry_at: new Date(now + delayMs).toISOString(),
    };
    const value = Buffer.from(JSON.stringify(this.e.signer.sign(ev)));
    await durably(() => this.e.log.append(this.retryTopic, [{ id: ev.meta.id, value }]));
    if (counted) this.stats.retried++;
  }

  private async deadLetter(raw: string, msg: EventLike | undefined, o: Outcome, retriesDone: number): Promise<void> {
    const now = new Date();
    const id = randomUUID();
    const ev = {
      $schema: '/error/1.0.0',
      meta: { stream: `${this.e.dlqStream}.${this.rule.name}`, id, dt: now.toISOString(), uri: str(msg?.meta?.uri), domain: str(msg?.meta?.domain) },
      emitter_id: this.emitterId,
      rule: this.rule.name,
      errored_stream_name: str(msg?.meta?.stream),
      raw_event: raw,
      message: o.reason ?? 'failed',
      status: o.status,
      retries: Math.max(0, retriesDone),
      response: o.res ? { status: o.res.status, headers: pickHeaders(o.res.headers), body: o.res.body } : undefined,
    };
    await durably(() => this.e.log.append(this.dlqTopic, [{ id, value: Buffer.from(JSON.stringify(ev)) }]));
    this.stats.dead++;
  }
}

export class ChangePropEngine {
  readonly runners: RuleRunner[];
  private readonly http: HttpExecutor;
  readonly sys?: SysModules;
  private started = false;

  constructor(opts: EngineOptions) {
    const allowed = new HostAllowList(opts.allowedHosts);
    if (opts.baseUri) allowed.add(opts.baseUri);
    for (const t of opts.sys?.purge?.targets ?? []) allowed.add(t);
    for (const o of Object.values(opts.sys?.origins ?? {})) allowed.add(o);
    // A template whose host comes from the event may reach only the domains and their origins.
    const variableHosts = new HostAllowList([...opts.domains, ...Object.values(opts.sys?.origins ?? {})]);
    this.http = new HttpExecutor({ allowed, variableHosts, baseUri: opts.baseUri, userAgent: opts.userAgent ?? D.user_agent, ...opts.http, ...(opts.local ? { local: opts.local } : {}) });
    const signer = new EventSigner(opts.signingKey);
    if (opts.sys) this.sys = new SysModules(opts.sys, { log: opts.log, datacenter: opts.datacenter, http: this.http, signer });
    const e = {
      log: opts.log,
      datacenter: opts.datacenter,
      datacenters: opts.datacenters?.length ? opts.datacenters : [opts.datacenter],
      knownStreams: opts.knownStreams ?? [],
      concurrency: opts.concurrency ?? D.concurrency,
      retryStream: opts.retryStream ?? D.retry_stream,
      dlqStream: opts.dlqStream ?? D.dlq_stream,
      dedupeWindowMs: opts.dedupeWindowMs ?? D.dedupe_window_seconds * 1000,
      retryMaxDelayMs: opts.retryMaxDelayMs ?? D.retry_max_delay_ms,
      fetchBatch: opts.fetchBatch ?? 256,
      startAt: opts.startAt ?? 'earliest',
      logger: asLogger(opts.logger),
      clock: opts.clock ?? systemClock,
      dedupeMaxEntries: opts.dedupeMaxEntries ?? DEDUPE_MAX,
      domains: new Set(opts.domains),
      signer,
    };
    this.runners = opts.rules.map((r) => new RuleRunner(r, e, this.http, this.sys));
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const r of this.runners) await r.start();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await Promise.all(this.runners.map((r) => r.stop()));
    await this.sys?.close();
    await this.http.close();
  }

  stats(): Record<string, RuleStats> {
    const out: Record<string, RuleStats> = {};
    for (const r of this.runners) out[r.rule.name] = { ...r.stats };
    return out;
  }

  runner(name: string): RuleRunner | undefined {
    return this.runners.find((r) => r.rule.name === name);
  }
}

// ---- event helpers ----

interface EventLike {
  meta?: { id?: unknown; uri?: unknown; domain?: unknown; stream?: unknown; request_id?: unknown; dt?: unknown };
  triggered_by?: unknown;
  root_event?: { signature?: unknown; dt?: unknown };
  [k: string]: unknown;
}

export interface RetryEvent {
  $schema: string;
  meta: { stream: string; id: string; dt: string; uri?: string; domain?: string; request_id?: string };
  emitter_id: string;
  retries_left: number;
  original_event: unknown;
  reason?: string;
  triggered_by?: string;
  /** When the retry is due (ISO time): our extension of the change-prop/retry shape. */
  retry_at?: string;
}

type Parsed = { ok: true; value: unknown; raw: string } | { ok: false; raw: string; error: string };

function parse(rec: LogRecord): Parsed {
  const raw = rec.value.toString('utf8');
  try {
    const value = JSON.parse(raw);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, raw, error: 'not a JSON object' };
    return { ok: true, value, raw };
  } catch (e) {
    return { ok: false, raw, error: (e as Error).message };
  }
}

/** Event text as a header value: what is not printable ASCII is percent-encoded (no CR/LF, nothing undici refuses). */
export function headerSafe(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) ? s : wellFormed(s).replace(/[^\x20-\x7e]/gu, (c) => encodeURIComponent(c));
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : v === undefined || v === null ? undefined : String(v));

function rootSignature(msg: EventLike): { key: string; dt: number } | undefined {
  const r = msg.root_event;
  if (!r || typeof r.signature !== 'string') return undefined;
  const dt = Date.parse(String(r.dt ?? ''));
  return Number.isNaN(dt) ? undefined : { key: r.signature, dt };
}

/**
 * The `x-triggered-by` chain for an event: its own chain plus `topic:uri`. A step that is
 * already in the chain, or a chain too long, is a loop.
 */
export function triggeredBy(msg: EventLike, topic: string): { value: string; loop: boolean } {
  const stream = str(msg.meta?.stream) ?? topic;
  const step = `${stream}:${str(msg.meta?.uri) ?? ''}`;
  // Most events start a chain.
  if (typeof msg.triggered_by !== 'string' || !msg.triggered_by) return { value: step, loop: false };
  const prev = msg.triggered_by.split(',').map((s) => s.trim()).filter(Boolean);
  const loop = prev.includes(step) || prev.length >= MAX_CHAIN;
  return { value: [...prev, step].join(','), loop };
}

function pickHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['content-type', 'retry-after', 'x-request-id', 'etag']) {
    const v = h[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
