// A copy/insert binary delta (in the family of git's diff-delta and xdelta): the base is indexed
// by a rolling hash of its aligned 16-byte blocks, the target is scanned byte by byte, and every
// hit is extended forwards (with native memcmp over long runs) and backwards. The raw delta is
// small but not entropy-coded; codec.ts brotli-compresses it.
//
// Format (all integers LEB128 varints):
//   u8 version (1) · baseLen · targetLen · opCount · ops · literal bytes
//   op = len*2 + isCopy; a copy is followed by zigzag(offset - end of previous copy), because
//   consecutive copies usually continue where the last one stopped (small, repetitive numbers
//   compress well).
// Ops come before the literals they consume, so the literals form one contiguous text stream.

const BLOCK = 16;
const MULT = 0x01000193; // FNV prime: odd, well mixed in the low bits
const MULT_POW = powMul(MULT, BLOCK - 1);
/** Candidate positions examined per hash bucket (bounds the cost on repetitive input). */
const MAX_CANDIDATES = 24;
const FORMAT_VERSION = 1;

function powMul(m: number, e: number): number {
  let r = 1;
  for (let i = 0; i < e; i++) r = Math.imul(r, m);
  return r;
}

function blockHash(b: Uint8Array, at: number): number {
  let h = 0;
  for (let k = 0; k < BLOCK; k++) h = (Math.imul(h, MULT) + b[at + k]) | 0;
  return h;
}

/** Fibonacci hashing of the rolling hash into `bits` bits. */
function bucketOf(h: number, shift: number): number {
  return Math.imul(h, 0x9e3779b1) >>> shift;
}

/** Length of the common run of a[ai..] and b[bi..]; native memcmp on long runs. */
function forwardMatch(a: Buffer, ai: number, b: Buffer, bi: number): number {
  const max = Math.min(a.length - ai, b.length - bi);
  let n = 0;
  // A short JS loop first: most candidates fail within a few bytes.
  const head = Math.min(max, 32);
  while (n < head && a[ai + n] === b[bi + n]) n++;
  if (n < head) return n;
  let step = 1024;
  while (n + step <= max) {
    if (a.compare(b, bi + n, bi + n + step, ai + n, ai + n + step) === 0) {
      n += step;
      if (step < 65536) step *= 2;
    } else if (step > 64) {
      step >>= 2;
    } else break;
  }
  while (n < max && a[ai + n] === b[bi + n]) n++;
  return n;
}

class ByteWriter {
  buf: Buffer;
  len = 0;
  constructor(initial: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, initial));
  }
  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + extra));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  byte(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }
  varint(v: number): void {
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }
  bytes(src: Uint8Array, start: number, end: number): void {
    this.ensure(end - start);
    this.buf.set(src.subarray(start, end), this.len);
    this.len += end - start;
  }
  result(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

class ByteReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  varint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.buf.length) throw new DeltaFormatError('truncated varint');
      const b = this.buf[this.pos++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
      if (mul > 2 ** 56) throw new DeltaFormatError('varint too long');
    }
  }
}

export class DeltaFormatError extends Error {
  constructor(msg: string) {
    super(`corrupt delta: ${msg}`);
    this.name = 'DeltaFormatError';
  }
}

const zigzag = (v: number): number => (v < 0 ? -v * 2 - 1 : v * 2);
const unzigzag = (v: number): number => (v % 2 === 1 ? -(v + 1) / 2 : v / 2);

/** An index of a base buffer, reusable for several targets. */
export class DeltaIndex {
  readonly head: Int32Array;
  readonly next: Int32Array;
  readonly shift: number;
  constructor(readonly base: Buffer) {
    const blocks = Math.floor(base.length / BLOCK);
    let bits = 4;
    while (1 << bits < blocks * 2 && bits < 26) bits++;
    this.shift = 32 - bits;
    this.head = new Int32Array(1 << bits).fill(-1);
    this.next = new Int32Array(Math.max(blocks, 1));
    // Insert in ascending order so the bucket lists start at the latest block: later text
    // of a document tends to be the likelier match for later text of its next version.
    for (let i = 0; i < blocks; i++) {
      const bucket = bucketOf(blockHash(base, i * BLOCK), this.shift);
      this.next[i] = this.head[bucket];
      this.head[bucket] = i;
    }
  }
}

