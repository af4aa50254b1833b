// Retry delays, one registry: `fixed`, `exponential` (factor, jitter, cap). Every strategy is
// Retry-After aware: a server's Retry-After wins when it asks for longer, within the cap.

export interface RetryHint {
  /** What the server asked for (Retry-After), in ms. */
  retryAfterMs?: number;
}

export interface BackoffStrategy {
  /** Delay in ms before retry number `attempt` (0: the first retry). */
  delay(attempt: number, hint?: RetryHint): number;
}

export interface FixedBackoff {
  kind: 'fixed';
  delayMs: number;
  /** Upper bound of a Retry-After (default 60 s). */
  maxMs?: number;
}

export interface ExponentialBackoff {
  kind: 'exponential';
  initialMs: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Upper bound of any delay, Retry-After included. */
  maxMs: number;
  /** 0..1: the delay is spread uniformly over ±jitter of itself (default 0). */
  jitter?: number;
}

export type BackoffSpec = FixedBackoff | ExponentialBackoff;

type Factory<S> = (spec: S, random: () => number) => (attempt: number) => number;

const DEFAULT_RETRY_AFTER_CAP_MS = 60_000;

const registry = new Map<string, { factory: Factory<never>; cap: (spec: never) => number }>();

/** Adds a strategy kind (the built-in ones are `fixed` and `exponential`). */
export function registerBackoff<S extends { kind: string; maxMs?: number }>(kind: S['kind'], factory: Factory<S>): void {
  registry.set(kind, { factory: factory as Factory<never>, cap: ((s: S) => s.maxMs ?? DEFAULT_RETRY_AFTER_CAP_MS) as (spec: never) => number });
}

registerBackoff<FixedBackoff>('fixed', (s) => () => s.delayMs);
registerBackoff<ExponentialBackoff>('exponential', (s, random) => (attempt) => {
  let d = Math.min(s.maxMs, s.initialMs * Math.pow(s.factor ?? 2, Math.max(0, attempt)));
  const j = s.jitter ?? 0;
  if (j > 0) d = d * (1 - j + 2 * j * random());
  return Math.min(s.maxMs, d);
});

/** The strategy for a spec; `random` is injectable for tests. */
export function backoff(spec: BackoffSpec | { kind: string; maxMs?: number; [k: string]: unknown }, random: () => number = Math.random): BackoffStrategy {
  const entry = registry.get(spec.kind);
  if (!entry) throw new RangeError(`unknown backoff kind: ${spec.kind}`);
  const base = entry.factory(spec as never, random);
  const cap = entry.cap(spec as never);
  return {
    delay(attempt, hint) {
      let d = base(attempt);
      if (hint?.retryAfterMs !== undefined && hint.retryAfterMs > d) d = Math.min(cap, hint.retryAfterMs);
      return Math.max(0, Math.round(d));
    },
  };
}

/**
 * A loop's retry state: `next()` gives the next delay and counts the attempt, `reset()` after
 * a success starts again from the first delay.
 */
export class Backoff {
  private attempt = 0;
  readonly strategy: BackoffStrategy;

  constructor(spec: BackoffSpec | BackoffStrategy, random?: () => number) {
    this.strategy = 'delay' in spec ? spec : backoff(spec, random);
  }

  next(hint?: RetryHint): number {
    return this.strategy.delay(this.attempt++, hint);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

/**
 * A Retry-After header value in ms (delta-seconds or an HTTP date), or undefined when absent
 * or unreadable.
 */
export function parseRetryAfter(value: string | string[] | null | undefined, now = Date.now()): number | undefined {
  const s = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!s) return undefined;
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}
