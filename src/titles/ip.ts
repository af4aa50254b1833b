// User pages of anonymous editors are named by IP address; MediaWiki keeps one spelling of
// each address (IPUtils::sanitizeIP): IPv4 without leading zeros, IPv6 expanded and uppercase.
import { isIPv6 } from 'node:net';

const V4_OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|0?[0-9]?[0-9])';
const IPV4_RE = new RegExp(`^${V4_OCTET}\\.${V4_OCTET}\\.${V4_OCTET}\\.${V4_OCTET}(?:/(3[0-2]|[12]?\\d))?$`);
const IPV6_CIDR_RE = /^([0-9A-Fa-f:.]+)(?:\/(12[0-8]|1[01][0-9]|[1-9]?\d))?$/;

/** Canonical form of an IP address (or range); anything else is returned trimmed. */
export function sanitizeIP(input: string): string {
  const ip = input.trim();
  if (IPV4_RE.test(ip)) {
    const slash = ip.indexOf('/');
    const addr = slash === -1 ? ip : ip.slice(0, slash);
    const suffix = slash === -1 ? '' : ip.slice(slash);
    return addr.split('.').map((b) => String(parseInt(b, 10))).join('.') + suffix;
  }
  const m = IPV6_CIDR_RE.exec(ip);
  if (!m || !ip.includes(':') || !isIPv6(m[1]!)) return ip;
  const addr = m[1]!.toUpperCase();
  const suffix = m[2] === undefined ? '' : `/${m[2]}`;
  if (addr.includes('.')) return addr + suffix; // embedded IPv4 form: leave as written
  let groups: string[];
  const abbrev = addr.indexOf('::');
  if (abbrev === -1) {
    groups = addr.split(':');
  } else {
    const head = addr.slice(0, abbrev) === '' ? [] : addr.slice(0, abbrev).split(':');
    const tail = addr.slice(abbrev + 2) === '' ? [] : addr.slice(abbrev + 2).split(':');
    groups = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  }
  return groups.map((g) => g.replace(/^0+(?=[0-9A-F])/, '')).join(':') + suffix;
}
