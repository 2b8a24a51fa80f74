import assert from "node:assert/strict";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { generateCommand } from "../../src/cli/generate.js";
import { AutoTokenizer } from "../../src/text/index.js";
import { F32, familyDir } from "../models/model-fixtures.js";
import { tokenizerJson } from "./chat-fixtures.js";

interface WordTokenizerOptions {
  /** A <s> at id 2 that the post-processor puts in front of every text, and a template that writes it too. */
  bos?: boolean;
  /** Where the chat template lives. */
  template?: "config" | "jinja-file";
}

const TEMPLATE = "{% for m in messages %}w7 {{ m['content'] }} w8 {% endfor %}{% if add_generation_prompt %}w9{% endif %}";

/** A word-level tokenizer over the fixture's 512-id vocabulary: "w0".."w509", plus <unk> and <eos> (and <s>). */
function writeTokenizer(dir: string, opts: WordTokenizerOptions = {}): void {
  const vocab: Record<string, number> = { "<unk>": 0, "<eos>": 1 };
  for (let i = 2; i < 512; i++) vocab[`w${i}`] = i;
  const added = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const addedTokens = [added(0, "<unk>"), added(1, "<eos>")];
  if (opts.bos) {
    delete vocab.w2;
    vocab["<s>"] = 2;
    addedTokens.push(added(2, "<s>"));
  }
  writeFileSync(
    join(dir, "tokenizer.json"),
    JSON.stringify({
      version: "1.0",
      added_tokens: addedTokens,
      normalizer: null,
      pre_tokenizer: { type: "Whitespace" },
      post_processor: opts.bos
        ? { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], pair: [], special_tokens: { "<s>": { id: "<s>", ids: [2], tokens: ["<s>"] } } }
        : null,
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
      model: { type: "WordLevel", vocab, unk_token: "<unk>" },
    }),
  );
  const template = (opts.bos ? "{{ bos_token }}" : "") + TEMPLATE;
  const config: Record<string, unknown> = { eos_token: "<eos>", ...(opts.bos ? { bos_token: "<s>" } : {}) };
  if ((opts.template ?? "config") === "config") config.chat_template = template;
  else writeFileSync(join(dir, "chat_template.jinja"), template);
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
}

function modelWith(write: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), "moekit-tok-"));
  cpSync(familyDir(F32, "qwen3_moe"), dir, { recursive: true });
  write(dir);
  return dir;
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string; pieces: string[] }> {
  let out = "";
  let err = "";
  const pieces: string[] = [];
  const code = await generateCommand(argv, {
    out: (s) => {
      out += s;
      pieces.push(s);
    },
    err: (s) => (err += s),
  });
  return { code, out, err, pieces };
}

