/**
 * `moekit convert` writes the checkpoint's tokenizer into the GGUF: a real vocabulary (Qwen3's
 * tokenizer.json) read back by moekit's llama.cpp-compatible GGUF tokenizer gives the Hugging Face ids,
 * text and chat rendering; the pre-tokenizer is the one that splits as tokenizer.json does; tokenizers
 * that cannot convert fail naming why; a converted fixture model generates from text, and llama.cpp
 * (node-llama-cpp, where bench/peers/llama-cpp is installed) tokenizes the converted file as the
 * checkpoint does.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { convertCommand } from "../../src/cli/convert.js";
import { generateCommand } from "../../src/cli/generate.js";
import { BufferSource } from "../../src/loading/byte-source.js";
import { GgufFile } from "../../src/loading/gguf/reader.js";
import { encodeGguf } from "../../src/loading/gguf/writer.js";
import { tokenizerMetadata } from "../../src/loading/gguf-model/tokenizer-metadata.js";
import { AutoTokenizer } from "../../src/text/index.js";
import { GgufTextTokenizer } from "../../src/text/gguf/text-tokenizer.js";
import { readTokenizerFiles, type JsonObject } from "../../src/text/tokenizer-files.js";
import { TextTokenizer } from "../../src/text/tokenizer.js";
import { F32, familyDir } from "../models/model-fixtures.js";
import { modelDir, tokenizerJson } from "../text/chat-fixtures.js";
import { llamaCppPeer } from "../helpers/llama-cpp-peer.js";

const TEXTS = [
  "The quick brown fox jumps over the lazy dog; it's 1234 km/h!",
  "Grüße aus Köln — 東京タワーは高い。 Москва 2024 🦊🦊",
  "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n",
  "    indented\n\n\n\ttab   trailing   ",
  "x=[1,2,3]; y = {k: v for k, v in d.items()}  # comment",
];
const tmp: string[] = [];
// before any suite is declared: a top-level await between suites lets the file's after() run too early
const { peer, why } = await llamaCppPeer();
after(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function ggufTokenizer(entries: [string, unknown][]): Promise<GgufTextTokenizer> {
  const bytes = encodeGguf(new Map(entries as never), []);
  return GgufTextTokenizer.fromGguf(await GgufFile.open(new BufferSource("converted.gguf", bytes)));
}

function entry(entries: [string, { value: unknown }][], key: string): unknown {
  return entries.find(([k]) => k === key)?.[1].value;
}

describe("tokenizer metadata for moekit convert", () => {
  it("Qwen3's tokenizer converts to llama.cpp's qwen2 pre-tokenizer and gives the Hugging Face ids, text and template", async () => {
    const files = await readTokenizerFiles(modelDir("qwen3"));
    const hf = new TextTokenizer(files);
    const entries = await tokenizerMetadata(hf, files.tokenizerJson, files.tokenizerConfig ?? {}, { vocab_size: 151936 });
    assert.equal(entry(entries, "tokenizer.ggml.pre"), "qwen2");
    assert.equal(entry(entries, "tokenizer.ggml.model"), "gpt2");
    assert.equal(entry(entries, "tokenizer.ggml.eos_token_id"), hf.tokenToId("<|im_end|>"));
    assert.equal(entry(entries, "tokenizer.ggml.padding_token_id"), hf.tokenToId("<|endoftext|>"));
    assert.equal(entry(entries, "tokenizer.ggml.add_bos_token"), false);
    const tokens = entry(entries, "tokenizer.ggml.tokens") as { values: string[] };
    assert.equal(tokens.values.length, 151936);
    assert.equal(tokens.values[151935], "[PAD151935]");
    const types = entry(entries, "tokenizer.ggml.token_type") as { values: Int32Array };
    assert.deepEqual([types.values[100], types.values[hf.tokenToId("<|im_start|>")!], types.values[151935]], [1, 3, 5]);

    const gg = await ggufTokenizer(entries);
    for (const text of TEXTS) {
      const ids = hf.encode(text);
      assert.deepEqual(gg.encode(text), ids, `ids of ${JSON.stringify(text)}`);
      assert.equal(gg.decode(ids), hf.decode(ids), `text of ${JSON.stringify(text)}`);
    }
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi 你好 🙂" },
    ];
    assert.deepEqual(gg.applyChatTemplate(messages, { addGenerationPrompt: true }), hf.applyChatTemplate(messages, { addGenerationPrompt: true }), "chat template ids");
  });

  it("fails naming the cause: ids past vocab_size, a sentencepiece-style tokenizer, a split no llama.cpp pre-tokenizer makes", async () => {
    const files = await readTokenizerFiles(modelDir("qwen3"));
    const hf = new TextTokenizer(files);
    await assert.rejects(tokenizerMetadata(hf, files.tokenizerJson, {}, { vocab_size: 1000 }), /has id 151\d+, but config.json vocab_size is 1000/);

    const spm = JSON.parse(tokenizerJson("llama-spm").toString("utf8")) as JsonObject;
    await assert.rejects(tokenizerMetadata(new TextTokenizer({ tokenizerJson: spm, source: "spm" }), spm, {}, { vocab_size: 32000 }), /sentencepiece-style.*--no-tokenizer/);

    const odd = structuredClone(files.tokenizerJson) as { pre_tokenizer: { pretokenizers: { pattern?: { Regex: string } }[] } };
    odd.pre_tokenizer.pretokenizers[0]!.pattern = { Regex: "\\p{L}{1,2}|[^\\p{L}]+" };
    const oddTok = new TextTokenizer({ tokenizerJson: odd as unknown as JsonObject, tokenizerConfig: files.tokenizerConfig, source: "odd" });
    await assert.rejects(tokenizerMetadata(oddTok, odd as unknown as JsonObject, {}, { vocab_size: 151936 }), /odd: no llama.cpp pre-tokenizer splits text as this tokenizer.json does/);
  });
});

/** Qwen3's tokenizer cut to the 509 first ids (the byte symbols and the earliest merges) plus three specials, to fit a fixture model of 512 ids. */
function smallQwenTokenizer(): JsonObject {
  const full = JSON.parse(tokenizerJson("qwen3-bpe").toString("utf8")) as { model: { vocab: Record<string, number>; merges: [string, string][] }; added_tokens: { id: number; content: string }[] };
  const vocab = Object.fromEntries(Object.entries(full.model.vocab).filter(([, id]) => id < 509));
  const merges = full.model.merges.filter(([a, b]) => a in vocab && b in vocab && a + b in vocab);
  const added = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"].map((content, i) => ({ ...full.added_tokens.find((t) => t.content === content)!, id: 509 + i }));
  return { ...full, model: { ...full.model, vocab, merges }, added_tokens: added } as unknown as JsonObject;
}

