/**
 * A GGUF array of strings kept as its raw bytes until first use: the header parse only walks the
 * length prefixes (bounds-checked by the cursor), and the strings are decoded when `values` is first
 * read. A 151,936-token vocabulary and its merges are most of a GGUF header, and loading the model
 * never reads them; the tokenizer decodes them once. A string that is not UTF-8 is an error at first
 * use, naming the field, the index and the byte where that string starts in the file.
 */
import type { GgufArray } from "./values.js";

// ignoreBOM keeps a leading U+FEFF as a character of the string (the bytes are the token), as gguf-py reads it.
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * `n` GGUF strings (each a u64 length, then its bytes) held in `bytes`, which start at byte `fileOffset`
 * of the file; the lengths were checked against `bytes` when the cursor walked them. `what` names the
 * field in errors ("model.gguf: metadata 'tokenizer.ggml.tokens'").
 */
export function lazyStringArray(bytes: Uint8Array, n: number, fileOffset: number, what: string): Extract<GgufArray, { type: "string" }> {
  let decoded: string[] | undefined;
  const out = { type: "string" as const } as { type: "string"; values: string[] };
  Object.defineProperty(out, "values", {
    enumerable: true,
    configurable: true,
    get(): string[] {
      decoded ??= decodeStrings(bytes, n, fileOffset, what);
      return decoded;
    },
    set(v: string[]) {
      decoded = v;
    },
  });
  return out;
}

/**
 * Decodes all strings with one TextDecoder call over their bytes copied end to end (no length prefixes),
 * then cuts the result at UTF-16 lengths counted from the bytes. Valid UTF-8 as a whole with every
 * string starting on a character boundary means every string is valid on its own; otherwise each is
 * decoded alone to find the bad one.
 */
function decodeStrings(bytes: Uint8Array, n: number, fileOffset: number, what: string): string[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new Uint8Array(bytes.length - 8 * n);
  const units = new Uint32Array(n);
  let pos = 0;
  let w = 0;
  let boundaries = true;
  for (let i = 0; i < n; i++) {
    const len = dv.getUint32(pos, true);
    const s = pos + 8;
    if (len > 0 && (bytes[s]! & 0xc0) === 0x80) boundaries = false;
    let u = 0;
    // A byte loop, not subarray + set: two small allocations per string cost more than the copy.
    for (let j = s; j < s + len; j++) {
      const b = bytes[j]!;
      text[w++] = b;
      // one UTF-16 unit per character start, two for a 4-byte sequence (a surrogate pair)
      if ((b & 0xc0) !== 0x80) u += b >= 0xf0 ? 2 : 1;
    }
    units[i] = u;
    pos = s + len;
  }
  let all: string | undefined;
  if (boundaries) {
    try {
      all = UTF8.decode(text.subarray(0, w));
    } catch {
      all = undefined;
    }
  }
  if (all === undefined) return decodeOneByOne(bytes, n, fileOffset, what);
  const out = new Array<string>(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    out[i] = all.slice(at, at + units[i]!);
    at += units[i]!;
  }
  return out;
}

function decodeOneByOne(bytes: Uint8Array, n: number, fileOffset: number, what: string): string[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<string>(n);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const len = dv.getUint32(pos, true);
    try {
      out[i] = UTF8.decode(bytes.subarray(pos + 8, pos + 8 + len));
    } catch {
      throw new Error(`${what}[${i}] at byte ${fileOffset + pos + 8} is not valid UTF-8`);
    }
    pos += 8 + len;
  }
  return out;
}