describe("tokenizer and chat template", () => {
  it("encodes and decodes words through tokenizer.json", async () => {
    const tok = await AutoTokenizer.fromPretrained(modelWith((d) => writeTokenizer(d)));
    assert.deepEqual(tok.encode("w5 w17 w300"), [5, 17, 300]);
    // Whatever the library does with an unknown word, an id that is not a number never leaks out.
    const unk = (() => {
      try {
        return tok.encode("w5 nonsense");
      } catch (e) {
        return (e as Error).message;
      }
    })();
    if (Array.isArray(unk)) assert.deepEqual(unk, [5, 0]);
    else assert.match(unk, /the tokenizer gave no id for piece 1 of "w5 nonsense"/);
    assert.equal(tok.decode([5, 17, 1, 300], { skipSpecialTokens: true }), "w5 w17 w300");
    assert.equal(tok.decode([5, 17, 1, 300]), "w5 w17 <eos> w300", "special tokens kept by default, as in transformers");
    assert.equal(tok.decode([]), "");
    assert.throws(() => tok.decode([5, 1.5]), /decode: token 1 is 1\.5, not an integer id/);
    assert.throws(() => tok.encode(42 as never), /encode: expected a string, got number/);
  });

  it("renders the chat template with a generation prompt", async () => {
    const tok = await AutoTokenizer.fromPretrained(modelWith((d) => writeTokenizer(d)));
    assert.equal(tok.applyChatTemplate([{ role: "user", content: "w42 w43" }], { addGenerationPrompt: true, tokenize: false }), "w7 w42 w43 w8 w9");
  });

  it("moekit generate --prompt streams text equal to the --ids run", async () => {
    const dir = modelWith((d) => writeTokenizer(d));
    const byIds = await run([dir, "--ids", "7,42,43,8,9", "--max-new-tokens", "5", "--backend", "reference"]);
    const byChat = await run([dir, "--prompt", "w42 w43", "--chat", "--max-new-tokens", "5", "--backend", "reference"]);
    assert.equal(byIds.code, 0, byIds.err);
    assert.equal(byChat.code, 0, byChat.err);
    const words = byIds.out.trim().split(" ").map((id) => (id === "1" ? "" : `w${id}`)).filter(Boolean);
    assert.equal(byChat.out.trim(), words.join(" "));
    assert.match(byChat.err, /prefill: 5 tokens/);
  });

  it("moekit generate --chat tokenizes the rendered template without a second BOS", async () => {
    const dir = modelWith((d) => writeTokenizer(d, { bos: true }));
    const tok = await AutoTokenizer.fromPretrained(dir);
    assert.deepEqual(tok.encode("w42"), [2, 42], "the tokenizer adds <s> to plain text");
    const byChat = await run([dir, "--prompt", "w42 w43", "--chat", "--max-new-tokens", "4", "--backend", "reference"]);
    assert.equal(byChat.code, 0, byChat.err);
    assert.match(byChat.err, /prefill: 6 tokens/, "<s> w7 w42 w43 w8 w9: one BOS, the template's");
    const byIds = await run([dir, "--ids", "2,7,42,43,8,9", "--max-new-tokens", "4", "--backend", "reference"]);
    const words = byIds.out.trim().split(" ").map((id) => (id === "1" || id === "2" ? "" : `w${id}`)).filter(Boolean);
    assert.equal(byChat.out.trim(), words.join(" "));
  });

  it("moekit generate --chat uses chat_template.jinja", async () => {
    const dir = modelWith((d) => writeTokenizer(d, { template: "jinja-file" }));
    const r = await run([dir, "--prompt", "w42 w43", "--chat", "--max-new-tokens", "2", "--backend", "reference"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /prefill: 5 tokens/);
  });

  it("moekit generate --chat without any template says so", async () => {
    const dir = modelWith((d) => {
      writeTokenizer(d);
      writeFileSync(join(d, "tokenizer_config.json"), JSON.stringify({ eos_token: "<eos>" }));
    });
    const r = await run([dir, "--prompt", "w42", "--chat", "--backend", "reference"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /has no chat template .*use --prompt without --chat/);
  });

  it("moekit generate streams whole characters with a byte-level tokenizer (sampled bytes from the tiny model)", async () => {
    const dir = modelWith((d) => {
      writeFileSync(join(d, "tokenizer.json"), tokenizerJson("qwen3-bpe"));
      writeFileSync(join(d, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|im_end|>" }));
    });
    const tok = await AutoTokenizer.fromPretrained(dir);
    // "!!" is token 2928 in Qwen's vocabulary, beyond the tiny model's 512 rows: a one-byte prompt instead
    const r = await run([dir, "--prompt", "a", "--max-new-tokens", "48", "--temperature", "1.5", "--seed", SEED, "--backend", "reference"]);
    assert.equal(r.code, 0, r.err);
    const ids = await run([dir, "--ids", String(tok.encode("a")[0]), "--max-new-tokens", "48", "--temperature", "1.5", "--seed", SEED, "--backend", "reference"]);
    const generated = ids.out.trim().split(" ").map(Number);
    const whole = tok.decode(generated, { skipSpecialTokens: true });
    assert.ok([...whole].some((ch) => ch.codePointAt(0)! > 0x7f && ch !== "\uFFFD"), `the sampled text holds a character of several bytes: ${JSON.stringify(whole)}`);
    assert.equal(r.out, `${whole}\n`, "the stream is the decoded text, nothing lost");
    for (const p of r.pieces.slice(0, -2)) assert.ok(!/[\uD800-\uDBFF]$/.test(p), "no piece ends inside a surrogate pair");
  });
});

// seed 27 samples "〙" (3 bytes) and "ʸ" (2 bytes), which the old diff-of-decodes stream lost
const SEED = "27";
