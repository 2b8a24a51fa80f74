/**
 * Hybrid families' caches: linear-attention layers keep one fixed-size state per sequence (the
 * convolution window and the recurrent matrices), attention layers keys and values per token.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { familyDir, F32 } from "./model-fixtures.js";

// [family, the linear layers' state floats (conv window + recurrent matrices), the attention layer's key / value widths]
const CASES: [string, number, [number, number]][] = [
  // Kw 4, C = 2·2·16 + 4·16 = 128; Hv 4 × 16 × 16
  ["qwen3_next", 3 * 128 + 4 * 16 * 16, [2 * 16, 2 * 16]],
  ["qwen3_5_moe", 3 * 128 + 4 * 16 * 16, [2 * 16, 2 * 16]],
  // Kw 4, C = 3 · 4 · 16; H 4 × 16 × 16; MLA keys 4 × (16 + 8), values 4 × 16
  ["kimi_linear", 3 * 192 + 4 * 16 * 16, [4 * 24, 4 * 16]],
];

describe("hybrid caches", () => {
  for (const [family, stateFloats, [kw, vw]] of CASES) {
    it(`${family}: a state for the linear layer, keys and values for the attention layer; the state does not grow`, async () => {
      const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: "reference" });
      const cache = model.newCache();
      assert.deepEqual(cache.layers, [
        { kind: "state", shape: [stateFloats] },
        { kind: "attention", keyWidth: kw, valueWidth: vw },
      ]);
      assert.equal(cache.bytesPerSequence, stateFloats * 4);
      assert.equal(cache.bytesPerToken, (kw + vw) * 4);
      await model.forward(Tensor.from(Int32Array.from([1, 2, 3, 4, 5, 6, 7]), [1, 7]), { cache });
      assert.equal(cache.bytesInUse, 7 * cache.bytesPerToken + cache.bytesPerSequence);
    });
  }
});
