/**
 * Splits text around special tokens before tokenizing, as llama.cpp's `tokenizer_st_partition`: the
 * special tokens are tried longest first; each one is cut out of every remaining text fragment, every
 * occurrence left to right. Without `parseSpecial` only user-defined tokens are cut (control and unknown
 * tokens stay text). Tokens with LSTRIP / RSTRIP also eat the ASCII whitespace before / after them.
 */
import { ATTR, type GgufVocab } from "./vocab.js";

export type Fragment = { text: string } | { token: number };

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r";

export function splitSpecial(vocab: GgufVocab, text: string, parseSpecial: boolean): Fragment[] {
  let frags: Fragment[] = text.length > 0 ? [{ text }] : [];
  for (const id of vocab.specialTokens) {
    const attr = vocab.attrs[id]!;
    if (!parseSpecial && attr & (ATTR.CONTROL | ATTR.UNKNOWN)) continue;
    const special = vocab.tokens[id]!;
    const next: Fragment[] = [];
    for (const f of frags) {
      if (!("text" in f)) {
        next.push(f);
        continue;
      }
      let rest = f.text;
      for (let at = rest.indexOf(special); at >= 0; at = rest.indexOf(special)) {
        let left = rest.slice(0, at);
        if (attr & ATTR.LSTRIP) while (isSpace(left[left.length - 1])) left = left.slice(0, -1);
        if (left.length > 0) next.push({ text: left });
        next.push({ token: id });
        rest = rest.slice(at + special.length);
        if (attr & ATTR.RSTRIP) {
          let k = 0;
          while (isSpace(rest[k])) k++;
          rest = rest.slice(k);
        }
      }
      if (rest.length > 0) next.push({ text: rest });
    }
    frags = next;
  }
  return frags;
}
