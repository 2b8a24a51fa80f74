import assert from "node:assert/strict";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { generateCommand } from "../../src/cli/generate.js";
import { loadTokenizer } from "../../src/generation/tokenizer.js";
import { F32, familyDir } from "./model-fixtures.js";

/** A word-level tokenizer over the fixture's 512-id vocabulary: "w0".."w509", plus <unk> and <eos>. */
function writeTokenizer(dir: string): void {
  const vocab: Record<string, number> = { "<unk>": 0, "<eos>": 1 };
  for (let i = 2; i < 512; i++) vocab[`w${i}`] = i;
  writeFileSync(
    join(dir, "tokenizer.json"),
    JSON.stringify({
      version: "1.0",
      added_tokens: [
        { id: 0, content: "<unk>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
        { id: 1, content: "<eos>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ],
      normalizer: null,
      pre_tokenizer: { type: "Whitespace" },
      post_processor: null,
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
      model: { type: "WordLevel", vocab, unk_token: "<unk>" },
    }),
  );
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({
      eos_token: "<eos>",
      chat_template: "{% for m in messages %}w7 {{ m['content'] }} w8 {% endfor %}{% if add_generation_prompt %}w9{% endif %}",
    }),
  );
}

function modelWithTokenizer(): string {
  const dir = mkdtempSync(join(tmpdir(), "moekit-tok-"));
  cpSync(familyDir(F32, "qwen3_moe"), dir, { recursive: true });
  writeTokenizer(dir);
  return dir;
}

describe("tokenizer and chat template", () => {
  it("encodes and decodes words through tokenizer.json", async () => {
    const tok = await loadTokenizer(modelWithTokenizer());
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
    assert.equal(tok.decode([5, 17, 1, 300]), "w5 w17 w300");
  });

  it("renders the chat template with a generation prompt", async () => {
    const tok = await loadTokenizer(modelWithTokenizer());
    assert.equal(await tok.chatPrompt("w42 w43"), "w7 w42 w43 w8 w9");
  });

  it("moekit generate --prompt streams text equal to the --ids run", async () => {
    const dir = modelWithTokenizer();
    const run = async (argv: string[]) => {
      let out = "";
      let err = "";
      const code = await generateCommand(argv, { out: (s) => (out += s), err: (s) => (err += s) });
      return { code, out, err };
    };
    const byIds = await run([dir, "--ids", "7,42,43,8,9", "--max-new-tokens", "5", "--backend", "reference"]);
    const byChat = await run([dir, "--prompt", "w42 w43", "--chat", "--max-new-tokens", "5", "--backend", "reference"]);
    assert.equal(byIds.code, 0, byIds.err);
    assert.equal(byChat.code, 0, byChat.err);
    const words = byIds.out.trim().split(" ").map((id) => (id === "1" ? "" : `w${id}`)).filter(Boolean);
    assert.equal(byChat.out.trim(), words.join(" "));
    assert.match(byChat.err, /prefill: 5 tokens/);
  });
});
