// Producer authorization for POST /v1/events: which callers (client network, bearer token) may
// produce which streams. Decided per request before the body is read (a caller allowed nothing
// costs no parsing), then per stream named in the batch. Cascade's internal streams are never
// open to HTTP unless a rule says `internal: true`; Cascade's own producer (IntakeProducer)
// does not go through here at all.
import type { HttpRequest } from '../router/http-types.ts';
import { createHash } from 'node:crypto';
import { cidrMatcher, parseCidr } from '../router/cidr.ts';
import { hasForwarding, plainIp } from '../router/proxy.ts';
import { ConfigError } from '../config/load.ts';
import { CascadeError } from '../errors/index.ts';
import { EventErrors } from './errors.ts';
import { DEFAULT_PRODUCERS, type EventsConfig, type ProducerRule, type ProducerToken } from './config.ts';

/** Streams Cascade itself produces: exact names and name prefixes. */
export interface InternalStreams {
  names: string[];
  prefixes: string[];
}

export interface ProducerCaller {
  /** The client address the network rules were matched against (undefined: not known). */
  address: string | undefined;
  token: 'none' | 'valid' | 'invalid';
  /** Rules whose network and token conditions this caller meets. */
  rules: readonly CompiledRule[];
}

interface CompiledRule {
  exact: ReadonlySet<string>;
  patterns: readonly RegExp[];
  internal: boolean;
  /** undefined: any address. */
  nets: ((ip: string) => boolean) | undefined;
  /** sha256 hex of each token; undefined: no token needed. */
  tokens: ReadonlySet<string> | undefined;
  /** Stream name → allowed, bounded (names are chosen by clients). */
  seen: Map<string, boolean>;
}

const MAX_SEEN = 4096;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A matcher of the entries (CIDRs, addresses, `loopback`); undefined when `any` is among them. */
export function networkList(entries: string[], where: string): ((ip: string) => boolean) | undefined {
  if (entries.includes('any')) return undefined;
  const list = entries.flatMap((e) => (e === 'loopback' ? ['127.0.0.0/8', '::1/128'] : [e]));
  for (const e of list) {
    try {
      parseCidr(e);
    } catch (err) {
      throw new ConfigError([{ file: '<config>', line: 0, column: 0, path: where, message: `${(err as Error).message}: give addresses, CIDR ranges, 'loopback' or 'any'` }]);
    }
  }
  return cidrMatcher(list);
}

export function parseStreamPattern(name: string): RegExp | undefined {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(name);
  return m ? new RegExp(m[1], m[2].replace(/[gy]/g, '')) : undefined;
}

export class ProducerAuthorizer {
  private readonly rules: CompiledRule[];
  private readonly internalNames: ReadonlySet<string>;
  private readonly internalPrefixes: readonly string[];
  /** Whether any rule takes a token (then a caller without one is told to authenticate: 401). */
  readonly usesTokens: boolean;

  constructor(rules: ProducerRule[], internal: InternalStreams, env: NodeJS.ProcessEnv = process.env) {
    this.internalNames = new Set(internal.names.filter(Boolean));
    this.internalPrefixes = internal.prefixes.filter(Boolean);
    this.rules = rules.map((r, i) => {
      const where = `events.producers.${i}`;
      const exact = new Set<string>();
      const patterns: RegExp[] = [];
      for (const s of r.streams) {
        let re: RegExp | undefined;
        try {
          re = parseStreamPattern(s);
        } catch (e) {
          throw new ConfigError([{ file: '<config>', line: 0, column: 0, path: `${where}.streams`, message: `invalid stream pattern ${s}: ${(e as Error).message}` }]);
        }
        if (re) patterns.push(re);
        else exact.add(s);
      }
      return {
        exact,
        patterns,
        internal: r.internal === true,
        nets: r.from ? networkList(r.from, `${where}.from`) : undefined,
        tokens: r.tokens ? new Set(r.tokens.map((t) => sha256(resolveToken(t, `${where}.tokens`, env)))) : undefined,
        seen: new Map(),
      };
    });
    this.usesTokens = this.rules.some((r) => r.tokens !== undefined);
  }

  isInternal(stream: string): boolean {
    if (this.internalNames.has(stream)) return true;
    for (const p of this.internalPrefixes) if (stream.startsWith(p)) return true;
    return false;
  }

  /** Who is calling: the client address (see `producerAddress`) and the bearer token's standing. */
  identify(req: HttpRequest, clientIp: string): ProducerCaller {
    const address = producerAddress(req, clientIp);
    const auth = req.headers.authorization;
    let token: ProducerCaller['token'] = 'none';
    let hash: string | undefined;
    if (auth !== undefined) {
      const m = /^Bearer[ ]+([\x21-\x7e]{1,4096})\s*$/i.exec(auth);
      hash = m ? sha256(m[1]) : undefined;
      token = hash !== undefined && this.rules.some((r) => r.tokens?.has(hash!)) ? 'valid' : 'invalid';
    }
    const rules = this.rules.filter((r) => netOk(r, address) && (r.tokens === undefined || (hash !== undefined && r.tokens.has(hash))));
    return { address, token, rules };
  }

