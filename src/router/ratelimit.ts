// Per-client token buckets. A client is its address (or, behind a proxy on loopback, the
// address the proxy forwards for). Each route class has its own rate and burst; a request
// finding its bucket empty gets 429 with Retry-After.
import { CascadeError, Errors } from '../errors/index.ts';
import type { RequestContext } from './router.ts';
import { isLoopback } from './server.ts';

export type RateClass = 'read' | 'render' | 'write';

export interface RateLimitOptions {
  enabled: boolean;
  /** Rate-limit loopback callers too (off by default: they are local services and benchmarks). */
  includeLoopback: boolean;
  classes: Record<RateClass, { rate: number; burst: number }>;
  maxClients: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

interface BucketState {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private buckets = new Map<string, BucketState>();
  private readonly now: () => number;
  rejected = 0;

  constructor(readonly opts: RateLimitOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Takes one token; returns 0 when allowed, otherwise the seconds until a token is available. */
  take(client: string, cls: RateClass): number {
    const { rate, burst } = this.opts.classes[cls];
    const key = cls + ' ' + client;
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.opts.maxClients) this.evict();
      b = { tokens: burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
      b.at = now;
      // Re-insert so Map order tracks recency for eviction.
      this.buckets.delete(key);
      this.buckets.set(key, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    this.rejected++;
    return Math.max(1, Math.ceil((1 - b.tokens) / rate));
  }

  private evict(): void {
    // Drop the least recently seen tenth; they would have refilled anyway.
    let n = Math.max(1, Math.floor(this.buckets.size / 10));
    for (const k of this.buckets.keys()) {
      this.buckets.delete(k);
      if (--n === 0) break;
    }
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

/** A `before` hook for createHttpServer. Internal callers are never limited. */
export function rateLimitHook(limiter: RateLimiter): (ctx: RequestContext) => boolean | void {
  const { enabled, includeLoopback } = limiter.opts;
  return (ctx) => {
    if (!enabled || (ctx.internal && ctx.req.headers['x-cascade-internal'] !== undefined)) return;
    const client = clientKey(ctx, includeLoopback);
    if (client === undefined) return;
    const wait = limiter.take(client, rateClassOf(ctx));
    if (wait > 0) {
      throw new CascadeError(Errors.rateLimited, `rate limit exceeded; retry in ${wait} s`, { extra: { retry_after: wait } });
    }
  };
}
