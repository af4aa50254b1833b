// MediaWiki's $wgLegalTitleChars is a PCRE byte class (UTF-8 bytes, e.g. `\x80-\xFF`).
// JavaScript regexes work on UTF-16 code units, so the class is rewritten: ASCII parts kept,
// any high byte turns into "every non-ASCII code unit" (which also covers surrogate pairs).

interface Token {
  /** The token as written (`\x41`, `\-`, `a`); a bare `-` marks a range. */
  raw: string;
  /** Its code point. */
  ord: number;
  /** Re-encoded for a JS character class. */
  out: string;
}

function tokenize(byteClass: string): Token[] {
  const tokens: Token[] = [];
  for (let pos = 0; pos < byteClass.length; pos++) {
    const ch = byteClass[pos]!;
    let raw = ch;
    let decoded = ch;
    if (ch === '\\') {
      const rest = byteClass.slice(pos + 1);
      let m: RegExpExecArray | null;
      if ((m = /^x([0-9a-fA-F]{2})/.exec(rest))) {
        raw = ch + m[0];
        decoded = String.fromCharCode(parseInt(m[1]!, 16));
        pos += m[0].length;
      } else if ((m = /^[0-7]{3}/.exec(rest))) {
        raw = ch + m[0];
        decoded = String.fromCharCode(parseInt(m[0], 8));
        pos += m[0].length;
      } else if (pos + 1 >= byteClass.length) {
        raw = decoded = '\\';
      } else {
        decoded = byteClass[pos + 1]!;
        raw = ch + decoded;
        pos += 1;
      }
    }
    const ord = decoded.charCodeAt(0);
    let out: string;
    if (ord < 0x20 || ord === 0x7f) out = `\\x${ord.toString(16).toUpperCase().padStart(2, '0')}`;
    else if ('-\\[]^'.includes(decoded)) out = `\\${decoded}`;
    else out = decoded;
    tokens.push({ raw, ord, out });
  }
  return tokens;
}

/** Converts a PCRE byte class body (as in siteinfo `legaltitlechars`) to a JS UTF-16 class body. */
export function convertByteClassToUnicodeClass(byteClass: string): string {
  const tokens = tokenize(byteClass);
  let out = '';
  let allowUnicode = false;
  for (let i = 0; i < tokens.length; ) {
    const lo = tokens[i]!;
    const dash = tokens[i + 1];
    const hi = tokens[i + 2];
    if (dash?.raw === '-' && hi) {
      if (lo.ord < hi.ord) {
        if (hi.ord >= 0x80) {
          allowUnicode = true;
          if (lo.ord < 0x80) out += `${lo.out}-\\x7F`; // keep the ASCII part of the range
        } else {
          out += `${lo.out}-${hi.out}`;
        }
      }
      i += 3;
      continue;
    }
    if (lo.ord >= 0x80) allowUnicode = true;
    else out += lo.out;
    i += 1;
  }
  if (allowUnicode) out += '\\u0080-\\uFFFF';
  return out;
}
