// Per-capability request policy, applied by app.ts: each capability declares which requests it
// owns, its rate classes and which of its requests are for internal callers only. No
// capability installs a server-wide hook; a request is judged by the scope that owns it.
import type { CascadeError } from '../errors/index.ts';
import type { Clock } from '../util/clock.ts';
import { RateLimiter, clientKey, type RateClassConfig } from './ratelimit.ts';
import type { RequestContext } from './router.ts';

export interface CapabilityScope {
  /** The capability (prefixes its rate classes: `events.produce`, `content.write`). */
  name: string;
  /** Whether this capability answers the request. */
  owns(ctx: RequestContext): boolean;
  /** The rate classes it declares, by name. */
  rateClasses?: Record<string, RateClassConfig>;
  /** The class a request it owns counts against; undefined: not limited. */
  rateClassOf?(ctx: RequestContext): string | undefined;
  /** The error for an external caller of an internal-only request; undefined when allowed. */
  internalOnly?(ctx: RequestContext): CascadeError | undefined;
}

export interface ScopeOptions {
  enabled: boolean;
  /** Rate-limit loopback callers too. */
  includeLoopback: boolean;
  /** Most clients tracked at once, over all classes. */
  maxClients: number;
  clock?: Clock;
}

export interface MountedScopes {
  limiter: RateLimiter;
  /** The scope owning a request (the first that claims it). */
  scopeOf(ctx: RequestContext): CapabilityScope | undefined;
  /** The `before` hook for createHttpServer. */
  before(ctx: RequestContext): boolean | void;
}

export function mountScopes(scopes: CapabilityScope[], opts: ScopeOptions): MountedScopes {
  const classes: Record<string, RateClassConfig> = {};
  for (const s of scopes) for (const [c, cfg] of Object.entries(s.rateClasses ?? {})) classes[`${s.name}.${c}`] = cfg;
  const limiter = new RateLimiter({ enabled: opts.enabled, includeLoopback: opts.includeLoopback, classes, maxClients: opts.maxClients, ...(opts.clock ? { clock: opts.clock } : {}) });
  const scopeOf = (ctx: RequestContext) => scopes.find((s) => s.owns(ctx));
  return {
    limiter,
    scopeOf,
    before(ctx) {
      const scope = scopeOf(ctx);
      if (!scope) return;
      if (!ctx.internal) {
        const refused = scope.internalOnly?.(ctx);
        if (refused) throw refused;
      }
      // Internal callers (with the internal token) are never limited.
      if (!opts.enabled || (ctx.internal && ctx.req.headers['x-cascade-internal'] !== undefined)) return;
      const cls = scope.rateClassOf?.(ctx);
      if (cls === undefined || !scope.rateClasses?.[cls]) return;
      const client = clientKey(ctx, opts.includeLoopback);
      if (client === undefined) return;
      limiter.check(client, `${scope.name}.${cls}`);
    },
  };
}
