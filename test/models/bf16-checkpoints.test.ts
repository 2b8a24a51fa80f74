import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { BF16, expectedTensors, F32, familyDir } from "./model-fixtures.js";

// These checkpoints are saved in bfloat16 with other dims (hidden 96, 6 heads / 3 kv, 6 experts top-3,
// 3 layers, vocab 256); transformers computed the expectations in float32 from the bf16 weights.
for (const family of BF16.families) {
  describe(`${family}: bfloat16 checkpoint`, () => {
    for (const impl of ["eager", "batched_mm", "grouped_mm"]) {
      it(`${impl}: loads bf16 weights as stored and matches the float32 computation`, async () => {
        const ex = await expectedTensors(BF16, family);
        const model = await AutoModelForCausalLM.fromPretrained(familyDir(BF16, family), { backend: "reference", expertsImplementation: impl });
        assert.equal(model.parts.embedTokens.dtype, "bfloat16");
        assert.equal(model.moeBlocks()[0]!.experts.weights.down.dtype, "bfloat16");
        assert.equal(model.config.hiddenSize, 96);
        const { logits } = await model.forward(ex.input_ids!);
        assertClose(await logits.data(), await ex.logits!.data(), 1e-4, `${family} ${impl} logits`);
        const s = ex.input_ids!.shape[1]!;
        const prompt = Tensor.from(((await ex.input_ids!.data()) as Int32Array).slice(0, s), [1, s]);
        const out = (await (await model.generate(prompt, { maxNewTokens: 8, minNewTokens: 8 })).data()) as Int32Array;
        assert.deepEqual(Array.from(out.slice(s)), Array.from((await ex.greedy_ids!.data()) as Int32Array));
      });
    }

    it("dtype 'float32' widens the bf16 weights without changing the results", async () => {
      const ex = await expectedTensors(BF16, family);
      const model = await AutoModelForCausalLM.fromPretrained(familyDir(BF16, family), { backend: "reference", dtype: "float32" });
      assert.equal(model.parts.embedTokens.dtype, "float32");
      assert.equal(model.moeBlocks()[0]!.experts.weights.down.dtype, "float32");
      assertClose(await (await model.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 1e-4, "widened logits");
    });
  });
}

describe("dtype option on a float32 checkpoint", () => {
  it("'bfloat16' stores the matrices in bf16 and stays close to the float32 logits", async () => {
    const ex = await expectedTensors(F32, "qwen2_moe");
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "qwen2_moe"), { backend: "reference", dtype: "bfloat16" });
    assert.equal(model.parts.embedTokens.dtype, "bfloat16");
    assert.equal(model.moeBlocks()[0]!.experts.weights.gateUp!.dtype, "bfloat16");
    assert.equal(model.parts.norm.weight.dtype, "float32", "norm weights keep their dtype");
    assertClose(await (await model.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 5e-2, "bf16-rounded logits");
  });

  it("rejects an unknown dtype", async () => {
    await assert.rejects(
      AutoModelForCausalLM.fromPretrained(familyDir(F32, "qwen2_moe"), { dtype: "int8" as never }),
      /dtype must be one of auto, float32, bfloat16, float16/,
    );
  });
});
