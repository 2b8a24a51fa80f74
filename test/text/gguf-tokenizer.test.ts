/**
 * GGUF tokenizers against llama.cpp: test/fixtures/gguf/vocab/ holds, per family, llama.cpp's ids and
 * decoded texts for its own test strings plus multilingual, emoji, whitespace-run, code and
 * special-token strings (scripts/gguf-vocab-fixtures.ts, through node-llama-cpp), and the vocabulary
 * pruned to what those strings use, ids renumbered (`moekit.test.original_ids` maps them back).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { BufferSource } from "../../src/loading/byte-source.js";
import { encodeGguf, GgufFile, type GgufMetadata, type GgufValue } from "../../src/loading/gguf/index.js";
import { GgufTokenizer } from "../../src/text/gguf/index.js";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "gguf", "vocab");

interface Case {
  text: string;
  parse_special: boolean;
  ids: number[];
  decoded: string;
  decoded_special: string;
}
interface Record {
  family: string;
  vocab: string;
  add_bos: boolean;
  add_eos: boolean;
  bos: number | null;
  eos: number | null;
  eog: number[];
  cases: Case[];
}

async function load(r: Record): Promise<{ tok: GgufTokenizer; orig: Int32Array; toNew: Map<number, number>; g: GgufFile }> {
  const g = await GgufFile.open(new BufferSource(r.vocab, new Uint8Array(readFileSync(join(DIR, r.vocab)))));
  const v = g.get("moekit.test.original_ids");
  assert.ok(v?.type === "array" && v.value.type === "int32");
  const orig = v.value.values as Int32Array;
  return { tok: GgufTokenizer.fromGguf(g), orig, toNew: new Map(Array.from(orig, (o, n) => [o, n])), g };
}

const records: Record[] = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(DIR, f), "utf8")) as Record);

describe("GGUF tokenizers give llama.cpp's ids", () => {
  it("covers the families moekit's models use", () => {
    assert.deepEqual(
      records.map((r) => r.family),
      ["deepseek-llm", "deepseek-v3", "default", "gpt-4o", "llama-bpe", "llama-spm", "olmo", "phi-3", "qwen2", "refact"],
    );
  });

  for (const r of records) {
    describe(r.family, () => {
      it(`encodes all ${r.cases.length} strings exactly (special tokens parsed and not)`, async () => {
        const { tok, orig } = await load(r);
        const bad: string[] = [];
        for (const c of r.cases) {
          const got = tok.encode(c.text, { addSpecial: false, parseSpecial: c.parse_special }).map((i) => orig[i]!);
          if (JSON.stringify(got) !== JSON.stringify(c.ids)) bad.push(`${JSON.stringify(c.text)} (parse ${c.parse_special}): ${got.join(" ")} ≠ ${c.ids.join(" ")}`);
        }
        assert.deepEqual(bad, []);
      });

      it("decodes llama.cpp's ids to its texts, with and without special tokens", async () => {
        const { tok, toNew } = await load(r);
        for (const c of r.cases) {
          const ids = c.ids.map((i) => toNew.get(i)!);
          assert.equal(tok.decode(ids), c.decoded, JSON.stringify(c.text));
          assert.equal(tok.decode(ids, { unparseSpecial: true }), c.decoded_special, JSON.stringify(c.text));
        }
      });

      it("has llama.cpp's bos/eos, add_bos/add_eos and end-of-generation tokens", async () => {
        const { tok, orig } = await load(r);
        const v = tok.vocab;
        assert.equal(v.addBos, r.add_bos);
        assert.equal(v.addEos, r.add_eos);
        assert.equal(v.bos === null ? null : orig[v.bos], r.bos);
        assert.equal(v.eos === null ? null : orig[v.eos], r.eos);
        const eog = v.specialTokens.filter((i) => v.eog.has(i)).map((i) => orig[i]!).sort((a, b) => a - b);
        assert.deepEqual(eog, r.eog);
        const plain = r.cases.find((c) => c.text === "Hello world" && !c.parse_special)!;
        const withSpecial = tok.encode("Hello world").map((i) => orig[i]!);
        assert.deepEqual(withSpecial, [...(r.add_bos ? [r.bos!] : []), ...plain.ids, ...(r.add_eos ? [r.eos!] : [])]);
      });
    });
  }
});

describe("GGUF tokenizer details", () => {
  const rec = (family: string) => records.find((r) => r.family === family)!;

  it("decodes a multi-byte character split across byte tokens whole, and text round-trips", async () => {
    const { tok } = await load(rec("qwen2"));
    // (strings of the fixture: the pruned vocabulary holds only what those need)
    for (const text of ["emoji🙂inside", "中文测试：你好，世界！", "line1\nline2\r\nline3\n\n\nend", "🙂 😀😃 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ 🏳️‍🌈"]) {
      assert.equal(tok.decode(tok.encode(text, { parseSpecial: false })), text);
    }
  });

  it("renders tokenizer.chat_template through @huggingface/jinja, and parses its special tokens", async () => {
    const { tok, orig } = await load(rec("qwen2"));
    const prompt = await tok.chatPrompt("Hi there");
    assert.equal(prompt, "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n");
    const ids = tok.encode(prompt).map((i) => orig[i]!);
    assert.equal(ids[0], 151644);
    assert.equal(ids.filter((i) => i === 151645).length, 2);
  });

  async function withMeta(change: (m: GgufMetadata) => void): Promise<GgufFile> {
    const { g } = await load(rec("qwen2"));
    const m: GgufMetadata = new Map(g.metadata);
    change(m);
    return GgufFile.open(new BufferSource("bad.gguf", encodeGguf(m, [])));
  }
  const bad: [string, (m: GgufMetadata) => void, RegExp][] = [
    ["an unknown tokenizer model", (m) => m.set("tokenizer.ggml.model", { type: "string", value: "t5" }), /tokenizer\.ggml\.model 't5' is not one moekit reads/],
    ["an unknown pre-tokenizer", (m) => m.set("tokenizer.ggml.pre", { type: "string", value: "nonesuch" }), /tokenizer\.ggml\.pre 'nonesuch' is not a pre-tokenizer moekit implements/],
    ["tokens of the wrong type", (m) => m.set("tokenizer.ggml.tokens", { type: "array", value: { type: "int32", values: Int32Array.of(1) } }), /'tokenizer\.ggml\.tokens' is array of int32, expected array of string/],
    ["a missing token list", (m) => m.delete("tokenizer.ggml.tokens"), /'tokenizer\.ggml\.tokens' is missing/],
    ["missing merges", (m) => m.delete("tokenizer.ggml.merges"), /'tokenizer\.ggml\.merges' is missing/],
    ["token types of the wrong type", (m) => m.set("tokenizer.ggml.token_type", { type: "array", value: { type: "float32", values: Float32Array.of(1) } }), /'tokenizer\.ggml\.token_type' is array of float32, expected array of int32/],
    ["too few token types", (m) => m.set("tokenizer.ggml.token_type", { type: "array", value: { type: "int32", values: Int32Array.of(1, 1) } }), /'tokenizer\.ggml\.token_type' has 2 entries for \d+ tokens/],
    [
      "a duplicated token",
      (m) => {
        const t = (m.get("tokenizer.ggml.tokens") as Extract<GgufValue, { type: "array" }>).value.values as string[];
        m.set("tokenizer.ggml.tokens", { type: "array", value: { type: "string", values: [...t.slice(0, -1), t[0]!] } });
      },
      /tokenizer\.ggml\.tokens holds '.*' twice \(ids 0 and \d+\)/,
    ],
    ["a model name of the wrong type", (m) => m.set("tokenizer.ggml.model", { type: "uint32", value: 1 }), /'tokenizer\.ggml\.model' is uint32, expected a string/],
  ];
  for (const [what, change, expected] of bad) {
    it(`names the key on ${what}`, async () => {
      const g = await withMeta(change);
      assert.throws(() => GgufTokenizer.fromGguf(g), expected);
    });
  }

  it("refuses an id outside the vocabulary when decoding", async () => {
    const { tok } = await load(rec("llama-spm"));
    assert.throws(() => tok.decode([tok.vocab.tokens.length]), /token id \d+ is outside the vocabulary/);
  });
});