  /** Throws 401/403 when the caller may produce nothing at all (checked before the body is read). */
  admit(caller: ProducerCaller): void {
    if (caller.token === 'invalid') throw new CascadeError(EventErrors.producerUnauthenticated, 'the bearer token is not one this intake knows');
    if (caller.rules.length > 0) return;
    if (caller.token === 'none' && this.rules.some((r) => r.tokens !== undefined && netOk(r, caller.address))) {
      throw new CascadeError(EventErrors.producerUnauthenticated, 'producing events here needs a bearer token (Authorization: Bearer …)');
    }
    throw new CascadeError(EventErrors.producerForbidden, `${describe(caller)} may not produce any stream here (events.producers)`);
  }

  allowed(caller: ProducerCaller, stream: string): boolean {
    const internal = this.isInternal(stream);
    for (const r of caller.rules) if ((!internal || r.internal) && streamOk(r, stream)) return true;
    return false;
  }

  /** Throws 401/403 unless the caller may produce every one of `streams`. */
  authorize(caller: ProducerCaller, streams: Iterable<string>): void {
    const refused: string[] = [];
    for (const s of streams) if (!this.allowed(caller, s)) refused.push(s);
    if (refused.length === 0) return;
    const names = refused.slice(0, 5).map((s) => JSON.stringify(s.length > 100 ? s.slice(0, 100) + '…' : s)).join(', ') + (refused.length > 5 ? `, and ${refused.length - 5} more` : '');
    // A token would help when a token rule reachable from this network allows every refused stream.
    const tokenWouldHelp =
      caller.token === 'none' &&
      refused.every((s) => {
        const internal = this.isInternal(s);
        return this.rules.some((r) => r.tokens !== undefined && netOk(r, caller.address) && (!internal || r.internal) && streamOk(r, s));
      });
    if (tokenWouldHelp) throw new CascadeError(EventErrors.producerUnauthenticated, `stream ${names} needs a bearer token (Authorization: Bearer …)`);
    const internal = refused.some((s) => this.isInternal(s));
    throw new CascadeError(
      EventErrors.producerForbidden,
      `${describe(caller)} may not produce to ${names}${internal ? ' (Cascade\'s internal streams take only its own events)' : ''}; nothing in this request was stored`,
    );
  }
}

function describe(c: ProducerCaller): string {
  const who = c.address === undefined ? 'a forwarded client' : c.address;
  return c.token === 'valid' ? `this token (from ${who})` : who;
}

function netOk(r: CompiledRule, address: string | undefined): boolean {
  if (!r.nets) return true;
  return address !== undefined && r.nets(address);
}

function streamOk(r: CompiledRule, stream: string): boolean {
  if (r.exact.has(stream)) return true;
  if (r.patterns.length === 0) return false;
  let ok = r.seen.get(stream);
  if (ok === undefined) {
    ok = r.patterns.some((p) => p.test(stream));
    if (r.seen.size >= MAX_SEEN) r.seen.clear();
    r.seen.set(stream, ok);
  }
  return ok;
}

function resolveToken(t: ProducerToken, where: string, env: NodeJS.ProcessEnv): string {
  if (typeof t === 'string') return t;
  const v = env[t.env];
  if (!v || v.length < 16) {
    throw new ConfigError([{ file: `environment variable ${t.env}`, line: 0, column: 0, path: where, message: v ? 'holds a token shorter than 16 characters' : 'is not set (a producer token is read from it)' }]);
  }
  return v;
}

/**
 * The address network rules see: `ctx.clientIp` (resolved through trusted proxies by the HTTP
 * front), except when that is still the socket's peer although the request carries forwarding
 * headers. Then a proxy nobody declared trusted sent it for someone else (nginx on loopback in
 * front of Cascade), so the real client is unknown and only a token can admit it.
 */
export function producerAddress(req: HttpRequest, clientIp: string): string | undefined {
  if (plainIp(clientIp) === plainIp(req.socket.remoteAddress ?? '') && hasForwarding(req.headers)) return undefined;
  return clientIp || undefined;
}

/**
 * Streams only Cascade produces: those the other capabilities declare as their own (`others`:
 * resource_change, change propagation's retries, dead letters, fan-out and continuations) and
 * the intake's own error stream.
 */
export function internalStreams(ev: Pick<EventsConfig, 'error_stream'>, others: InternalStreams): InternalStreams {
  return { names: [...others.names, ev.error_stream], prefixes: others.prefixes };
}

/** Throws ConfigError (path `events.producers.…`) for what the authorizer cannot build from the config. */
export function checkProducerConfig(ev: Pick<EventsConfig, 'producers' | 'error_stream'>, others: InternalStreams, env: NodeJS.ProcessEnv = process.env): void {
  new ProducerAuthorizer(ev.producers ?? DEFAULT_PRODUCERS, internalStreams(ev, others), env);
}
