/**
 * Quantize at load (`fromPretrained(dir, { dtype: "q8_0" | … })`) on the float fixture checkpoints:
 * - which matrices get which format (llama.cpp's mixes and row fallbacks; embeddings, routers, norms float);
 * - the reference backend on the quantized model equals the same model with every quantized matrix widened back
 *   to float32 (`dequantize: true`): its logits are the float model's computation on the dequantized weights, the
 *   computation the float fixtures check against transformers (1e-4);
 * - the cpu backend (int8 inputs: the quant GEMV up to 8 rows, the int8 GEMM above on AVX-512 VNNI) within CPU_TOL
 *   of it, greedy ids equal, with the shared expert inside the routed experts' pass and with it apart.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { fitRow, formatFor, layerOfKey, quantizeTensor, roleOfKey, useMoreBits } from "../../src/models/build/quantize.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import type { QuantDType } from "../../src/models/build/quantize.js";
import { expectedTensors, F32, familyDir, K256, type FixtureSuite } from "./model-fixtures.js";

/**
 * cpu vs reference on the same quantized model: measured ≤ 1.23e-2 of max |logit| over these families and dtypes
 * (10 tokens; deepseek_v3 mxfp4, the others ≤ 7.2e-3) with every product on int8 inputs (the int8 GEMM takes the
 * prompt's products of more than 8 rows; on widened panels they measured ≤ 3.2e-3).
 */
const CPU_TOL = 2e-2;
/**
 * The 256-wide fixture (hidden 256) carries more int8 input error to its logits: measured ≤ 2.9e-2 of max |logit|
 * (q8_0 2.4e-2, q4_k 2.9e-2, q6_k 2.8e-2; 8 tokens, all on the int8 GEMV; the widened path stays ≤ 1.1e-6).
 */
const CPU_TOL_256 = 5e-2;

// Families covering the checkpoint layouts: per-expert tensors and a shared expert (qwen2_moe), flat stacks
// (mixtral), MLA attention and dense first layers (deepseek_v3), transposed experts with biases (gpt_oss), the
// fused granite layout with a dense MLP beside the experts (granitemoeshared).
const FAMILIES = ["qwen2_moe", "mixtral", "deepseek_v3", "gpt_oss", "granitemoeshared"];
// Hidden 64 and expert widths of 32 / 64: whole 32-blocks, not 256 (q4_k_m falls back to q5_0 / q8_0).
const DTYPES = ["q8_0", "q4_0", "mxfp4", "q4_k_m"] as const;

async function prompt(suite: FixtureSuite, family: string): Promise<Tensor> {
  const ex = await expectedTensors(suite, family);
  const s = ex.input_ids!.shape[1]!;
  return Tensor.from(((await ex.input_ids!.data()) as Int32Array).slice(0, s), [1, s]);
}

/** Families whose MoE blocks have a shared expert (qwen2_moe's gated one, deepseek_v3's shared experts). */
const SHARED = new Set(["qwen2_moe", "deepseek_v3"]);


