// Per-client token buckets. A client is its address (or, behind a proxy on loopback, the
// address the proxy forwards for). Each rate class (declared by a capability, see scopes.ts)
// has its own rate and burst; a request finding its bucket empty gets 429 with Retry-After.
import { CascadeError, Errors } from '../errors/index.ts';
import { BoundedMap } from '../util/bounded-map.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import type { RequestContext } from './router.ts';
import { isLoopback } from './server.ts';

/** Content's classes (content.rate_limit.classes). */
export type RateClass = 'read' | 'render' | 'write';

export interface RateClassConfig {
  /** Tokens per second. */
  rate: number;
  burst: number;
}

export interface RateLimitOptions {
  enabled: boolean;
  /** Rate-limit loopback callers too (off by default: they are local services and benchmarks). */
  includeLoopback: boolean;
  classes: Record<string, RateClassConfig>;
  /** Buckets kept at once (least recently used dropped: they would have refilled anyway). */
  maxClients: number;
  clock?: Clock;
}

interface BucketState {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets: BoundedMap<string, BucketState>;
  private readonly clock: Clock;
  rejected = 0;

  constructor(readonly opts: RateLimitOptions) {
    this.clock = opts.clock ?? systemClock;
    this.buckets = new BoundedMap({ maxEntries: opts.maxClients });
  }

  /** Takes one token; returns 0 when allowed, otherwise the seconds until a token is available. */
  take(client: string, cls: string): number {
    const c = this.opts.classes[cls];
    if (!c) throw new RangeError(`undeclared rate class ${cls}`);
    const { rate, burst } = c;
    const key = cls + ' ' + client;
    const now = this.clock.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    this.rejected++;
    return Math.max(1, Math.ceil((1 - b.tokens) / rate));
  }

  /** Takes one token or throws the 429 (CASCADE_RATE_LIMITED with retry_after). */
  check(client: string, cls: string): void {
    const wait = this.take(client, cls);
    if (wait > 0) throw new CascadeError(Errors.rateLimited, `rate limit exceeded; retry in ${wait} s`, { extra: { retry_after: wait } });
  }

  get size(): number {
    return this.buckets.size;
  }
}

/**
 * The client a request counts against, or undefined when it is exempt: the client the trusted
 * proxy model resolved (`ctx.clientIp`). A loopback peer that is not a configured trusted
 * proxy but sends X-Forwarded-For is a local proxy of an older config: its last hop is used,
 * as before, only for the bucket (never for trust).
 */
export function clientKey(ctx: RequestContext, includeLoopback: boolean): string | undefined {
  const addr = ctx.clientIp || (ctx.req.socket.remoteAddress ?? 'unknown');
  if (isLoopback(addr)) {
    const fwd = ctx.req.headers['x-forwarded-for'];
    if (typeof fwd === 'string' && fwd.length > 0) {
      const i = fwd.lastIndexOf(',');
      return (i === -1 ? fwd : fwd.slice(i + 1)).trim();
    }
    return includeLoopback ? addr : undefined;
  }
  return addr;
}

/** Which class a request falls in: writes, renders (no-cache, transforms) or plain reads. */
export function rateClassOf(ctx: RequestContext): RateClass {
  const m = ctx.method;
  if (m === 'GET' || m === 'HEAD') {
    const cc = ctx.req.headers['cache-control'];
    return cc !== undefined && cc.includes('no-cache') ? 'render' : 'read';
  }
  if (m === 'POST' && ctx.path.includes('/transform/')) return 'render';
  return 'write';
}