/** qwen2_moe's fixture with smallQwenTokenizer(), converted to an f32 GGUF (once). */
let converted: Promise<{ dir: string; out: string; log: string }> | undefined;
function convertedFixture(): Promise<{ dir: string; out: string; log: string }> {
  converted ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "moekit-convert-tok-"));
    tmp.push(dir);
    cpSync(familyDir(F32, "qwen2_moe"), dir, { recursive: true });
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(smallQwenTokenizer()));
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|im_end|>", pad_token: "<|endoftext|>", chat_template: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}" }));
    const out = join(dir, "model.gguf");
    let log = "";
    const code = await convertCommand([dir, "-o", out, "--dtype", "f32"], { out: () => {}, err: (s: string) => void (log += s) });
    if (code !== 0) throw new Error(`moekit convert failed: ${log}`);
    return { dir, out, log };
  })();
  return converted;
}

describe("moekit convert with a tokenizer", () => {
  it("a fixture model with a tokenizer.json converts with it; the GGUF tokenizes like the checkpoint and generates from text", { timeout: 120_000 }, async () => {
    const { dir, out, log } = await convertedFixture();
    assert.match(log, /tokenizer converted \(gpt2 BPE, pre-tokenizer qwen2\)/);
    let err = "";
    const io = { out: () => {}, err: (s: string) => void (err += s) };

    const hf = await AutoTokenizer.fromPretrained(dir);
    const gg = await AutoTokenizer.fromPretrained(out);
    for (const text of TEXTS) assert.deepEqual(gg.encode(text), hf.encode(text), `ids of ${JSON.stringify(text)}`);
    const chat = [{ role: "user", content: "hello" }];
    assert.deepEqual(gg.applyChatTemplate(chat, { addGenerationPrompt: true }), hf.applyChatTemplate(chat, { addGenerationPrompt: true }), "chat template ids");

    let fromDir = "";
    let fromGguf = "";
    const args = ["--prompt", "hello world", "--max-new-tokens", "6", "--backend", "reference"];
    assert.equal(await generateCommand([dir, ...args], { out: (s) => void (fromDir += s), err: () => {} }), 0);
    assert.equal(await generateCommand([out, ...args], { out: (s) => void (fromGguf += s), err: () => {} }), 0);
    assert.ok(fromDir.length > 0);
    assert.equal(fromGguf, fromDir, "the GGUF generates the checkpoint's text");

    assert.equal(await convertCommand([dir, "-o", join(dir, "plain.gguf"), "--dtype", "f32", "--no-tokenizer"], io), 0);
    assert.match(err, /placeholder vocabulary/);
  });
});


describe("a converted tokenizer in llama.cpp", { skip: peer ? false : why }, () => {
  it("llama.cpp tokenizes the converted GGUF as the checkpoint's tokenizer.json does", { timeout: 120_000 }, async () => {
    const { dir, out } = await convertedFixture();
    const hf = await AutoTokenizer.fromPretrained(dir);
    const llama = await peer!.LlamaCppPeer.open({ modelPath: out, threads: 1, contextSize: 64 });
    try {
      for (const text of TEXTS) assert.deepEqual(Array.from(llama.model.tokenize(text, true), Number), hf.encode(text), `llama.cpp ids of ${JSON.stringify(text)}`);
    } finally {
      await llama.close();
    }
  });
});
