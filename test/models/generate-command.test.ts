import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateCommand } from "../../src/cli/generate.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { cpuBackendAvailable } from "../../src/backends/cpu/index.js";
import { ggufPath } from "../helpers/gguf-models.js";
import { BF16, F32, familyDir } from "./model-fixtures.js";

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await generateCommand(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe("moekit generate", () => {
  it("streams greedy ids for --ids and reports tokens/s", async () => {
    const dir = familyDir(F32, "olmoe");
    const r = await run([dir, "--ids", "5,17,300,42", "--max-new-tokens", "4", "--experts", "batched_mm", "--backend", "reference"]);
    assert.equal(r.code, 0, r.err);
    const model = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" });
    const ids = (await (await model.generate(Tensor.from(Int32Array.from([5, 17, 300, 42]), [1, 4]), { maxNewTokens: 4 })).data()) as Int32Array;
    assert.equal(r.out.trim(), Array.from(ids.slice(4)).join(" "));
    assert.match(r.err, /prefill: 4 tokens, [\d.]+ tok\/s; decode: 3 tokens, [\d.]+ tok\/s \(reference, batched_mm\)/);
  });

  it("takes a .gguf file: the same greedy ids as the checkpoint directory", async () => {
    const argv = ["--ids", "5,17,300,42", "--max-new-tokens", "4", "--backend", "reference"];
    const fromGguf = await run([ggufPath("mixtral"), ...argv]);
    assert.equal(fromGguf.code, 0, fromGguf.err);
    const fromDir = await run([familyDir(F32, "mixtral"), ...argv]);
    assert.equal(fromGguf.out, fromDir.out);
    assert.match(fromGguf.out, /^\d+ \d+ \d+ \d+\n?$/);
    // --prompt reads the GGUF's own tokenizer (the fixtures' placeholder byte-level vocabulary)
    const prompt = await run([ggufPath("mixtral"), "--prompt", "ab", "--max-new-tokens", "4", "--backend", "reference"]);
    assert.equal(prompt.code, 0, prompt.err);
    assert.match(prompt.err, /prefill: 2 tokens/);
    const missing = await run(["/no/such/model.gguf", ...argv]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /GGUF file '\/no\/such\/model\.gguf' does not exist/);
  });

  it("computes in bfloat16 on the cpu backend when the weights are bfloat16 (--compute overrides)", { skip: !cpuBackendAvailable() }, async () => {
    const args = ["--ids", "5,17,30", "--max-new-tokens", "2", "--backend", "cpu", "--threads", "2"];
    const bf = await run([familyDir(BF16, "glm4_moe"), ...args]);
    assert.equal(bf.code, 0, bf.err);
    assert.match(bf.err, /\(cpu, bfloat16 compute, bfloat16 kv cache, grouped_mm\)/);
    const f32 = await run([familyDir(F32, "olmoe"), ...args]);
    assert.match(f32.err, /\(cpu, float32 compute, float32 kv cache, grouped_mm\)/);
    const cast = await run([familyDir(F32, "olmoe"), ...args, "--dtype", "bfloat16"]);
    assert.match(cast.err, /\(cpu, bfloat16 compute, bfloat16 kv cache, grouped_mm\)/);
    const forced = await run([familyDir(BF16, "glm4_moe"), ...args, "--compute", "float32"]);
    assert.match(forced.err, /\(cpu, float32 compute, float32 kv cache, grouped_mm\)/);
    const bad = await run([familyDir(F32, "olmoe"), ...args, "--compute", "int8"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--compute must be one of auto, float32, bfloat16, got 'int8'/);
  });

  it("--kv-cache-dtype chooses the KV cache format; a 16-bit cache keeps the greedy ids here", { skip: !cpuBackendAvailable() }, async () => {
    const args = [familyDir(F32, "olmoe"), "--ids", "5,17,30", "--max-new-tokens", "4", "--backend", "cpu"];
    const f32 = await run(args);
    for (const kv of ["bfloat16", "float16"]) {
      const r = await run([...args, "--kv-cache-dtype", kv]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, new RegExp(`\\(cpu, float32 compute, ${kv} kv cache, grouped_mm\\)`));
      assert.equal(r.out, f32.out);
    }
    const bad = await run([...args, "--kv-cache-dtype", "q8_0"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--kv-cache-dtype must be one of auto, float32, bfloat16, float16, got 'q8_0'/);
  });

  it("clear errors: usage, bad flags, a text prompt without a tokenizer", async () => {
    assert.match((await run([])).err, /missing the model directory/);
    assert.match((await run([familyDir(F32, "olmoe"), "--bogus"])).err, /unknown option --bogus/);
    const r = await run([familyDir(F32, "olmoe"), "--prompt", "hello"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /tokenizer\.json/);
    assert.match((await run(["--help"])).out, /Usage: moekit generate/);
  });
});
