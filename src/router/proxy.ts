// The trusted-proxy model (as Express's `trust proxy`): who the client is and whether it is
// inside the trust boundary. The socket peer is the client unless it is a configured trusted
// proxy; then the counted forwarding header is walked right to left through trusted hops.
// A forwarding header (X-Forwarded-For, Forwarded or X-Real-IP, counted or not) from an
// untrusted peer — loopback included — means the request came through a proxy for someone
// else, so it is external.
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { cidrMatcher, isLoopbackValidIp } from './cidr.ts';

export type ForwardedHeader = 'x-forwarded-for' | 'forwarded' | 'x-real-ip';
export const FORWARDED_HEADERS: readonly ForwardedHeader[] = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

export interface TrustOptions {
  /** Addresses and CIDR ranges of proxies whose forwarding headers are believed (default none). */
  trustedProxies?: readonly string[];
  /** Which headers name the client, in order of preference (default X-Forwarded-For). */
  forwardedHeaders?: readonly ForwardedHeader[];
  /** Loopback callers count as internal (default true). */
  loopbackIsInternal?: boolean;
}

export interface ClientInfo {
  /** The resolved client address (v4-mapped IPv4 written as IPv4). */
  ip: string;
  /** Resolved to loopback with every hop on the way loopback, and no untrusted forwarding header. */
  loopback: boolean;
}

/** Headers of one request that carry forwarding information (any of the three). */
export function hasForwarding(h: IncomingHttpHeaders): boolean {
  return h['x-forwarded-for'] !== undefined || h.forwarded !== undefined || h['x-real-ip'] !== undefined;
}

export function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** The hops a header lists, nearest last. Entries that are no address come out as undefined. */
export function forwardedChain(header: ForwardedHeader, value: string | string[] | undefined): (string | undefined)[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(',') : value;
  if (header === 'x-real-ip') return [normalizeHop(text.trim())];
  if (header === 'x-forwarded-for') return text.split(',').map((s) => normalizeHop(s.trim()));
  // RFC 7239: `for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"`; elements without `for` say nothing.
  const out: (string | undefined)[] = [];
  for (const element of splitOutsideQuotes(text, ',')) {
    let hop: string | undefined | null = null;
    for (const pair of splitOutsideQuotes(element, ';')) {
      const eq = pair.indexOf('=');
      if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      let v = pair.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
      hop = normalizeHop(v);
    }
    if (hop !== null) out.push(hop);
  }
  return out;
}

function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/** `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1` → the address; `unknown`, `_hidden`, junk → undefined. */
function normalizeHop(s: string): string | undefined {
  let v = s;
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end === -1) return undefined;
    v = v.slice(1, end);
  } else if (v.indexOf(':') !== -1 && v.indexOf(':') === v.lastIndexOf(':')) {
    v = v.slice(0, v.indexOf(':')); // IPv4 with a port
  }
  return isIP(v) !== 0 ? plainIp(v) : undefined;
}

/**
 * Resolves clients for one server. The common case (no trusted proxies, no forwarding header)
 * costs three header lookups and a loopback check, and allocates nothing.
 */
export class ClientResolver {
  private readonly trusted: (ip: string) => boolean;
  /** False when no proxy is trusted: the peer is always the client (the server's fast path). */
  readonly anyTrusted: boolean;
  private readonly headers: readonly ForwardedHeader[];
  readonly loopbackIsInternal: boolean;

  constructor(opts: TrustOptions = {}) {
    const list = opts.trustedProxies ?? [];
    this.trusted = cidrMatcher(list);
    this.anyTrusted = list.length > 0;
    this.headers = opts.forwardedHeaders && opts.forwardedHeaders.length > 0 ? opts.forwardedHeaders : ['x-forwarded-for'];
    this.loopbackIsInternal = opts.loopbackIsInternal !== false;
  }

  /** The client of a request whose socket peer is `peer`. */
  resolve(peer: string | undefined, h: IncomingHttpHeaders): ClientInfo {
    const p = peer ?? '';
    if (!this.anyTrusted || !this.trusted(p)) {
      // The peer is the client; a forwarding header from it means it relays for others.
      return { ip: plainIp(p), loopback: this.loopbackIsInternal && isLoopbackValidIp(p) && !hasForwarding(h) };
    }
    return this.walk(p, h);
  }

  private walk(peer: string, h: IncomingHttpHeaders): ClientInfo {
    let header: ForwardedHeader | undefined;
    for (const name of this.headers) {
      if (h[name] !== undefined) {
        header = name;
        break;
      }
    }
    // A trusted proxy that names nobody: the request is its own (a health check, say), unless
    // it relays a forwarding header we do not count, which we cannot read safely.
    if (header === undefined) return { ip: plainIp(peer), loopback: this.loopbackIsInternal && isLoopbackValidIp(peer) && !hasForwarding(h) };
    const chain = forwardedChain(header, h[header]);
    let client = plainIp(peer);
    let allLoopback = isLoopbackValidIp(peer);
    for (let i = chain.length - 1; i >= 0; i--) {
      const hop = chain[i];
      // A hop that is no address: the trusted proxy to its right is the last we know of.
      if (hop === undefined) return { ip: client, loopback: false };
      client = hop;
      allLoopback &&= isLoopbackValidIp(hop);
      if (!this.trusted(hop)) break;
    }
    return { ip: client, loopback: this.loopbackIsInternal && allLoopback };
  }
}
