import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AutoTokenizer, IncrementalDecoder, TextStreamer, type MoekitTokenizer } from "../../src/text/index.js";
import { expected, modelDir } from "./chat-fixtures.js";

/** GPT-2's byte-level alphabet: the character standing for each byte in a byte-level BPE vocabulary. */
function byteCharacters(): string[] {
  const direct: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) direct.push(b);
  for (let b = 0xa1; b <= 0xac; b++) direct.push(b);
  for (let b = 0xae; b <= 0xff; b++) direct.push(b);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(direct.includes(b) ? b : next++);
  return out;
}

/** `text` as one token per UTF-8 byte: what a model may emit for characters it rarely saw. */
function byteTokens(tok: MoekitTokenizer, text: string): number[] {
  const chars = byteCharacters();
  return [...new TextEncoder().encode(text)].map((b) => tok.tokenToId(chars[b]!)!);
}

function stream(tok: MoekitTokenizer, ids: number[], skipSpecialTokens = true): string[] {
  const d = new IncrementalDecoder(tok, { skipSpecialTokens });
  const pieces = ids.map((id) => d.push(id));
  pieces.push(d.flush());
  return pieces;
}

describe("IncrementalDecoder: whole characters only", () => {
  it('"Hi 你好 🙂!" emitted byte by byte by a byte-level tokenizer streams without U+FFFD', async () => {
    const tok = await AutoTokenizer.fromPretrained(modelDir("qwen3"));
    const ids = byteTokens(tok, "Hi 你好 🙂!");
    assert.equal(ids.length, 15);
    assert.equal(tok.decode(ids), "Hi 你好 🙂!");
    const pieces = stream(tok, ids);
    assert.equal(pieces.join(""), "Hi 你好 🙂!");
    assert.ok(pieces.every((p) => !p.includes("\uFFFD")), JSON.stringify(pieces));
    // each character appears with its last byte: 你 and 好 take 3 tokens, 🙂 four
    assert.deepEqual(pieces.filter(Boolean), ["H", "i", " ", "你", "好", " ", "🙂", "!"]);
  });

  for (const c of expected.decode) {
    it(`${c.model}: ${JSON.stringify(c.text)} streams to transformers' decode`, async () => {
      const tok = await AutoTokenizer.fromPretrained(modelDir(c.model));
      assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids, "encode");
      assert.deepEqual(tok.encode(c.text), c.withSpecial, "encode with special tokens");
      assert.equal(tok.decode(c.ids), c.decoded, "decode");
      const pieces = stream(tok, c.ids);
      assert.equal(pieces.join(""), c.decoded);
      assert.ok(pieces.every((p) => !p.includes("\uFFFD")), JSON.stringify(pieces));
    });
  }

  it("holds a partial character until the stream ends, then lets it out", async () => {
    const tok = await AutoTokenizer.fromPretrained(modelDir("qwen3"));
    const [a, b] = byteTokens(tok, "你"); // two of its three bytes
    const d = new IncrementalDecoder(tok);
    assert.equal(d.push(byteTokens(tok, "x")[0]!), "x");
    assert.equal(d.push(a!), "");
    assert.equal(d.push(b!), "");
    assert.equal(d.flush(), "\uFFFD");
    assert.equal(d.flush(), "", "nothing twice");
  });

  it("skips special tokens by default, keeps them when asked; TextStreamer calls back with each piece", async () => {
    const tok = await AutoTokenizer.fromPretrained(modelDir("qwen3"));
    const ids = [...tok.encode("Hello"), tok.tokenToId("<|im_end|>")!];
    assert.equal(stream(tok, ids).join(""), "Hello");
    assert.equal(stream(tok, ids, false).join(""), "Hello<|im_end|>");
    const got: string[] = [];
    const s = new TextStreamer(tok, (t) => got.push(t));
    for (const id of byteTokens(tok, "é!")) s.put(id);
    s.end();
    assert.deepEqual(got, ["é", "!"]);
  });
});