/** Loads `family` of `suite` quantized to `dtype` (reference, dequantized reference, cpu) and runs the checks of the header. */
async function checkQuantized(suite: FixtureSuite, family: string, dtype: QuantDType, tol = CPU_TOL): Promise<MoeForCausalLM> {
  const dir = familyDir(suite, family);
  const ids = await prompt(suite, family);
  const q = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", dtype });
  const widened = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", dtype, dequantize: true });
  const cpu = await AutoModelForCausalLM.fromPretrained(dir, { backend: "cpu", dtype });
  const experts = q.moeBlocks()[0]!.experts.weights;
  // The mix applied to the first sparse layer's experts (formatFor itself is checked below).
  const layer = q.parts.layers.findIndex((x) => x.ffn.kind === "moe");
  const info = { numLayers: q.config.numLayers, numExperts: experts.numExperts };
  const gu = experts.gateUp ?? experts.up!;
  const wantDown = formatFor(dtype, "exps_down", layer, experts.intermediateSize, info);
  const wantGu = formatFor(dtype, "exps_gate_up", layer, experts.hiddenSize, info);
  assert.ok(wantDown && wantGu, "these rows are whole blocks: the experts are quantized");
  assert.equal(experts.down.dtype, wantDown, "experts down");
  assert.equal(gu.dtype, wantGu, "experts gate/up");
  const stored = suite === K256 ? "bfloat16" : "float32";
  assert.equal(q.parts.embedTokens.dtype, stored, "embeddings stay as stored");
  assert.equal(q.moeBlocks()[0]!.router.weights.weight.dtype, stored, "routers stay as stored");
  assert.equal(q.parts.norm.weight.dtype, stored, "norms stay as stored");
  assert.equal(widened.moeBlocks()[0]!.experts.weights.down.dtype, "float32");
  const ref = await (await q.forward(ids)).logits.data();
  assertClose(ref, await (await widened.forward(ids)).logits.data(), 1e-6, `${family} ${dtype} reference vs dequantized`);
  // Greedy ids: the reference's 6 tokens, teacher-forced through the cpu model; each cpu argmax must be the
  // reference's token, unless the reference's own logits put the two within tol (a near tie).
  const seq = (await (await q.generate(ids, { maxNewTokens: 6, minNewTokens: 6, doSample: false })).data()) as Int32Array;
  const full = Tensor.from(Int32Array.from(seq), [1, seq.length]);
  const rl = await (await q.forward(full)).logits.data();
  const v = q.config.vocabSize;
  const argmax = (a: ArrayLike<number>, at: number) => {
    let best = 0;
    for (let i = 1; i < v; i++) if (a[at + i]! > a[at + best]!) best = i;
    return best;
  };
  let scale = 0;
  for (let i = 0; i < rl.length; i++) scale = Math.max(scale, Math.abs(rl[i]!));
  // The cpu model as loaded (a shared expert inside the routed experts' pass where the formats allow), then with
  // every shared expert run apart (its own products, gate, mul and add): both within tol, greedy ids equal.
  // (mxfp4 quantizes the routed experts only: its shared experts are q8_0 and stay apart.)
  const fused = cpu.moeBlocks().filter((b) => b.sharedFused).length;
  if (SHARED.has(family) && (dtype === "q8_0" || dtype === "q4_0")) assert.equal(fused, cpu.moeBlocks().length, `${family} ${dtype}: every shared expert in the routed pass`);
  for (const variant of ["shared in the routed pass", "shared apart"]) {
    if (variant === "shared apart") assert.equal(cpu.runSharedExpertsApart(), fused);
    assertClose(await (await cpu.forward(ids)).logits.data(), ref, tol, `${family} ${dtype} cpu, ${variant}`);
    const cl = await (await cpu.forward(full)).logits.data();
    for (let p = ids.shape[1]! - 1; p < seq.length - 1; p++) {
      const want = seq[p + 1]!;
      const got = argmax(cl, p * v);
      if (got !== want) assert.ok(rl[p * v + want]! - rl[p * v + got]! <= tol * scale, `${family} ${dtype} (${variant}): cpu picks ${got} at position ${p}, the reference ${want}`);
    }
  }
  return q;
}

for (const family of FAMILIES) {
  describe(`${family}: quantized at load`, () => {
    for (const dtype of DTYPES) {
      it(`${dtype}: the reference equals the dequantized float model; cpu within ${CPU_TOL}, greedy ids equal`, async () => {
        await checkQuantized(F32, family, dtype);
      });
    }
  });
}

describe("qwen2_moe with rows of whole 256-blocks: K-quants and fp8 as themselves", () => {
  it("the float checkpoint (bf16) matches transformers", async () => {
    const ex = await expectedTensors(K256, "qwen2_moe");
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(K256, "qwen2_moe"), { backend: "reference" });
    assertClose(await (await model.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 1e-4, "k256 float logits");
  });
  const want: Record<string, [string, string, string, string]> = {
    // experts gate/up, down of layer 0, down of layer 1 (q4_k_m: llama.cpp's use-more-bits layer), lm head
    q4_k: ["q4_k", "q4_k", "q4_k", "q6_k"],
    q6_k: ["q6_k", "q6_k", "q6_k", "q6_k"],
    q4_k_m: ["q4_k", "q4_k", "q6_k", "q6_k"],
    q8_0: ["q8_0", "q8_0", "q8_0", "q8_0"],
    fp8_e4m3_b128: ["fp8_e4m3_b128", "fp8_e4m3_b128", "fp8_e4m3_b128", "bfloat16"], // (lm head as stored; fp8 inputs stay float)
  };
  for (const [dtype, [gu, d0, d1, head]] of Object.entries(want)) {
    const tol = dtype === "fp8_e4m3_b128" ? CPU_TOL : CPU_TOL_256;
    it(`${dtype}: experts ${gu} / ${d0} / ${d1}, lm head ${head}; reference = dequantized, cpu within ${tol}`, async () => {
      const q = await checkQuantized(K256, "qwen2_moe", dtype as QuantDType, tol);
      const [b0, b1] = q.moeBlocks();
      assert.equal(b0!.experts.weights.gateUp!.dtype, gu);
      assert.equal(b0!.experts.weights.down.dtype, d0);
      assert.equal(b1!.experts.weights.down.dtype, d1);
      assert.equal(q.parts.lmHead.weight.dtype, head);
    });
  }
});

