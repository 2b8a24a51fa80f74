/**
 * Code point classes as llama.cpp's tokenizer sees them (src/unicode.h `unicode_cpt_flags`): one general
 * category (number, letter, separator, mark, punctuation, symbol, control; UNDEFINED for unassigned
 * code points) plus White_Space. Computed from the JS engine's Unicode property escapes, one code point
 * at a time on first use, and cached.
 *
 * Also GPT-2's byte-level encoding (every byte ↔ one printable character) used by byte-level BPE vocabularies.
 */

export const UNDEFINED = 0x0001;
export const NUMBER = 0x0002;
export const LETTER = 0x0004;
export const SEPARATOR = 0x0008;
export const ACCENT_MARK = 0x0010;
export const PUNCTUATION = 0x0020;
export const SYMBOL = 0x0040;
export const CONTROL = 0x0080;
export const CATEGORIES = 0x00ff;
export const WHITESPACE = 0x0100;
const COMPUTED = 0x8000;

const MAX_CODEPOINT = 0x110000;
let table: Uint16Array | null = null;

const CLASSES: [RegExp, number][] = [
  [/\p{L}/u, LETTER],
  [/\p{N}/u, NUMBER],
  [/\p{Z}/u, SEPARATOR],
  [/\p{M}/u, ACCENT_MARK],
  [/\p{P}/u, PUNCTUATION],
  [/\p{S}/u, SYMBOL],
  [/[\p{Cc}\p{Cf}\p{Cs}\p{Co}]/u, CONTROL],
];
const WHITE = /\p{White_Space}/u;

/** The flags of one code point (0 outside Unicode, like llama.cpp's out-of-range lookups). */
export function cptFlags(cp: number): number {
  if (cp < 0 || cp >= MAX_CODEPOINT) return 0;
  table ??= new Uint16Array(MAX_CODEPOINT);
  const cached = table[cp]!;
  if (cached & COMPUTED) return cached & ~COMPUTED;
  const ch = String.fromCodePoint(cp);
  let f = UNDEFINED;
  for (const [re, flag] of CLASSES) {
    if (re.test(ch)) {
      f = flag;
      break;
    }
  }
  if (WHITE.test(ch)) f |= WHITESPACE;
  table[cp] = f | COMPUTED;
  return f;
}

/** Code points of a string (lone surrogates become U+FFFD, as UTF-8 encoding makes them). */
export function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    out.push(cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp);
  }
  return out;
}

export function fromCodePoints(cps: readonly number[], start = 0, end = cps.length): string {
  let s = "";
  for (let i = start; i < end; i += 4096) s += String.fromCodePoint(...cps.slice(i, Math.min(end, i + 4096)));
  return s;
}

/** ASCII lowercase (the only case mapping the splitters use: contractions 's 't 're 've 'm 'll 'd). */
export function asciiLower(cp: number): number {
  return cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp;
}

let byteToChar: string[] | null = null;
let charToByte: Map<string, number> | null = null;

/** GPT-2's byte → character table: printable Latin-1 bytes map to themselves, the rest to U+0100 + n. */
export function byteLevelChars(): string[] {
  if (!byteToChar) {
    const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    byteToChar = [];
    let n = 0;
    for (let b = 0; b < 256; b++) byteToChar.push(String.fromCodePoint(keep(b) ? b : 256 + n++));
  }
  return byteToChar;
}

/** The byte a byte-level character stands for, or undefined. */
export function byteOfChar(ch: string): number | undefined {
  charToByte ??= new Map(byteLevelChars().map((c, b) => [c, b]));
  return charToByte.get(ch);
}

const ENCODER = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return ENCODER.encode(text);
}

/** A string's UTF-8 bytes written as byte-level characters. */
export function byteLevelEncode(text: string): string {
  const map = byteLevelChars();
  let s = "";
  for (const b of ENCODER.encode(text)) s += map[b];
  return s;
}
