/**
 * Byte-level BPE over one pre-tokenized word, as llama.cpp's `llm_tokenizer_bpe_session` runs it: the
 * word's characters are symbols; the adjacent pair with the lowest merge rank (leftmost on ties) merges
 * first, until no pair has a rank. A finished symbol missing from the vocabulary falls back to its bytes
 * one by one, of which only those that are tokens by themselves are kept (llama.cpp drops the others).
 */
import { Heap } from "./heap.js";
import { utf8 } from "./unicode.js";
import { mergeKey, type GgufVocab } from "./vocab.js";

interface Bigram {
  left: number;
  right: number;
  text: string;
  rank: number;
}

const before = (a: Bigram, b: Bigram) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

export function bpeWord(vocab: GgufVocab, word: string, out: number[]): void {
  if (vocab.ignoreMerges && vocab.tokenToId.has(word)) {
    out.push(vocab.tokenToId.get(word)!);
    return;
  }
  const text = Array.from(word);
  const n = text.length;
  const sym = text.slice();
  const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
  const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
  const queue = new Heap<Bigram>(before);
  const add = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const rank = vocab.merges.get(mergeKey(sym[left]!, sym[right]!));
    if (rank === undefined) return;
    queue.push({ left, right, text: sym[left]! + sym[right]!, rank });
  };
  for (let i = 1; i < n; i++) add(i - 1, i);
  for (let b = queue.pop(); b !== undefined; b = queue.pop()) {
    const l = sym[b.left]!;
    const r = sym[b.right]!;
    if (l.length === 0 || r.length === 0 || l + r !== b.text) continue;
    sym[b.left] = b.text;
    sym[b.right] = "";
    next[b.left] = next[b.right]!;
    if (next[b.right]! >= 0) prev[next[b.right]!] = b.left;
    add(prev[b.left]!, b.left);
    add(b.left, next[b.left]!);
  }
  for (let i = 0; i !== -1 && n > 0; i = next[i]!) {
    const s = sym[i]!;
    if (s.length === 0) continue;
    const id = vocab.tokenToId.get(s);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const byte of utf8(s)) {
      const single = byte < 0x80 ? vocab.tokenToId.get(String.fromCharCode(byte)) : undefined;
      if (single !== undefined) out.push(single);
    }
  }
}
