/**
 * SentencePiece-style BPE as llama.cpp's `llm_tokenizer_spm_session` runs it: characters are symbols;
 * the adjacent pair whose concatenation is a token with the highest score (leftmost on ties) merges
 * first. A finished symbol that is not a token becomes byte tokens (`<0xXX>`, else the byte's own
 * one-character token). (llama.cpp's `resegment` also re-splits along recorded merges, but a symbol only
 * ever grows by a merge whose result is a token, so a non-token symbol is always a single character.)
 */
import { Heap } from "./heap.js";
import { utf8 } from "./unicode.js";
import type { GgufVocab } from "./vocab.js";

interface Bigram {
  left: number;
  right: number;
  score: number;
  size: number;
}

const before = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);

function byteToken(vocab: GgufVocab, byte: number): number {
  const hex = `<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`;
  const id = vocab.tokenToId.get(hex) ?? vocab.tokenToId.get(String.fromCharCode(byte));
  if (id === undefined) throw new Error(`the vocabulary has no token for byte 0x${byte.toString(16)} (no ${hex})`);
  return id;
}

export function spmText(vocab: GgufVocab, text: string, out: number[]): void {
  const chars = Array.from(text);
  const n = chars.length;
  const sym = chars.slice();
  const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
  const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
  const queue = new Heap<Bigram>(before);
  const tryAdd = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const joined = sym[left]! + sym[right]!;
    const id = vocab.tokenToId.get(joined);
    if (id === undefined) return;
    queue.push({ left, right, score: vocab.scores[id]!, size: joined.length });
  };
  for (let i = 1; i < n; i++) tryAdd(i - 1, i);
  for (let b = queue.pop(); b !== undefined; b = queue.pop()) {
    const l = sym[b.left]!;
    const r = sym[b.right]!;
    if (l.length === 0 || r.length === 0 || l.length + r.length !== b.size) continue;
    sym[b.left] = l + r;
    sym[b.right] = "";
    next[b.left] = next[b.right]!;
    if (next[b.right]! >= 0) prev[next[b.right]!] = b.left;
    tryAdd(prev[b.left]!, b.left);
    tryAdd(b.left, next[b.left]!);
  }
  for (let i = 0; i !== -1 && n > 0; i = next[i]!) {
    const s = sym[i]!;
    const id = vocab.tokenToId.get(s);
    if (id !== undefined) out.push(id);
    else for (const byte of utf8(s)) out.push(byteToken(vocab, byte));
  }
}
