// Where each event of a request body lies, so the intake can store the bytes it was sent
// instead of serialising the parsed event again (JSON.stringify cost about as much as the
// parse). Runs only after JSON.parse accepted the body, so the input is known to be valid JSON.
// UTF-8 continuation bytes are all >= 0x80, so scanning bytes for ASCII structure is safe.

export interface EventSpan {
  start: number;
  end: number;
  /**
   * Just past the `{` of the event's top-level `meta` object (the last one, as JSON.parse
   * keeps the last of duplicate keys); -1 when there is none or it cannot be located safely
   * (a top-level key written with escapes could be a `meta` the bytes do not show).
   */
  metaAt: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index of the quote closing the string whose opening quote is at `i`. */
function stringEnd(b: Buffer, i: number): number {
  // memchr to the next quote (strings hold most of an event's bytes), then skip escaped ones.
  let j = i;
  for (;;) {
    j = b.indexOf(QUOTE, j + 1);
    if (j < 0) return b.length;
    let k = j - 1;
    while (b[k] === BACKSLASH) k--;
    if ((j - 1 - k) % 2 === 0) return j;
  }
}

/**
 * Spans of the events in a JSON body: the elements of a top-level array, or the one top-level
 * object. Undefined when the body is something else (an array with a non-object element, a
 * bare string…): the caller then serialises parsed events as before.
 */
export function eventSpans(b: Buffer): EventSpan[] | undefined {
  const n = b.length;
  let i = 0;
  while (i < n && isWs(b[i])) i++;
  if (i >= n) return undefined;
  const isArray = b[i] === OPEN_ARR;
  if (!isArray && b[i] !== OPEN_OBJ) return undefined;
  // Depth of an event object's keys: inside `[` and `{`, or inside `{` only.
  const keyDepth = isArray ? 2 : 1;
  const spans: EventSpan[] = [];
  let depth = 0;
  let start = -1;
  let metaAt = -1;
  let unsafe = false;
  let afterMetaKey = false;
  for (; i < n; i++) {
    if (depth > keyDepth) {
      // Inside a value of an event: only strings and brackets matter until it closes.
      for (; i < n; i++) {
        const c = b[i];
        if (c === QUOTE) i = stringEnd(b, i);
        else if (c === OPEN_OBJ || c === OPEN_ARR) depth++;
        else if ((c === CLOSE_OBJ || c === CLOSE_ARR) && --depth === keyDepth) break;
      }
      continue;
    }
    const c = b[i];
    if (c === QUOTE) {
      const end = stringEnd(b, i);
      if (depth === keyDepth) {
        let k = end + 1;
        while (k < n && isWs(b[k])) k++;
        if (b[k] === COLON) {
          // A key of the event object.
          let escaped = false;
          for (let j = i + 1; j < end; j++) if (b[j] === BACKSLASH) escaped = true;
          if (escaped) unsafe = true;
          afterMetaKey = end - i === 5 && b[i + 1] === 0x6d && b[i + 2] === 0x65 && b[i + 3] === 0x74 && b[i + 4] === 0x61;
          i = k;
          continue;
        }
      } else if (isArray && depth === 1) {
        return undefined; // a string element
      }
      if (depth === keyDepth && afterMetaKey) {
        metaAt = -1; // `"meta": "…"`: JSON.parse keeps this value
        afterMetaKey = false;
      }
      i = end;
      continue;
    }
    if (c === OPEN_OBJ || c === OPEN_ARR) {
      depth++;
      if (depth === keyDepth) {
        if (c !== OPEN_OBJ) return undefined; // an array element
        start = i;
        metaAt = -1;
        unsafe = false;
        afterMetaKey = false;
      } else if (depth === keyDepth + 1) {
        metaAt = afterMetaKey && c === OPEN_OBJ ? i + 1 : afterMetaKey ? -1 : metaAt;
        afterMetaKey = false;
      }
      continue;
    }
    if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      if (depth === keyDepth) spans.push({ start, end: i + 1, metaAt: unsafe ? -1 : metaAt });
      depth--;
      continue;
    }
    if (depth === keyDepth && afterMetaKey && !isWs(c) && c !== COLON && c !== 0x2c) {
      // `"meta": 5` / true / null: JSON.parse keeps this value, so no meta object is located.
      metaAt = -1;
      afterMetaKey = false;
    } else if (isArray && depth === 1 && !isWs(c) && c !== 0x2c) {
      return undefined; // a number, true, false or null element
    }
  }
  return spans;
}

/** Printable ASCII without `"` and `\\`: a JSON string of such text is just quoted. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function jsonString(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** The text to insert just past the `{` of a meta object at `metaAt` in `bytes` for `fields`. */
export function metaInsertion(bytes: Buffer, metaAt: number, fields: [string, string][]): string {
  let k = metaAt;
  while (k < bytes.length && isWs(bytes[k])) k++;
  let ins = '';
  for (let f = 0; f < fields.length; f++) {
    if (f > 0) ins += ',';
    ins += `${jsonString(fields[f][0])}:${jsonString(fields[f][1])}`;
  }
  return bytes[k] === CLOSE_OBJ ? ins : ins + ',';
}

/**
 * Events' bytes with their meta insertions, written back to back into one buffer: one
 * allocation per batch, and the log stores adjacent values without copying them again.
 */
export function spliceAll(parts: { bytes: Buffer; metaAt: number; ins: string }[]): Buffer[] {
  let total = 0;
  const insLens: number[] = new Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    insLens[i] = Buffer.byteLength(parts[i].ins, 'utf8');
    total += parts[i].bytes.length + insLens[i];
  }
  const out = Buffer.allocUnsafe(total);
  const values: Buffer[] = new Array(parts.length);
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    const { bytes, metaAt, ins } = parts[i];
    const start = pos;
    out.set(bytes.subarray(0, metaAt), pos);
    pos += metaAt;
    pos += out.write(ins, pos, 'utf8');
    out.set(bytes.subarray(metaAt), pos);
    pos += bytes.length - metaAt;
    values[i] = out.subarray(start, pos);
  }
  return values;
}

/**
 * The event's bytes with fields added at the start of its meta object (`metaAt` from
 * eventSpans, relative to `bytes`). Values are JSON-encoded here.
 */
export function withMetaFields(bytes: Buffer, metaAt: number, fields: [string, string][]): Buffer {
  return spliceAll([{ bytes, metaAt, ins: metaInsertion(bytes, metaAt, fields) }])[0];
}

/**
 * Whether the JSON text nests deeper than `max` arrays/objects. Checked before JSON.parse so
 * a hostile body (10,000 nested arrays) never reaches code that recurses over the parsed value
 * (validation, error reports, serialisation). Strings are skipped with memchr, as above.
 */
export function nestsDeeperThan(b: Buffer, max: number): boolean {
  let depth = 0;
  const n = b.length;
  for (let i = 0; i < n; i++) {
    const c = b[i];
    if (c === QUOTE) i = stringEnd(b, i);
    else if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (++depth > max) return true;
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) depth--;
  }
  return false;
}
