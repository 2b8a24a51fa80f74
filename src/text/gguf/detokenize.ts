/**
 * Ids → text as llama.cpp's `token_to_piece` / `detokenize`: control and unknown tokens render only
 * with `unparseSpecial`; user-defined tokens as their text; byte-level BPE tokens through GPT-2's byte
 * table; sentencepiece tokens with ▁ → space and `<0xXX>` byte tokens as their byte; the first token
 * loses one leading space when the vocabulary adds a space prefix; then, for vocabularies that ask for
 * it, llama.cpp's space cleanup (" ?" → "?", " 's" → "'s", ...). Pieces are bytes; the text is decoded
 * from UTF-8 at the end, so multi-byte characters split across tokens come out whole.
 */
import { byteOfChar, utf8 } from "./unicode.js";
import { ATTR, type GgufVocab } from "./vocab.js";

export interface DecodeOptions {
  /** drop a leading bos / trailing eos the vocabulary adds (default false) */
  removeSpecial?: boolean;
  /** render control tokens as their text (default false: they render as nothing) */
  unparseSpecial?: boolean;
}

const SPACE_MARK = "\u2581";

/** The bytes one token renders as. */
export function tokenPiece(vocab: GgufVocab, id: number, unparseSpecial: boolean): Uint8Array {
  const attr = vocab.attrs[id];
  if (attr === undefined) throw new Error(`token id ${id} is outside the vocabulary (${vocab.tokens.length} tokens)`);
  if (!unparseSpecial && attr & (ATTR.CONTROL | ATTR.UNKNOWN)) return new Uint8Array(0);
  const text = vocab.tokens[id]!;
  if (attr & (ATTR.CONTROL | ATTR.UNKNOWN | ATTR.USER_DEFINED)) return utf8(text);
  if (attr & ATTR.NORMAL) {
    if (vocab.kind === "spm") return utf8(text.replaceAll(SPACE_MARK, " "));
    const out: number[] = [];
    for (const ch of text) {
      const b = byteOfChar(ch);
      if (b !== undefined) out.push(b);
      else out.push(...utf8(`[UNK_BYTE_0x${[...utf8(ch)].map((x) => x.toString(16).padStart(2, "0")).join("")}${text}]`));
    }
    return Uint8Array.from(out);
  }
  if (attr & ATTR.BYTE) return Uint8Array.of(parseInt(text.slice(3, 5), 16));
  return new Uint8Array(0);
}

/** llama.cpp's three space-cleanup passes over the decoded bytes. */
function cleanSpaces(t: number[]): number[] {
  const SP = 0x20;
  const pass = (f: (t: number[], i: number, out: number[]) => number): number[] => {
    if (t.length === 0) return t;
    const out = [t[0]!];
    for (let i = 1; i < t.length; i++) i = f(t, i, out);
    return out;
  };
  // " ?", " !", " .", " ,"
  t = pass((t, i, out) => {
    const x = t[i]!;
    if (t[i - 1] === SP && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) out.pop();
    out.push(x);
    return i;
  });
  // " ' " → "'" (llama.cpp blanks the space after in place, so the next test sees a NUL there)
  t = t.slice();
  t = pass((t, i, out) => {
    const x = t[i]!;
    if (x === 0x27 && i + 1 < t.length && t[i - 1] === SP && t[i + 1] === SP) {
      out.pop();
      t[i + 1] = 0;
      out.push(x);
      return i + 1;
    }
    out.push(x);
    return i;
  });
  // " 's", " 'm", " 're", " 've"
  t = pass((t, i, out) => {
    const x = t[i]!;
    if (t[i - 1] === SP && x === 0x27 && i + 1 < t.length) {
      const x1 = t[i + 1];
      if (x1 === 0x73 || x1 === 0x6d) out.pop();
      else if (i + 2 < t.length && ((x1 === 0x72 && t[i + 2] === 0x65) || (x1 === 0x76 && t[i + 2] === 0x65))) out.pop();
    }
    out.push(x);
    return i;
  });
  return t;
}

const DECODER = new TextDecoder();

export function detokenize(vocab: GgufVocab, ids: readonly number[], opts: DecodeOptions = {}): string {
  let list = ids;
  let removeSpace = vocab.addSpacePrefix;
  if (opts.removeSpecial && vocab.addBos && list.length > 0 && list[0] === vocab.bos) {
    removeSpace = false;
    list = list.slice(1);
  }
  if (opts.removeSpecial && vocab.addEos && list.length > 0 && list[list.length - 1] === vocab.eos) list = list.slice(0, -1);
  let bytes: number[] = [];
  for (const id of list) {
    let piece = tokenPiece(vocab, id, opts.unparseSpecial ?? false);
    if (removeSpace && piece[0] === 0x20) piece = piece.subarray(1);
    removeSpace = false;
    for (const b of piece) bytes.push(b);
  }
  if (vocab.cleanSpaces) bytes = cleanSpaces(bytes);
  return DECODER.decode(Uint8Array.from(bytes));
}