/** Computes a delta turning `base` into `target`. */
export function createDelta(base: Buffer | DeltaIndex, target: Buffer): Buffer {
  const index = base instanceof DeltaIndex ? base : new DeltaIndex(base);
  const src = index.base;
  const tlen = target.length;
  const ops = new ByteWriter(256);
  const lits = new ByteWriter(1024);
  let opCount = 0;
  let lastCopyEnd = 0;
  let insStart = 0;

  const flushInsert = (end: number): void => {
    if (end > insStart) {
      ops.varint((end - insStart) * 2);
      lits.bytes(target, insStart, end);
      opCount++;
    }
  };

  let i = 0;
  if (src.length >= BLOCK && tlen >= BLOCK) {
    let h = blockHash(target, 0);
    const { head, next, shift } = index;
    for (;;) {
      let bestLen = 0;
      let bestPos = 0;
      let cand = head[bucketOf(h, shift)];
      let tries = 0;
      while (cand >= 0 && tries < MAX_CANDIDATES) {
        const p = cand * BLOCK;
        // A block continuing the previous copy is the common case; prefer it on ties.
        const len = forwardMatch(src, p, target, i);
        if (len > bestLen || (len === bestLen && len > 0 && p === lastCopyEnd)) {
          bestLen = len;
          bestPos = p;
        }
        cand = next[cand];
        tries++;
      }
      if (bestLen >= BLOCK) {
        let back = 0;
        while (i - back > insStart && bestPos - back > 0 && src[bestPos - back - 1] === target[i - back - 1]) back++;
        flushInsert(i - back);
        const off = bestPos - back;
        const len = bestLen + back;
        ops.varint(len * 2 + 1);
        ops.varint(zigzag(off - lastCopyEnd));
        opCount++;
        lastCopyEnd = off + len;
        i += bestLen;
        insStart = i;
        if (i + BLOCK > tlen) break;
        h = blockHash(target, i);
      } else {
        if (i + BLOCK >= tlen) break;
        h = (Math.imul(h - Math.imul(target[i], MULT_POW), MULT) + target[i + BLOCK]) | 0;
        i++;
      }
    }
  }
  flushInsert(tlen);

  const out = new ByteWriter(ops.len + lits.len + 24);
  out.byte(FORMAT_VERSION);
  out.varint(src.length);
  out.varint(tlen);
  out.varint(opCount);
  out.bytes(ops.buf, 0, ops.len);
  out.bytes(lits.buf, 0, lits.len);
  return out.result();
}

/** A parsed delta: the copy/insert program, with literal offsets into the delta buffer. */
export interface ParsedDelta {
  baseLen: number;
  targetLen: number;
  /** Triples (kind, a, len): kind 1 copy from base offset a, kind 0 literal at delta offset a. */
  ops: Float64Array;
  opCount: number;
  data: Buffer;
}

export function parseDelta(delta: Buffer): ParsedDelta {
  const r = new ByteReader(delta);
  if (delta.length < 1 || delta[0] !== FORMAT_VERSION) throw new DeltaFormatError('unknown version');
  r.pos = 1;
  const baseLen = r.varint();
  const targetLen = r.varint();
  const opCount = r.varint();
  if (opCount > delta.length) throw new DeltaFormatError('op count exceeds delta size');
  const ops = new Float64Array(opCount * 3);
  let lastCopyEnd = 0;
  let litTotal = 0;
  let produced = 0;
  for (let k = 0; k < opCount; k++) {
    const v = r.varint();
    const len = Math.floor(v / 2);
    if (v % 2 === 1) {
      const off = lastCopyEnd + unzigzag(r.varint());
      if (off < 0 || off + len > baseLen) throw new DeltaFormatError('copy outside the base');
      ops[k * 3] = 1;
      ops[k * 3 + 1] = off;
      lastCopyEnd = off + len;
    } else {
      ops[k * 3] = 0;
      ops[k * 3 + 1] = litTotal; // relative; fixed up below once the literal start is known
      litTotal += len;
    }
    ops[k * 3 + 2] = len;
    produced += len;
  }
  if (produced !== targetLen) throw new DeltaFormatError('ops do not add up to the target length');
  const litStart = r.pos;
  if (litStart + litTotal !== delta.length) throw new DeltaFormatError('literal section has the wrong size');
  for (let k = 0; k < opCount; k++) if (ops[k * 3] === 0) ops[k * 3 + 1] += litStart;
  return { baseLen, targetLen, ops, opCount, data: delta };
}

/** Applies a delta to its base; throws DeltaFormatError when they do not belong together. */
export function applyDelta(base: Buffer, delta: Buffer | ParsedDelta): Buffer {
  const d = Buffer.isBuffer(delta) ? parseDelta(delta) : delta;
  if (d.baseLen !== base.length) throw new DeltaFormatError(`base length ${base.length} != ${d.baseLen}`);
  const out = Buffer.allocUnsafe(d.targetLen);
  let pos = 0;
  for (let k = 0; k < d.opCount; k++) {
    const a = d.ops[k * 3 + 1];
    const len = d.ops[k * 3 + 2];
    if (d.ops[k * 3] === 1) base.copy(out, pos, a, a + len);
    else d.data.copy(out, pos, a, a + len);
    pos += len;
  }
  return out;
}
