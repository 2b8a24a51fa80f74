/**
 * Writes the synthetic Qwen1.5-MoE-A2.7B (moekit bench's embedded model: same dims, same seeded weights)
 * as a GGUF for llama.cpp.
 *
 *   node --import tsx bench/peers/llama-cpp/write-qwen-gguf.ts --layers 2 [--dtype bfloat16|q8_0|q4_0|q4_k_m|mxfp4|...] [--seed 0] --out FILE
 */
import { parseArgs } from "node:util";
import { GGUF_DTYPES, writeQwenSyntheticGguf, type GgufWeightDType } from "../../../src/bench/qwen-gguf.js";

const { values } = parseArgs({
  options: {
    layers: { type: "string", default: "2" },
    dtype: { type: "string", default: "bfloat16" },
    seed: { type: "string", default: "0" },
    out: { type: "string" },
  },
});
if (!values.out) throw new Error("--out FILE.gguf is required");
if (!(GGUF_DTYPES as readonly string[]).includes(values.dtype!)) throw new Error(`--dtype must be one of ${GGUF_DTYPES.join(", ")}, got ${values.dtype}`);
const t0 = performance.now();
const plan = await writeQwenSyntheticGguf(values.out, Number(values.layers), values.dtype as GgufWeightDType, Number(values.seed));
console.log(`wrote ${values.out}: ${plan.tensors.length} tensors in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
