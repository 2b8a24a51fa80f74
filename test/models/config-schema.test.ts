/**
 * The families' config schemas on their fixture configs: every fixture passes; types are never
 * coerced; ranges and relations between fields are refused with the field and the family named.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Config } from "../../src/loading/checkpoint.js";
import { validateConfig } from "../../src/models/config/schema.js";
import { familyFor, SUPPORTED_MODEL_TYPES } from "../../src/models/families/index.js";
import { F32, familyDir } from "./model-fixtures.js";

function fixtureConfig(family: string): Config {
  return JSON.parse(readFileSync(join(familyDir(F32, family), "config.json"), "utf8")) as Config;
}

/** Validates `edit` applied to the family's fixture config, as the loader does (after conversion). */
function check(family: string, edit: Config = {}): void {
  const raw = { ...fixtureConfig(family), ...edit };
  const fam = familyFor(fixtureConfig(family).model_type);
  validateConfig(fam.checkpoint?.config ? fam.checkpoint.config(raw) : raw, fam.modelType, fam.config, fam.checkpoint?.fieldNames);
}

describe("config schemas", () => {
  it("every family's fixture config passes its schema", () => {
    const wrapped = new Set(["llama4", "qwen3_5_moe"]); // the released multimodal checkpoints of llama4_text / qwen3_5_moe_text
    assert.equal(F32.families.length, SUPPORTED_MODEL_TYPES.filter((t) => !wrapped.has(t)).length, "one fixture per family (llama4 / qwen3_5_moe checkpoints are their text models' wrapped)");
    for (const family of F32.families) assert.doesNotThrow(() => check(family), family);
  });

  it("types are checked, never coerced", () => {
    assert.throws(() => check("olmoe", { num_hidden_layers: "2" }), /^Error: config\.json \(olmoe\): 'num_hidden_layers' must be a finite number, got "2"$/);
    assert.throws(() => check("olmoe", { num_experts: [8] }), /'num_experts' must be a finite number, got a list/);
    assert.throws(() => check("olmoe", { rope_parameters: [] }), /'rope_parameters' must be an object, got a list/);
    assert.throws(() => check("olmoe", { rope_parameters: { rope_theta: "1e4" } }), /'rope_parameters\.rope_theta' must be a finite number, got "1e4"/);
    assert.throws(() => check("olmoe", { tie_word_embeddings: 1 }), /'tie_word_embeddings' must be true or false, got 1/);
    assert.throws(() => check("olmoe", { rope_theta: Infinity }), /'rope_theta' must be a finite number, got Infinity/);
  });

  it("ranges and relations between fields", () => {
    assert.throws(() => check("olmoe", { rms_norm_eps: 0 }), /\(olmoe\): 'rms_norm_eps' must be > 0, got 0/);
    assert.throws(() => check("olmoe", { num_experts_per_tok: 9 }), /'num_experts_per_tok' 9 must be ≤ num_experts 8/);
    assert.throws(() => check("olmoe", { head_dim: null, num_attention_heads: 3, num_key_value_heads: 3 }), /'num_attention_heads' 3 must divide hidden_size 64 \(no head_dim is given\)/);
    assert.throws(() => check("olmoe", { rope_parameters: { rope_type: "yarn", factor: -2 } }), /'rope_parameters\.factor' must be > 0, got -2/);
    assert.throws(() => check("olmoe", { rope_parameters: { rope_type: "spiral" } }), /'rope_parameters\.rope_type' must be one of "default", "linear", "dynamic", "yarn", "longrope", "llama3", got "spiral"/);
    assert.throws(() => check("gpt_oss", { rope_parameters: { rope_type: "yarn", factor: 0 } }), /\(gpt_oss\): 'rope_parameters\.factor' must be > 0, got 0/);
    assert.throws(() => check("gpt_oss", { swiglu_limit: -1 }), /\(gpt_oss\): 'swiglu_limit' must be > 0, got -1/);
    assert.throws(() => check("gpt_oss", { sliding_window: 0 }), /'sliding_window' must be ≥ 1 \(or null for none\), got 0/);
    assert.throws(() => check("deepseek_v3", { routed_scaling_factor: -1 }), /\(deepseek_v3\): 'routed_scaling_factor' must be > 0, got -1/);
    assert.throws(() => check("deepseek_v3", { n_group: 3 }), /'n_group' 3 must divide the 8 routed experts/);
    assert.throws(() => check("deepseek_v3", { topk_group: 3 }), /'topk_group' 3 must be ≤ n_group 2/);
    assert.throws(() => check("exaone_moe", { num_experts_per_tok: 5, topk_group: 1 }), /'num_experts_per_tok' 5 must be ≤ topk_group 1 × 2 experts per group/);
    assert.throws(() => check("deepseek_v3", { num_nextn_predict_layers: "1" }), /\(deepseek_v3\): 'num_nextn_predict_layers' must be a finite number, got "1"/);
    assert.throws(() => check("afmoe", { layer_types: ["sliding_attention", "chunked"] }), /'layer_types\[1\]' must be one of "full_attention", "sliding_attention", got "chunked"/);
  });

  it("family rules: qwen's unused window of 0, hunyuan's per-layer lists, deepseek_v2's greedy routing, dbrx's stored names", () => {
    assert.doesNotThrow(() => check("qwen2_moe", { sliding_window: 0, use_sliding_window: false }));
    assert.throws(() => check("qwen2_moe", { sliding_window: 0, use_sliding_window: true }), /\(qwen2_moe\): 'sliding_window' must be ≥ 1/);
    assert.doesNotThrow(() => check("qwen2_moe", { num_experts: 0 }), "qwen2_moe without experts is all dense");
    assert.doesNotThrow(() => check("hunyuan_v1_moe", { num_experts: [8, 8], moe_topk: [2, 1] }));
    assert.throws(() => check("hunyuan_v1_moe", { moe_topk: [2] }), /'moe_topk' must be one number or list one per layer \(2\), got 1/);
    assert.throws(() => check("hunyuan_v1_moe", { num_experts: [8, 2], moe_topk: 3 }), /'moe_topk' 3 must be ≤ num_experts 2 \(layer 1\)/);
    assert.doesNotThrow(() => check("deepseek_v2", { n_group: 3 }), "greedy top-k ignores the groups");
    assert.throws(() => check("deepseek_v2", { n_group: 3, topk_method: "group_limited_greedy" }), /'n_group' 3 must divide/);
    const ffn = (patch: Config) => ({ ffn_config: { ...(fixtureConfig("dbrx").ffn_config as Config), ...patch } });
    assert.throws(() => check("dbrx", ffn({ moe_top_k: 9 })), /\(dbrx\): 'num_experts_per_tok' \(ffn_config\.moe_top_k\) 9 must be ≤ num_local_experts 8/);
    assert.throws(() => check("dbrx", { d_model: "64" }), /'hidden_size' \(d_model\) must be a finite number, got "64"/);
  });

  it("one error lists up to five fields", () => {
    assert.throws(() => check("olmoe", { vocab_size: 0, hidden_size: 0, num_hidden_layers: 0, num_attention_heads: 0, max_position_embeddings: 0, intermediate_size: 0 }), (e: Error) => {
      assert.equal(e.message.split("; ").length, 6);
      assert.match(e.message, /; and \d+ more$/);
      return true;
    });
  });

  it("hybrid layer kinds: one known kind per layer, Gated DeltaNet heads that group", () => {
    assert.throws(() => check("qwen3_next", { layer_types: ["linear_attention"] }), /^Error: config\.json \(qwen3_next\): 'layer_types' must list one entry per layer \(num_hidden_layers 2\), got 1$/);
    assert.throws(() => check("qwen3_next", { layer_types: ["linear_attention", "mamba"] }), /'layer_types\[1\]' must be one of "full_attention", "linear_attention", got "mamba"/);
    assert.throws(() => check("qwen3_5_moe", { linear_num_value_heads: 3 }), /config\.json \(qwen3_5_moe_text\): 'linear_num_value_heads' 3 must be a multiple of linear_num_key_heads 2/);
    assert.throws(() => check("qwen3_next", { linear_conv_kernel_dim: 1 }), /'linear_conv_kernel_dim' must be ≥ 2, got 1/);
    assert.throws(() => check("qwen3_next", { linear_key_head_dim: 0 }), /'linear_key_head_dim' must be ≥ 1, got 0/);
    assert.doesNotThrow(() => check("qwen3_next", { layer_types: undefined, full_attention_interval: 2 }));
    assert.throws(() => check("kimi_linear", { layer_types: ["full_attention", "kda"] }), /config\.json \(kimi_linear\): 'layer_types\[1\]' must be one of "full_attention", "linear_attention", got "kda"/);
    assert.throws(() => check("kimi_linear", { linear_conv_kernel_dim: 1 }), /'linear_conv_kernel_dim' must be ≥ 2, got 1/);
    assert.throws(() => check("kimi_linear", { num_experts_per_token: 9 }), /'num_experts_per_tok' \(num_experts_per_token\) 9 must be ≤ num_experts 8/);
  });
});
