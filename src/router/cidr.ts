// IP addresses and CIDR ranges, IPv4 and IPv6 in one 16-byte space (IPv4 as v4-mapped
// `::ffff:a.b.c.d`), so `127.0.0.0/8` matches `::ffff:127.0.0.1` as dual-stack sockets report
// it. Used by the trusted-proxy model (proxy.ts) and producer authorization (src/events).
import { isIP } from 'node:net';
import { BoundedMap } from '../util/bounded-map.ts';

export interface Cidr {
  /** The network address, 16 bytes (IPv4 v4-mapped). */
  bytes: Uint8Array;
  /** Prefix length in the 128-bit space (an IPv4 /8 is 96 + 8). */
  prefix: number;
  /** As written, for messages. */
  text: string;
}

/**
 * The 16 bytes of an IP address (IPv4 v4-mapped), or undefined when `ip` is not one.
 * Accepts IPv6 zone ids (`fe80::1%eth0`, ignored) and bracketed IPv6 (`[::1]`).
 */
export function ipBytes(ip: string): Uint8Array | undefined {
  let s = ip;
  if (s.length > 2 && s.charCodeAt(0) === 0x5b /* [ */ && s.charCodeAt(s.length - 1) === 0x5d) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  const kind = isIP(s);
  if (kind === 4) {
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    writeV4(s, out, 12);
    return out;
  }
  if (kind === 6) return v6Bytes(s);
  return undefined;
}

function writeV4(s: string, out: Uint8Array, at: number): void {
  const parts = s.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
}

/** `s` has passed net.isIP as IPv6. */
function v6Bytes(s: string): Uint8Array {
  const out = new Uint8Array(16);
  let head = s;
  let tail = '';
  const dbl = s.indexOf('::');
  if (dbl !== -1) {
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
  }
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const b = new Uint8Array(4);
        writeV4(g, b, 0);
        out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  const all = dbl === -1 ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  for (let i = 0; i < 8; i++) {
    out[i * 2] = (all[i]! >> 8) & 0xff;
    out[i * 2 + 1] = all[i]! & 0xff;
  }
  return out;
}

/**
 * Parses `a.b.c.d[/n]` or `ipv6[/n]` (a bare address is a /32 or /128). Throws a TypeError
 * naming what is wrong; host bits set beyond the prefix are ignored (`10.1.2.3/8` = `10/8`).
 */
export function parseCidr(s: string): Cidr {
  if (typeof s !== 'string') throw new TypeError('an IP address or CIDR range must be a string');
  const text = s.trim();
  const slash = text.indexOf('/');
  const addr = slash === -1 ? text : text.slice(0, slash);
  const bytes = ipBytes(addr);
  if (!bytes) throw new TypeError(`not an IP address or CIDR range: ${JSON.stringify(s)}`);
  const v4 = isIP(addr) === 4;
  const max = v4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new TypeError(`bad prefix length in ${JSON.stringify(s)} (0..${max})`);
    prefix = Number(p);
  }
  if (v4) prefix += 96;
  return { bytes: maskTo(bytes, prefix), prefix, text };
}

function maskTo(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = out[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** Whether the address bytes `ip` fall into `c`. */
export function cidrContains(c: Cidr, ip: Uint8Array): boolean {
  const full = c.prefix >> 3;
  for (let i = 0; i < full; i++) if (ip[i] !== c.bytes[i]) return false;
  const rest = c.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip[full]! & mask) === c.bytes[full];
}

/** Answers per address string are remembered up to this many (then forgotten wholesale). */
const MEMO_MAX = 4096;

/**
 * A predicate "is this address in one of these ranges". Throws a TypeError on a bad entry
 * (validate config with parseCidr first to name the line). Non-addresses never match.
 * Answers are memoized per address string: a proxy sends from few addresses.
 */
export function cidrMatcher(list: readonly string[]): (ip: string) => boolean {
  const ranges = list.map(parseCidr);
  if (ranges.length === 0) return () => false;
  const memo = new BoundedMap<string, boolean>({ maxEntries: MEMO_MAX });
  return (ip: string) => {
    const known = memo.get(ip);
    if (known !== undefined) return known;
    const b = typeof ip === 'string' ? ipBytes(ip) : undefined;
    let hit = false;
    if (b) for (const r of ranges) if (cidrContains(r, b)) { hit = true; break; }
    if (typeof ip === 'string' && ip.length <= 64) memo.set(ip, hit);
    return hit;
  };
}

const LOOPBACK = [parseCidr('127.0.0.0/8'), parseCidr('::1/128')];

/** Loopback, IPv4 (127/8, also v4-mapped) or IPv6 (::1). Cheap for the common spellings. */
export function isLoopbackIp(ip: string | undefined): boolean {
  if (!ip) return false;
  if (ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.')) return isIP(ip) !== 0;
  return isLoopbackBytes(ip);
}

/** As isLoopbackIp for an address already known to be valid (no re-validation). */
export function isLoopbackValidIp(ip: string): boolean {
  if (ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.')) return true;
  // Other loopback spellings are IPv6 ending in 1 (0:0:0:0:0:0:0:1, ::ffff:7f00:1).
  return ip.charCodeAt(ip.length - 1) === 0x31 && ip.includes(':') && isLoopbackBytes(ip);
}

function isLoopbackBytes(ip: string): boolean {
  const b = ipBytes(ip);
  return b !== undefined && (cidrContains(LOOPBACK[0]!, b) || cidrContains(LOOPBACK[1]!, b));
}