describe("quantized mixes", () => {
  it("follow llama.cpp: the lm head, q4_k_m's attention v and ffn down layers, row fallbacks", () => {
    const m = { numLayers: 16, numExperts: 60 };
    assert.deepEqual(
      Array.from({ length: 16 }, (_, l) => useMoreBits(l, 16)),
      [true, true, false, false, true, false, false, true, false, false, true, false, false, true, true, true],
    );
    assert.equal(formatFor("q4_0", "output", -1, 2048, m), "q6_k");
    assert.equal(formatFor("q4_0", "output", -1, 2080, m), "q8_0", "rows not whole 256-blocks");
    assert.equal(formatFor("q8_0", "output", -1, 2048, m), "q8_0");
    assert.equal(formatFor("mxfp4", "output", -1, 2048, m), "q8_0");
    assert.equal(formatFor("fp8_e4m3_b128", "output", -1, 2048, m), undefined);
    assert.equal(formatFor("mxfp4", "exps_down", 3, 1408, m), "mxfp4");
    assert.equal(formatFor("mxfp4", "attn_q", 3, 2048, m), "q8_0");
    assert.equal(formatFor("q4_k_m", "attn_v", 0, 2048, m), "q6_k");
    assert.equal(formatFor("q4_k_m", "attn_v", 2, 2048, m), "q4_k");
    assert.equal(formatFor("q4_k_m", "exps_down", 4, 2048, m), "q6_k", "a use-more-bits layer");
    assert.equal(formatFor("q4_k_m", "exps_down", 2, 1408, m), "q5_0", "q4_k rows of 1408 (5.5 × 256) fall back to q5_0");
  });

  it("fallbacks: q4_k → q5_0, q6_k → q8_0, float when even 32 does not divide the row", () => {
    assert.equal(fitRow("q4_k", 512), "q4_k");
    assert.equal(fitRow("q4_k", 96), "q5_0");
    assert.equal(fitRow("q6_k", 96), "q8_0");
    assert.equal(fitRow("q4_0", 48), undefined);
    assert.equal(fitRow("q6_k", 40), undefined);
    assert.equal(formatFor("q4_k_m", "exps_down", 0, 1408, { numLayers: 16, numExperts: 60 }), "q8_0");
    assert.equal(formatFor("q4_k_m", "attn_k", 5, 4096, { numLayers: 32, numExperts: 8 }), "q8_0", "8-expert models: attention k in q8_0");
  });

  it("quantizeTensor names the tensor it refuses: a non-finite value, a vector, a block tensor, a row of partial blocks", () => {
    const m = Tensor.from(Float32Array.from({ length: 64 }, (_, i) => (i === 37 ? Number.NaN : i / 64)), [2, 32]);
    assert.throws(() => quantizeTensor(m, "q8_0", "'model.layers.0.self_attn.q_proj.weight'"), /quantize 'model\.layers\.0\.self_attn\.q_proj\.weight' \[2, 32\] to q8_0: quantizeRows \(q8_0\): value NaN at row 1, column 5 is not finite/);
    assert.throws(() => quantizeTensor(Tensor.from(new Float32Array(32), [32]), "q8_0", "v"), /quantize v: only matrices are quantized, got shape \[32\]/);
    const q = quantizeTensor(Tensor.from(new Float32Array(64), [2, 32]), "q8_0", "w");
    assert.equal(q.dtype, "q8_0");
    assert.throws(() => quantizeTensor(q, "q4_0", "w"), /quantize w: q8_0 is not a float element format/);
    assert.throws(() => quantizeTensor(Tensor.from(new Float32Array(96), [2, 48]), "q4_0", "w"), /quantize w \[2, 48\] to q4_0: .*blocks of 32/);
  });

  it("roles and layers from checkpoint keys", () => {
    assert.equal(roleOfKey("model.layers.3.self_attn.v_proj.weight"), "attn_v");
    assert.equal(roleOfKey("model.layers.3.self_attn.o_proj.weight"), "attn_output");
    assert.equal(roleOfKey("lm_head.weight"), "output");
    assert.equal(roleOfKey("model.layers.0.self_attn.kv_b_proj.weight"), "other");
    assert.equal(layerOfKey("model.layers.12.mlp.experts.3.down_proj.weight"), 12);
    assert.equal(layerOfKey("lm_head.weight"), -1);
  });

  it("an unknown dtype lists the quantized ones; dequantize must be a boolean", async () => {
    const dir = familyDir(F32, "qwen2_moe");
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir, { dtype: "q3_k" as never }), /dtype must be one of auto, float32, bfloat16, float16, q8_0, q4_0, q5_0, q4_k, q6_k, mxfp4, fp8_e4m3_b128, q4_k_m, got "q3_k"/);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir, { dtype: "q8_0", dequantize: "yes" as never }), /dequantize must be a boolean, got yes/);
  });
});
