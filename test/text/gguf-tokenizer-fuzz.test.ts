/**
 * Property tests of the GGUF tokenizers on complete byte vocabularies (every byte is a token, so no
 * text can lose bytes): for every pre-tokenizer moekit implements, any string encodes without error
 * and its tokens' pieces concatenate to the string's UTF-8 bytes; sentencepiece with byte fallback the
 * same, after its space prefix.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BufferSource } from "../../src/loading/byte-source.js";
import { encodeGguf, GgufFile, type GgufMetadata, type GgufValue } from "../../src/loading/gguf/index.js";
import { tokenPiece } from "../../src/text/gguf/detokenize.js";
import { GgufTokenizer } from "../../src/text/gguf/index.js";
import { byteLevelChars } from "../../src/text/gguf/unicode.js";

const PRE_NAMES = [
  "default", "llama-bpe", "dbrx", "deepseek-llm", "deepseek-v3", "deepseek-coder", "falcon", "starcoder", "refact", "command-r",
  "gpt-2", "olmo", "qwen2", "qwen35", "stablelm2", "poro-chat", "glm4", "viking", "gpt-4o", "seed-coder", "bailingmoe", "tekken", "laguna",
];

const str = (value: string): GgufValue => ({ type: "string", value });
const strings = (values: string[]): GgufValue => ({ type: "array", value: { type: "string", values } });

async function tokenizer(meta: [string, GgufValue][]): Promise<GgufTokenizer> {
  const m: GgufMetadata = new Map([["general.architecture", str("test")], ...meta]);
  return GgufTokenizer.fromGguf(await GgufFile.open(new BufferSource("vocab.gguf", encodeGguf(m, []))));
}

function bpeMeta(pre: string): [string, GgufValue][] {
  const bytes = byteLevelChars();
  // A few merges so merging runs too: "Ġ" + "t", "h" + "e", "Ġt" + "he".
  const tokens = [...bytes, "Ġt", "he", "Ġthe", "<|special|>"];
  return [
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.pre", str(pre)],
    ["tokenizer.ggml.tokens", strings(tokens)],
    ["tokenizer.ggml.token_type", { type: "array", value: { type: "int32", values: Int32Array.from(tokens, (t) => (t === "<|special|>" ? 3 : 1)) } }],
    ["tokenizer.ggml.merges", strings(["Ġ t", "h e", "Ġt he"])],
  ];
}

const text = fc.oneof(
  fc.string({ maxLength: 80, unit: "grapheme" }),
  fc.string({ maxLength: 80, unit: "binary" }),
  fc.array(fc.constantFrom(" ", "  ", "\n", "\r\n", "\t", "the", "The", "'s", "'LL", "123456", "中文", "🙂", "👨‍👩‍👧", "\u00a0", "\u3000", "a\u0301", ",", "...", "<|special|>"), { maxLength: 30 }).map((a) => a.join("")),
);

/** The UTF-8 a JS string encodes to (lone surrogates become U+FFFD, as everywhere). */
const utf8 = (s: string) => new TextEncoder().encode(s);

function pieces(tok: GgufTokenizer, ids: number[]): Uint8Array {
  const parts = ids.map((i) => tokenPiece(tok.vocab, i, true));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe("GGUF tokenizers under fast-check", () => {
  for (const pre of PRE_NAMES) {
    it(`byte-level BPE with pre '${pre}': every string's bytes come back from its tokens`, async () => {
      const tok = await tokenizer(bpeMeta(pre));
      fc.assert(
        fc.property(text, fc.boolean(), (s, parse) => {
          const ids = tok.encode(s, { addSpecial: false, parseSpecial: parse });
          assert.deepEqual(pieces(tok, ids), utf8(s));
        }),
        { numRuns: 80 },
      );
    });
  }

  it("sentencepiece with byte fallback: every string's bytes come back, after the space prefix", async () => {
    const hex = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    const words = ["▁the", "▁", "th", "e", "▁t", "中", "文"];
    const tokens = ["<unk>", "<s>", "</s>", ...hex, ...words];
    const tok = await tokenizer([
      ["tokenizer.ggml.model", str("llama")],
      ["tokenizer.ggml.tokens", strings(tokens)],
      ["tokenizer.ggml.scores", { type: "array", value: { type: "float32", values: Float32Array.from(tokens, (_, i) => -i) } }],
      ["tokenizer.ggml.token_type", { type: "array", value: { type: "int32", values: Int32Array.from(tokens, (t, i) => (i === 0 ? 2 : i < 3 ? 3 : t.startsWith("<0x") ? 6 : 1)) } }],
    ]);
    fc.assert(
      fc.property(text, (s) => {
        const ids = tok.encode(s, { addSpecial: false, parseSpecial: false });
        assert.deepEqual(pieces(tok, ids), utf8(s.length > 0 ? ` ${s}` : s));
      }),
      { numRuns: 200 },
    );
  });
});
