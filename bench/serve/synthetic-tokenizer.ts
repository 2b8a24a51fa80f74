/**
 * A synthetic byte-level BPE tokenizer as large as a synthetic model's vocabulary, so a server can
 * talk text to it: ids 0-255 are the bytes (GPT-2's byte-to-unicode alphabet), then every pair of
 * printable ASCII characters, then printable triples, up to the vocabulary size less three ChatML
 * special tokens (<|endoftext|>, <|im_start|>, <|im_end|>) at the top. Every multi-byte token is
 * ASCII, so what a random model writes is mostly readable and decodes token for token.
 */
import { AutoTokenizer } from "../../src/text/auto-tokenizer.js";
import type { TextTokenizer } from "../../src/text/tokenizer.js";

const CHATML = `{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}`;
export const SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/** GPT-2's printable stand-ins for the 256 bytes. */
function byteAlphabet(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++);
  return out;
}

export function syntheticTokenizerJson(vocabSize: number): Record<string, unknown> {
  const alphabet = byteAlphabet();
  const printable = Array.from({ length: 95 }, (_, i) => alphabet[32 + i]!);
  const vocab: Record<string, number> = {};
  alphabet.forEach((c, b) => (vocab[c] = b));
  const merges: [string, string][] = [];
  const room = vocabSize - SPECIAL.length;
  let id = 256;
  for (const a of printable) for (const b of printable) if (id < room) {
    vocab[a + b] = id++;
    merges.push([a, b]);
  }
  outer: for (const a of printable) for (const b of printable) for (const c of printable) {
    if (id >= room) break outer;
    vocab[a + b + c] = id++;
    merges.push([a + b, c]);
  }
  if (id < room) throw new Error(`synthetic tokenizer: a vocabulary of ${vocabSize} is larger than this scheme fills`);
  const added = SPECIAL.map((content, i) => ({ id: room + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  for (const t of added) vocab[t.content] = t.id;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}

/** The tokenizer, with a ChatML template; eos is <|im_end|>. */
export function syntheticTokenizer(vocabSize: number): { tokenizer: TextTokenizer; eosId: number } {
  const tokenizer = AutoTokenizer.fromFiles({
    tokenizerJson: syntheticTokenizerJson(vocabSize),
    tokenizerConfig: { eos_token: "<|im_end|>", pad_token: "<|endoftext|>", bos_token: null },
    chatTemplates: CHATML,
    source: `synthetic byte-level tokenizer (${vocabSize})`,
  });
  return { tokenizer, eosId: vocabSize - 1 };
}
