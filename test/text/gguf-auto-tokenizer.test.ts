/**
 * AutoTokenizer.fromPretrained("x.gguf"): the GGUF's llama.cpp tokenizer behind moekit's tokenizer
 * interface (ids as llama.cpp gives them: test/fixtures/gguf/vocab), and tokenizer.chat_template
 * rendered as transformers renders the same template from tokenizer_config.json.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { BufferSource } from "../../src/loading/byte-source.js";
import { encodeGguf, GgufFile, type GgufTensorData } from "../../src/loading/gguf/index.js";
import { AutoTokenizer, GgufTextTokenizer, TextTokenizer } from "../../src/text/index.js";
import { ggufPath } from "../helpers/gguf-models.js";
import { modelDir } from "./chat-fixtures.js";

const VOCAB = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "gguf", "vocab");
const tmp = await mkdtemp(join(tmpdir(), "moekit-gguf-tok-"));
after(() => rm(tmp, { recursive: true, force: true }));

interface Case {
  text: string;
  parse_special: boolean;
  ids: number[];
  decoded_special: string;
}

/** The vocab fixture's ids in the pruned file (moekit.test.original_ids maps them back to llama.cpp's). */
async function original(name: string): Promise<Int32Array> {
  const g = await GgufFile.open(new BufferSource(name, new Uint8Array(readFileSync(join(VOCAB, `${name}.gguf`)))));
  const v = g.get("moekit.test.original_ids");
  assert.ok(v?.type === "array" && v.value.type === "int32");
  return v.value.values as Int32Array;
}

/** A copy of a GGUF with extra metadata (a chat template). */
async function withMetadata(path: string, extra: Record<string, string>): Promise<string> {
  const g = await GgufFile.open(new BufferSource(path, new Uint8Array(readFileSync(path))));
  const metadata = new Map(g.metadata);
  for (const [k, v] of Object.entries(extra)) metadata.set(k, { type: "string", value: v });
  const tensors: GgufTensorData[] = [];
  for (const [name, info] of g.tensors) tensors.push({ name, shape: info.shape, format: info.format!, data: (await g.tensorBytes(name)).bytes });
  const out = join(tmp, `${Object.keys(extra).length}-${path.split("/").pop()}`);
  await writeFile(out, encodeGguf(metadata, tensors));
  return out;
}

describe("AutoTokenizer.fromPretrained(.gguf)", () => {
  for (const family of ["qwen2", "llama-spm", "gpt-4o"]) {
    it(`${family}: llama.cpp's ids through the tokenizer interface (special tokens parsed, bos as the vocabulary adds it)`, async () => {
      const tok = await AutoTokenizer.fromPretrained(join(VOCAB, `${family}.gguf`));
      assert.ok(tok instanceof GgufTextTokenizer);
      const orig = await original(family);
      const rec = JSON.parse(readFileSync(join(VOCAB, `${family}.json`), "utf8")) as { cases: Case[]; add_bos: boolean; bos: number };
      let n = 0;
      for (const c of rec.cases.filter((x) => x.parse_special)) {
        const ids: number[] = tok.encode(c.text, { addSpecialTokens: false }).map((i: number) => orig[i]!);
        assert.deepEqual(ids, c.ids, JSON.stringify(c.text));
        const local = tok.encode(c.text, { addSpecialTokens: false });
        assert.equal(tok.decode(local), c.decoded_special, `decode ${JSON.stringify(c.text)}`);
        const withBos: number[] = tok.encode(c.text).map((i: number) => orig[i]!);
        assert.deepEqual(withBos, rec.add_bos ? [rec.bos, ...c.ids] : c.ids);
        n++;
      }
      assert.ok(n > 10, `${n} cases`);
      if (family === "qwen2") {
        // ggml-vocab-qwen2.gguf carries Qwen2's template in tokenizer.chat_template
        const text = tok.applyChatTemplate([{ role: "user", content: "hi" }], { tokenize: false, addGenerationPrompt: true });
        assert.equal(text, "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
      } else {
        assert.equal(tok.chatTemplate, undefined);
        assert.throws(() => tok.applyChatTemplate([{ role: "user", content: "hi" }]), /chat template/);
      }
    });
  }

  it("tokenizer.chat_template renders as TextTokenizer renders the same template (special tokens from the vocabulary)", async () => {
    const template = readFileSync(join(modelDir("qwen3"), "chat_template.jinja"), "utf8");
    const path = await withMetadata(join(VOCAB, "qwen2.gguf"), { "tokenizer.chat_template": template });
    const gguf = await AutoTokenizer.fromPretrained(path);
    const hf = await AutoTokenizer.fromPretrained(modelDir("qwen3"));
    assert.ok(hf instanceof TextTokenizer);
    assert.equal(gguf.chatTemplate, template);
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hello world" },
    ];
    const text = gguf.applyChatTemplate(messages, { tokenize: false, addGenerationPrompt: true });
    assert.equal(text, hf.applyChatTemplate(messages, { tokenize: false, addGenerationPrompt: true }));
    assert.match(text, /<\|im_start\|>user\nHello world<\|im_end\|>\n<\|im_start\|>assistant\n$/);
    const ids = gguf.applyChatTemplate(messages, { addGenerationPrompt: true });
    assert.deepEqual(ids, gguf.encode(text, { addSpecialTokens: false }));
    assert.equal(gguf.idToToken(ids[0]!), "<|im_start|>", "special tokens in the rendered text become their ids");
    assert.equal(gguf.specialTokens.eos_token, "<|endoftext|>");
  });

  it("named templates (tokenizer.chat_template.<name>) are kept by name", async () => {
    const path = await withMetadata(join(VOCAB, "qwen2.gguf"), { "tokenizer.chat_template": "A{{ messages[0].content }}", "tokenizer.chat_template.tool_use": "T{{ messages[0].content }}" });
    const tok = await AutoTokenizer.fromPretrained(path);
    assert.deepEqual(tok.chatTemplate, { default: "A{{ messages[0].content }}", tool_use: "T{{ messages[0].content }}" });
    assert.equal(tok.applyChatTemplate([{ role: "user", content: "x" }], { tokenize: false }), "Ax");
    assert.equal(tok.applyChatTemplate([{ role: "user", content: "x" }], { tokenize: false, chatTemplate: "tool_use" }), "Tx");
  });

  it("the model fixtures' placeholder vocabulary loads; a missing file or a GGUF with no vocabulary fails clearly", async () => {
    const tok = await AutoTokenizer.fromPretrained(ggufPath("mixtral"));
    assert.equal(tok.decode(tok.encode("ab")), "ab");
    await assert.rejects(AutoTokenizer.fromPretrained("/no/such/x.gguf"), /GGUF file '\/no\/such\/x\.gguf' does not exist/);
    const bare = join(tmp, "bare.gguf");
    await writeFile(bare, encodeGguf(new Map([["general.architecture", { type: "string", value: "llama" }]]), []));
    await assert.rejects(AutoTokenizer.fromPretrained(bare), /tokenizer\.ggml/);
  });
});
