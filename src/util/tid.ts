// Time-based (version 1) UUIDs, as RESTBase uses for render ids (`tid`).
// The timestamp inside a tid orders renders: a newer tid always wins.
import { randomBytes } from 'node:crypto';

// 100-ns intervals between the UUID epoch (1582-10-15) and the Unix epoch.
const GREGORIAN_OFFSET = 122192928000000000n;
const node = randomBytes(6);
node[0] |= 0x01; // multicast bit: a random node id, not a MAC address
const clockSeq = randomBytes(2).readUInt16BE(0) & 0x3fff;
let lastTicks = 0n;

const TID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * A new v1 UUID. Without `ms` (now) tids are strictly increasing within this process: ids
 * made in one millisecond count on in 100-ns steps. With an explicit `ms` the tid carries
 * exactly that time, and repeated calls for one time differ in their clock sequence.
 */
export function newTid(ms?: number): string {
  if (ms === undefined) {
    let ticks = BigInt(Date.now()) * 10000n + GREGORIAN_OFFSET;
    if (ticks <= lastTicks) ticks = lastTicks + 1n;
    lastTicks = ticks;
    return formatTid(ticks, clockSeq, node);
  }
  const ticks = BigInt(Math.floor(ms)) * 10000n + GREGORIAN_OFFSET;
  explicitSeq = (explicitSeq + 1) & 0x3fff;
  return formatTid(ticks, explicitSeq, node);
}
let explicitSeq = clockSeq;

/** A v1 UUID for a fixed time with random low bits (e.g. a tid derived from an event time). */
export function tidAt(ms: number): string {
  const ticks = BigInt(Math.floor(ms)) * 10000n + GREGORIAN_OFFSET + BigInt(randomBytes(2).readUInt16BE(0) % 10000);
  return formatTid(ticks, randomBytes(2).readUInt16BE(0) & 0x3fff, randomBytes(6));
}

function formatTid(ticks: bigint, seq: number, nodeId: Buffer): string {
  const low = Number(ticks & 0xffffffffn);
  const mid = Number((ticks >> 32n) & 0xffffn);
  const hi = Number((ticks >> 48n) & 0x0fffn) | 0x1000;
  const s = (seq & 0x3fff) | 0x8000;
  return (
    low.toString(16).padStart(8, '0') +
    '-' +
    mid.toString(16).padStart(4, '0') +
    '-' +
    hi.toString(16).padStart(4, '0') +
    '-' +
    s.toString(16).padStart(4, '0') +
    '-' +
    nodeId.toString('hex')
  );
}

export function isTid(s: string): boolean {
  return TID_RE.test(s);
}

/** The tid's timestamp in 100-ns ticks since the UUID epoch (a total order key with tidOrderKey). */
export function tidTicks(tid: string): bigint {
  const hex = tid.replace(/-/g, '');
  const low = BigInt('0x' + hex.slice(0, 8));
  const mid = BigInt('0x' + hex.slice(8, 12));
  const hi = BigInt('0x' + hex.slice(13, 16)); // skip the version nibble
  return (hi << 48n) | (mid << 32n) | low;
}

/** Milliseconds since the Unix epoch encoded in the tid. */
export function tidTime(tid: string): number {
  return Number((tidTicks(tid) - GREGORIAN_OFFSET) / 10000n);
}

/** Compares two tids by time, then by the rest of the bytes (a deterministic total order). */
export function compareTids(a: string, b: string): number {
  const ta = tidTicks(a);
  const tb = tidTicks(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A fixed-width string that sorts like compareTids (ticks as 15 hex digits, then the tail),
 * for indexes in SQL backends.
 */
export function tidOrderKey(tid: string): string {
  return tidTicks(tid).toString(16).padStart(15, '0') + tid.slice(19).toLowerCase();
}
