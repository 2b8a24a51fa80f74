/**
 * Bad configs of the families whose layers change the block contract (llama4, deepseek_v32,
 * longcat_flash, jetmoe) are refused at load with the field and the family named.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Config } from "../../src/loading/checkpoint.js";
import { validateConfig } from "../../src/models/config/schema.js";
import { familyFor } from "../../src/models/families/index.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { editedCopy } from "./checkpoint-copies.js";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import { FileSource } from "../../src/loading/node-files.js";
import { expectedTensors, F32, familyDir } from "./model-fixtures.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";

function check(family: string, edit: Config = {}): void {
  const raw = { ...(JSON.parse(readFileSync(join(familyDir(F32, family), "config.json"), "utf8")) as Config), ...edit };
  const fam = familyFor(raw.model_type);
  validateConfig(fam.checkpoint?.config ? fam.checkpoint.config(raw) : raw, fam.modelType, fam.config, fam.checkpoint?.fieldNames);
}

describe("config schemas of the contract-changing families", () => {
  it("llama4: per-layer lists, MoE layers, chunk size", () => {
    assert.doesNotThrow(() => check("llama4"));
    assert.doesNotThrow(() => check("llama4", { no_rope_layers: [], layer_types: null, moe_layers: null }), "empty / absent lists take the defaults");
    assert.throws(() => check("llama4", { no_rope_layers: [1, 0] }), /\(llama4_text\): 'no_rope_layers' must list one entry per layer \(num_hidden_layers 3\), got 2/);
    assert.throws(() => check("llama4", { no_rope_layers: [1, 2, 0] }), /'no_rope_layers\[1\]' must be ≤ 1, got 2/);
    assert.throws(() => check("llama4", { layer_types: ["chunked_attention", "sliding_attention", "full_attention"] }), /'layer_types\[1\]' must be one of "full_attention", "chunked_attention", got "sliding_attention"/);
    assert.throws(() => check("llama4", { moe_layers: [1, 3] }), /'moe_layers' lists layer 3, but the model has 3 layers/);
    assert.throws(() => check("llama4", { attention_chunk_size: null }), /'attention_chunk_size' is null, but layer 0 is a chunked_attention layer/);
    assert.throws(() => check("llama4", { attention_chunk_size: 0 }), /'attention_chunk_size' must be ≥ 1, got 0/);
    assert.throws(() => check("llama4", { floor_scale: -1 }), /'floor_scale' must be > 0, got -1/);
  });

  it("llama4: a bad config fails at load, before any weight is read", async () => {
    const dir = await editedCopy(familyDir(F32, "llama4"), { config: { interleave_moe_layer_step: 0 } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" }), /config\.json \(llama4_text\): 'interleave_moe_layer_step' must be ≥ 1, got 0/);
  });

  it("deepseek_v32: indexer sizes and the q latent it reads", () => {
    assert.doesNotThrow(() => check("deepseek_v32"));
    assert.throws(() => check("deepseek_v32", { index_topk: 0 }), /\(deepseek_v32\): 'index_topk' must be ≥ 1, got 0/);
    assert.throws(() => check("deepseek_v32", { index_n_heads: "8" }), /'index_n_heads' must be a finite number, got "8"/);
    assert.throws(() => check("deepseek_v32", { index_head_dim: 4 }), /'index_head_dim' 4 must be ≥ qk_rope_head_dim 8/);
    assert.throws(() => check("deepseek_v32", { q_lora_rank: null }), /'q_lora_rank' is required: the DSA indexer reads the q latent/);
    assert.throws(() => check("deepseek_v32", { layer_types: ["indexed_attention"] }), /'layer_types' must list one entry per layer \(num_hidden_layers 2\), got 1/);
    assert.throws(() => check("deepseek_v32", { layer_types: ["indexed_attention", "full_attention"] }), /'layer_types\[1\]' must be one of "indexed_attention", got "full_attention"/);
  });

  it("longcat_flash: its own names, reported as stored", () => {
    assert.doesNotThrow(() => check("longcat_flash"));
    assert.throws(() => check("longcat_flash", { num_layers: 0 }), /\(longcat_flash\): .*'num_layers' must be ≥ 1, got 0/);
    assert.throws(() => check("longcat_flash", { zero_expert_num: -1 }), /'zero_expert_num' must be ≥ 0, got -1/);
    assert.throws(() => check("longcat_flash", { expert_ffn_hidden_size: "32" }), /'expert_ffn_hidden_size' must be a finite number, got "32"/);
    assert.throws(() => check("longcat_flash", { q_lora_rank: null }), /'q_lora_rank' must be a finite number, got null/);
    assert.throws(() => check("longcat_flash", { moe_topk: 9 }), /'moe_topk' 9 must be ≤ n_routed_experts 8/);
  });

  it("longcat_flash: a checkpoint with fewer logical layers than num_layers fails at load", async () => {
    const dir = await editedCopy(familyDir(F32, "longcat_flash"), { config: { num_layers: 3 } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" }), /config\.json \(longcat_flash\): num_hidden_layers is 6 but checkpoint '.*' holds layers 0 … 3 only/);
  });

  it("jetmoe: query heads come from the routed attention experts", () => {
    assert.doesNotThrow(() => check("jetmoe"));
    assert.throws(() => check("jetmoe", { num_attention_heads: 6 }), /\(jetmoe\): 'num_attention_heads' must be num_key_value_heads × num_experts_per_tok = 4/);
    assert.throws(() => check("jetmoe", { kv_channels: 0 }), /'head_dim' \(kv_channels\) must be ≥ 1, got 0|'kv_channels' must be ≥ 1, got 0/);
    assert.throws(() => check("jetmoe", { activation_function: "relu6000" }), /'hidden_act' \(activation_function\) must be one of/);
  });

  it("llama4 as released (model_type llama4: text_config, language_model. tensors, vision tower unused) equals llama4_text", async () => {
    const src = familyDir(F32, "llama4");
    const text = JSON.parse(readFileSync(join(src, "config.json"), "utf8")) as Config;
    const dir = await editedCopy(src, {
      rename: (k) => `language_model.${k}`,
      add: { "vision_model.patch_embedding.linear.weight": Tensor.from(new Float32Array(8), [2, 4]), "multi_modal_projector.linear_1.weight": Tensor.from(new Float32Array(4), [2, 2]) },
      wholeConfig: { model_type: "llama4", architectures: ["Llama4ForConditionalGeneration"], text_config: text, vision_config: { hidden_size: 4 } },
    });
    const warnings: string[] = [];
    const wrapped = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    assert.equal(wrapped.unusedKeys.length, 2, "the vision tensors stay unused");
    const ex = await expectedTensors(F32, "llama4");
    assertClose(await (await wrapped.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 1e-4, "llama4 logits");
    const broken = await editedCopy(dir, { wholeConfig: { model_type: "llama4", text_config: { ...text, attention_chunk_size: 0 } } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(broken, { backend: "reference" }), /config\.json \(llama4\): 'attention_chunk_size' must be ≥ 1, got 0/);
  });

  it("lfm2_moe with use_expert_bias false routes without the bias (transformers' logits for that config) and needs no expert_bias tensor", async () => {
    const src = familyDir(F32, "lfm2_moe");
    const dir = await editedCopy(src, { config: { use_expert_bias: false }, drop: ["model.layers.1.feed_forward.expert_bias"] });
    const model = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" });
    const ex = await expectedTensors(F32, "lfm2_moe");
    const oracle = await Checkpoint.fromSources("variant", {}, [new FileSource(join(src, "..", "..", "variants", "lfm2_moe-no-expert-bias.safetensors"))]);
    const logits = await (await model.forward(ex.input_ids!)).logits.data();
    assertClose(logits, await (await oracle.tensor("logits", { expect: "float" })).data(), 1e-4, "lfm2_moe without expert bias");
    const withBias = await (await AutoModelForCausalLM.fromPretrained(src, { backend: "reference" })).forward(ex.input_ids!);
    assert.notDeepEqual(Array.from(logits), Array.from(await withBias.logits.data()), "the bias changes routing here (the test can fail)");
  });

  it("qwen3_5_moe as released (text_config, model.language_model. tensors, vision tower and mtp unused) equals qwen3_5_moe_text", async () => {
    const src = familyDir(F32, "qwen3_5_moe");
    const text = JSON.parse(readFileSync(join(src, "config.json"), "utf8")) as Config;
    const dir = await editedCopy(src, {
      rename: (k) => k.replace(/^model\./, "model.language_model."),
      add: { "model.visual.patch_embed.proj.weight": Tensor.from(new Float32Array(8), [2, 4]), "mtp.fc.weight": Tensor.from(new Float32Array(4), [2, 2]) },
      wholeConfig: { model_type: "qwen3_5_moe", architectures: ["Qwen3_5MoeForConditionalGeneration"], text_config: { ...text, model_type: "qwen3_5_moe_text" }, vision_config: { hidden_size: 4 } },
    });
    const warnings: string[] = [];
    const wrapped = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    assert.equal(wrapped.unusedKeys.length, 2, "the vision and mtp tensors stay unused");
    const ex = await expectedTensors(F32, "qwen3_5_moe");
    assertClose(await (await wrapped.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 1e-4, "qwen3_5_moe logits");
  });
});
