// First-letter capitalisation as MediaWiki does it (Language::ucfirst on PHP's mbstring),
// which differs from JavaScript's full Unicode uppercasing in a few places:
// - characters whose full uppercase is several characters (ß → SS, ﬁ → FI) stay as they are,
//   except the Greek letters with ypogegrammeni, which take their single-character titlecase
//   form (ᾀ → ᾈ, ᾳ → ᾼ);
// - the Latin digraphs DŽ/LJ/NJ/DZ take their titlecase form (ǆ → ǅ);
// - the combining ypogegrammeni, small Roman numerals, circled letters and Georgian Mkhedruli
//   letters are not uppercased;
// - tr/az/kaa/kk uppercase a dotless-context `i` to `İ`.

const DOTTED_I_LANGS = new Set(['tr', 'az', 'kaa', 'kk']);

const TITLECASE_DIGRAPHS = new Map<number, number>([
  [0x01c5, 0x01c5], [0x01c6, 0x01c5],
  [0x01c8, 0x01c8], [0x01c9, 0x01c8],
  [0x01cb, 0x01cb], [0x01cc, 0x01cb],
  [0x01f2, 0x01f2], [0x01f3, 0x01f2],
]);

function keptAsIs(cp: number): boolean {
  return (
    cp === 0x0345 ||
    (cp >= 0x2170 && cp <= 0x217f) || // small Roman numerals
    (cp >= 0x24d0 && cp <= 0x24e9) || // circled small letters
    (cp >= 0x10d0 && cp <= 0x10fa) || // Georgian Mkhedruli
    (cp >= 0x10fd && cp <= 0x10ff)
  );
}

/** The uppercase form MediaWiki gives one character (a full code point). */
export function phpCharToUpper(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x80) return cp >= 0x61 && cp <= 0x7a ? String.fromCharCode(cp - 32) : ch;
  const digraph = TITLECASE_DIGRAPHS.get(cp);
  if (digraph !== undefined) return String.fromCharCode(digraph);
  if (keptAsIs(cp)) return ch;
  const upper = ch.toUpperCase();
  if (upper.length === ch.length || [...upper].length === 1) return upper;
  // Multi-character full mapping: PHP keeps the character, except the iota-subscript letters.
  if (cp >= 0x1f80 && cp <= 0x1faf) return (cp & 0x0f) < 8 ? String.fromCharCode(cp + 8) : ch;
  if (cp === 0x1fb3 || cp === 0x1fc3 || cp === 0x1ff3) return String.fromCharCode(cp + 9);
  return ch;
}

/** Capitalises the first character of `s` for a wiki in language `lang`. */
export function ucfirst(s: string, lang: string): string {
  if (s === '') return s;
  const c0 = s.charCodeAt(0);
  if (c0 >= 0x41 && c0 <= 0x5a) return s; // already uppercase ASCII: the common case
  if (c0 === 0x69 /* i */ && DOTTED_I_LANGS.has(lang)) return `İ${s.slice(1)}`;
  const first = String.fromCodePoint(s.codePointAt(0)!);
  const upper = phpCharToUpper(first);
  return upper === first ? s : upper + s.slice(first.length);
}
