/**
 * Config variants of the round-2 families that the fixtures do not spell out: layer kinds derived from
 * patterns when layer_types / mlp_layer_types are absent (as transformers' configs derive them), legacy
 * field names, checkpoint conversion, and clear errors for values the families reject.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { Router } from "../../src/experts/routers.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { editedCopy } from "./checkpoint-copies.js";
import { expectedTensors, F32, familyDir } from "./model-fixtures.js";

/** Logits of the family's fixture loaded with config edits, checked against transformers' logits of the original. */
async function sameLogits(family: string, config: Record<string, unknown>): Promise<void> {
  const ex = await expectedTensors(F32, family);
  const model = await AutoModelForCausalLM.fromPretrained(await editedCopy(familyDir(F32, family), { config }), { backend: "reference" });
  assertClose(await (await model.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 1e-4, `${family} with ${JSON.stringify(config)}`);
}

describe("round-2 family configs", () => {
  it("layer kinds derived from patterns equal the listed ones (afmoe, exaone_moe, cohere2_moe, glm4_moe_lite)", async () => {
    await sameLogits("afmoe", { layer_types: undefined, global_attn_every_n_layers: 2 });
    await sameLogits("exaone_moe", { layer_types: undefined, mlp_layer_types: undefined, sliding_window_pattern: 2, first_k_dense_replace: 1 });
    await sameLogits("cohere2_moe", { layer_types: undefined, mlp_layer_types: undefined, first_k_dense_replace: 1 });
    await sameLogits("glm4_moe_lite", { mlp_layer_types: undefined });
  });

  it("dbrx: RoPE θ from attn_config when the config has no rope_parameters (released configs)", async () => {
    await sameLogits("dbrx", { rope_parameters: undefined });
    const attn = { kv_n_heads: 2, clip_qkv: 1.0, rope_theta: 500000 };
    const model = await AutoModelForCausalLM.fromPretrained(await editedCopy(familyDir(F32, "dbrx"), { config: { rope_parameters: undefined, attn_config: attn } }), { backend: "reference" });
    assert.equal(model.config.rope.theta, 500000);
  });

  it("minimax_m2: the legacy rotary_dim alone gives partial RoPE", async () => {
    const { rope_parameters: rp } = (await AutoModelForCausalLM.fromPretrained(familyDir(F32, "minimax_m2"), { backend: "reference" })).rawConfig as { rope_parameters: Record<string, unknown> };
    assert.equal(rp.partial_rotary_factor, 0.5, "the fixture states the factor");
    await sameLogits("minimax_m2", { partial_rotary_factor: undefined, rope_parameters: { ...rp, partial_rotary_factor: undefined }, rotary_dim: 8 });
  });

  it("dbrx: unused keys keep their stored names; only the 1-norm of routing weights (or none) is supported", async () => {
    const src = familyDir(F32, "dbrx");
    const extra = await editedCopy(src, { add: { "transformer.blocks.1.ffn.extra": Tensor.from(new Float32Array(4), [4]) } });
    assert.deepEqual((await AutoModelForCausalLM.fromPretrained(extra, { backend: "reference" })).unusedKeys, ["transformer.blocks.1.ffn.extra"]);
    const ffn = (p: number | null) => ({ ffn_config: { ffn_hidden_size: 32, moe_num_experts: 8, moe_top_k: 2, moe_normalize_expert_weights: p } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(await editedCopy(src, { config: ffn(2) })), /normalised by their 2-norm are not supported \(only the 1-norm or none/);
    const raw = await AutoModelForCausalLM.fromPretrained(await editedCopy(src, { config: ffn(null) }), { backend: "reference" });
    const block = raw.moeBlocks()[0]!;
    const ex = await expectedTensors(F32, "dbrx");
    const w = (await block.route(ex.moe_in!).weights.data()) as Float32Array;
    assert.ok(w[0]! + w[1]! < 1 - 1e-3, `without normalisation the top-2 softmax weights sum below 1 (${w[0]! + w[1]!})`);
  });

  it("bad layer-kind lists and unknown options are named", async () => {
    const exaone = familyDir(F32, "exaone_moe");
    await assert.rejects(AutoModelForCausalLM.fromPretrained(await editedCopy(exaone, { config: { mlp_layer_types: ["dense"] } })), /config\.json \(exaone_moe\): 'mlp_layer_types' must list one entry per layer \(num_hidden_layers 2\), got 1/);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(await editedCopy(exaone, { config: { mlp_layer_types: ["dense", "moe"] } })), /config\.json \(exaone_moe\): 'mlp_layer_types\[1\]' must be one of "dense", "sparse", got "moe"/);
    const cohere = familyDir(F32, "cohere2_moe");
    await assert.rejects(AutoModelForCausalLM.fromPretrained(await editedCopy(cohere, { config: { expert_selection_fn: "relu" } })), /config\.json \(cohere2_moe\): 'expert_selection_fn' must be one of "softmax", "sigmoid", got "relu"/);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(await editedCopy(cohere, { config: { shared_expert_combination_strategy: "max" } })), /config\.json \(cohere2_moe\): 'shared_expert_combination_strategy' must be one of "sum", "average", got "max"/);
  });

  it("cohere2_moe's sigmoid selection: top-k of the logits, σ, renormalised", async () => {
    const logitsW = Tensor.from(Float32Array.from({ length: 6 * 4 }, (_, i) => Math.sin(i * 1.7)), [6, 4]);
    const hidden = Tensor.from(Float32Array.from({ length: 3 * 4 }, (_, i) => Math.cos(i * 0.9)), [3, 4]);
    const router = new Router({ kind: "sigmoidTopK", k: 2, normTopkProb: true, eps: 0, scale: 1 }, { weight: logitsW }, referenceBackend);
    const { index, weights } = router.route(hidden);
    const logits = (await router.logits(hidden).data()) as Float32Array;
    const idx = (await index.data()) as Int32Array;
    const w = (await weights.data()) as Float32Array;
    for (let t = 0; t < 3; t++) {
      const row = Array.from(logits.subarray(t * 6, (t + 1) * 6));
      const top = row.map((v, e) => [v, e] as const).sort((a, b) => b[0] - a[0]).slice(0, 2);
      const s = top.map(([v]) => 1 / (1 + Math.exp(-v)));
      assert.deepEqual(Array.from(idx.subarray(t * 2, t * 2 + 2)), top.map(([, e]) => e), `token ${t} experts`);
      assertClose(w.subarray(t * 2, t * 2 + 2), s.map((v) => v / (s[0]! + s[1]!)), 1e-6, `token ${t} weights`);
    }
  });
});
