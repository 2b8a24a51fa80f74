/**
 * config.json mutations and run-time inputs for a fixture model. A config transformers would refuse (or
 * that changes what the checkpoint means) must give a clean error; harmless edits must give the base
 * logits. Phase 2 of the hostile-inputs work extends these lists.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TensorSpec } from "./child.js";
import type { Expect } from "./safetensors-cases.js";

export interface ConfigCase {
  id: string;
  /** Fixture family (test/fixtures/<suite>/<family>). */
  fixture: string;
  expect: Expect;
  /** The new config.json text. */
  config(base: Record<string, unknown>): string;
  /** A refusal must name this (the field at fault), so the message is clear. */
  mentions?: RegExp;
}

/** A forward or generate call with bad inputs on the unmodified fixture model. */
export interface InputCase {
  id: string;
  fixture: string;
  expect: Expect;
  /** input ids (null: forward(null)); default the child's fixed prompt. */
  ids?: TensorSpec | null;
  generate?: { options: Record<string, unknown>; attentionMask?: TensorSpec };
}

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "transformers");

const set = (patch: Record<string, unknown>) => (base: Record<string, unknown>) => JSON.stringify({ ...base, ...patch });
const text = (t: string) => () => t;
const without = (key: string) => (base: Record<string, unknown>) => {
  const c = { ...base };
  delete c[key];
  return JSON.stringify(c);
};
const rope = (patch: Record<string, unknown>) => (base: Record<string, unknown>) =>
  JSON.stringify({ ...base, rope_parameters: { ...(base.rope_parameters as Record<string, unknown>), ...patch } });

/** The field a refusal must name, per case (cases not listed may fail with any clean message). */
const MENTIONS: Record<string, string> = {
  "topk-0": "num_experts_per_tok",
  "topk-more-than-experts": "num_experts_per_tok",
  "topk-negative": "num_experts_per_tok",
  "norm-eps-negative": "rms_norm_eps",
  "intermediate-2^40": "intermediate_size|config implies",
  "rope-theta-infinity": "rope_theta",
  "rope-theta-string": "rope_theta",
  "rope-parameters-array": "rope_parameters",
  "rope-parameters-string": "rope_parameters",
  "layers-1e6": "num_hidden_layers",
  "layers-fewer-than-checkpoint": "num_hidden_layers|model\\.layers\\.1",
  "routed-scaling-negative": "routed_scaling_factor",
  "n-group-0": "n_group",
  "topk-group-over-groups": "topk_group",
  "swiglu-limit-negative": "swiglu_limit",
  "sliding-window-0": "sliding_window",
  "yarn-factor-0": "factor",
  "yarn-factor-negative": "factor",
  "experts-0": "num_experts|gate\\.weight",
  "heads-0": "num_attention_heads",
  "model-type-missing": "model_type",
};

export function configCases(): ConfigCase[] {
  const olmoe: [string, Expect, (b: Record<string, unknown>) => string][] = [
    ["unknown-field", "same", set({ some_future_field: [1, 2, 3] })],
    ["null", "error", text("null")],
    ["array", "error", text("[]")],
    ["string", "error", text('"olmoe"')],
    ["not-json", "error", text("{model_type: olmoe}")],
    ["model-type-missing", "error", without("model_type")],
    ["model-type-unknown", "error", set({ model_type: "llama" })],
    ["model-type-number", "error", set({ model_type: 42 })],
    ["layers-0", "error", set({ num_hidden_layers: 0 })],
    ["layers-negative", "error", set({ num_hidden_layers: -1 })],
    ["layers-fractional", "error", set({ num_hidden_layers: 1.5 })],
    ["layers-string", "error", set({ num_hidden_layers: "2" })],
    ["layers-more-than-checkpoint", "error", set({ num_hidden_layers: 3 })],
    ["layers-fewer-than-checkpoint", "error", set({ num_hidden_layers: 1 })],
    ["layers-1e6", "error", set({ num_hidden_layers: 1e6 })],
    ["hidden-0", "error", set({ hidden_size: 0 })],
    ["hidden-negative", "error", set({ hidden_size: -64 })],
    ["hidden-odd", "error", set({ hidden_size: 65 })],
    ["hidden-string", "error", set({ hidden_size: "64" })],
    ["hidden-2^40", "error", set({ hidden_size: 2 ** 40 })],
    ["vocab-0", "error", set({ vocab_size: 0 })],
    ["vocab-2^40", "error", set({ vocab_size: 2 ** 40 })],
    ["heads-0", "error", set({ num_attention_heads: 0 })],
    ["heads-not-dividing", "error", set({ num_attention_heads: 3 })],
    ["kv-heads-not-dividing", "error", set({ num_key_value_heads: 3 })],
    ["head-dim-0", "error", set({ head_dim: 0 })],
    ["experts-0", "error", set({ num_experts: 0 })],
    ["experts-more-than-checkpoint", "error", set({ num_experts: 9 })],
    ["topk-0", "error", set({ num_experts_per_tok: 0 })],
    ["topk-more-than-experts", "error", set({ num_experts_per_tok: 9 })],
    ["topk-negative", "error", set({ num_experts_per_tok: -1 })],
    ["intermediate-0", "error", set({ intermediate_size: 0 })],
    ["intermediate-2^40", "error", set({ intermediate_size: 2 ** 40 })],
    ["norm-eps-negative", "error", set({ rms_norm_eps: -1 })],
    ["norm-eps-string", "error", set({ rms_norm_eps: "1e-6" })],
    ["rope-theta-infinity", "error", (base) => JSON.stringify({ ...base, rope_parameters: { ...(base.rope_parameters as Record<string, unknown>), rope_theta: "THETA" } }).replace('"THETA"', "1e400")],
    ["rope-theta-0", "error", rope({ rope_theta: 0 })],
    ["rope-theta-negative", "error", rope({ rope_theta: -10000 })],
    ["rope-theta-string", "error", rope({ rope_theta: "10000" })],
    ["rope-type-unknown", "error", rope({ rope_type: "spiral" })],
    ["rope-parameters-array", "error", set({ rope_parameters: [] })],
    ["rope-parameters-string", "error", set({ rope_parameters: "default" })],
    ["max-positions-0", "error", set({ max_position_embeddings: 0 })],
    ["tie-embeddings-string", "error", set({ tie_word_embeddings: "yes" })],
    ["act-unknown", "error", set({ hidden_act: "relu6000" })],
  ];
  const mention = (id: string) => (MENTIONS[id] ? new RegExp(MENTIONS[id]) : undefined);
  const cases: ConfigCase[] = olmoe.map(([id, expect, config]) => ({ id: `config/olmoe/${id}`, fixture: "olmoe", expect, config, mentions: mention(id) }));
  const others: [string, string, Expect, (b: Record<string, unknown>) => string][] = [
    ["deepseek_v3", "routed-scaling-negative", "error", set({ routed_scaling_factor: -1 })],
    ["deepseek_v3", "n-group-0", "error", set({ n_group: 0 })],
    ["deepseek_v3", "topk-group-over-groups", "error", set({ topk_group: 99 })],
    ["gpt_oss", "swiglu-limit-negative", "error", set({ swiglu_limit: -1 })],
    ["gpt_oss", "sliding-window-0", "error", set({ sliding_window: 0 })],
    ["gpt_oss", "yarn-factor-0", "error", rope({ factor: 0 })],
    ["gpt_oss", "yarn-factor-negative", "error", rope({ factor: -4 })],
  ];
  for (const [fixture, id, expect, config] of others) cases.push({ id: `config/${fixture}/${id}`, fixture, expect, config, mentions: mention(id) });
  return [...cases, ...familyConfigCases()];
}

type Cfg = Record<string, unknown>;
/** [case, expect, edited config, the field a refusal must name] */
type Mutation = [string, Expect, (b: Cfg) => Cfg, string];

const FAMILIES = Object.keys(JSON.parse(readFileSync(join(FIXTURES, "index.json"), "utf8")) as Cfg);
const NUM_EXPERTS = ["num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"];
const TOP_K = ["num_experts_per_tok", "moe_k", "moe_topk"];
// (deepseek_v2's fixture routes greedily, which ignores the groups)
const GROUPED = ["deepseek_v3", "glm4_moe", "glm4_moe_lite", "dots1", "exaone_moe"];
const WINDOWED = ["mixtral", "phimoe", "gpt_oss", "dots1", "exaone_moe", "afmoe", "cohere2_moe"];

/** Type and range mutations of each family's fixture config, on the fields that family's config holds. */
function mutations(family: string, base: Cfg): Mutation[] {
  const out: Mutation[] = [];
  const has = (k: string) => base[k] !== undefined && base[k] !== null;
  const firstOf = (names: string[]) => names.find(has);
  const field = (f: string, v: unknown) => (b: Cfg) => ({ ...b, [f]: v });
  const rp = (patch: Cfg) => (b: Cfg) => ({ ...b, rope_parameters: { ...(b.rope_parameters as Cfg), ...patch } });
  const hidden = has("hidden_size") ? "hidden_size" : "d_model";
  const layers = has("num_hidden_layers") ? "num_hidden_layers" : has("num_layers") ? "num_layers" : "n_layers";
  out.push(["hidden-string", "error", field(hidden, String(base[hidden])), hidden]);
  out.push(["layers-fractional", "error", field(layers, 1.5), layers]);
  const experts = firstOf(NUM_EXPERTS);
  const topK = firstOf(TOP_K);
  if (experts) out.push(["experts-string", "error", field(experts, String(base[experts])), experts]);
  if (experts && topK) out.push(["topk-over-experts", "error", field(topK, (base[experts] as number) + 1), topK]);
  if (family === "dbrx") {
    const ffn = (patch: Cfg) => (b: Cfg) => ({ ...b, ffn_config: { ...(b.ffn_config as Cfg), ...patch } });
    out.push(["ffn-topk-over-experts", "error", ffn({ moe_top_k: 9 }), "ffn_config\\.moe_top_k"]);
    out.push(["ffn-experts-0", "error", ffn({ moe_num_experts: 0 }), "ffn_config\\.moe_num_experts"]);
    out.push(["ffn-act-unknown", "error", ffn({ ffn_act_fn: { name: "relu6000" } }), "ffn_act_fn\\.name"]);
  }
  const eps = firstOf(["rms_norm_eps", "layer_norm_eps"]);
  if (eps) out.push(["eps-negative", "error", field(eps, -1e-6), eps]);
  if (has("num_key_value_heads") && base.num_attention_heads === 4) out.push(["kv-heads-not-dividing", "error", field("num_key_value_heads", 3), "num_key_value_heads"]);
  if (has("hidden_act")) out.push(["act-unknown", "error", field("hidden_act", "relu6000"), "hidden_act"]);
  out.push(["max-positions-string", "error", field(has("max_seq_len") ? "max_seq_len" : "max_position_embeddings", "256"), "max_position_embeddings|max_seq_len"]);
  out.push(["rope-theta-string", "error", rp({ rope_theta: "10000" }), "rope_theta"]);
  out.push(["rope-linear-factor-0", "error", rp({ rope_type: "linear", factor: 0 }), "factor"]);
  out.push(["rope-partial-2", "error", rp({ partial_rotary_factor: 2 }), "partial_rotary_factor"]);
  out.push(["rope-parameters-number", "error", field("rope_parameters", 10000), "rope_parameters"]);
  out.push(["unknown-field", "same", field("some_future_field", { nested: [1, "x"] }), ""]);
  if (Array.isArray(base.layer_types)) {
    out.push(["layer-types-short", "error", field("layer_types", (base.layer_types as unknown[]).slice(1)), "layer_types"]);
    out.push(["layer-types-unknown", "error", field("layer_types", (base.layer_types as unknown[]).map(() => "spiral_attention")), "layer_types"]);
  }
  if (Array.isArray(base.mlp_layer_types)) out.push(["mlp-layer-types-unknown", "error", field("mlp_layer_types", (base.mlp_layer_types as unknown[]).map(() => "moe")), "mlp_layer_types"]);
  if (GROUPED.includes(family)) out.push(["n-group-not-dividing", "error", field("n_group", 3), "n_group"]);
  if (has("kv_lora_rank")) out.push(["kv-lora-rank-string", "error", field("kv_lora_rank", "16"), "kv_lora_rank"]);
  if (WINDOWED.includes(family)) out.push(["sliding-window-0", "error", field("sliding_window", 0), "sliding_window"]);
  if (family === "qwen2_moe" || family === "qwen3_moe") {
    out.push(["sliding-window-0-unused", "same", field("sliding_window", 0), ""]);
    out.push(["sliding-window-0-used", "error", (b) => ({ ...b, sliding_window: 0, use_sliding_window: true }), "sliding_window"]);
  }
  const extras: Record<string, [string, unknown][]> = {
    gpt_oss: [["swiglu_limit", "7"]],
    granitemoe: [["logits_scaling", 0], ["embedding_multiplier", "4"]],
    granitemoeshared: [["shared_intermediate_size", -1]],
    cohere2_moe: [["logit_scale", -1], ["expert_selection_fn", "relu"]],
    afmoe: [["route_scale", 0], ["global_attn_every_n_layers", 0]],
    ernie4_5_moe: [["moe_layer_interval", 0], ["use_bias", 1]],
    hunyuan_v1_moe: [["moe_topk", [2]]],
    qwen2_moe: [["shared_expert_intermediate_size", 0], ["mlp_only_layers", [-1]]],
    deepseek_v2: [["topk_method", "noaux_tc"]],
    deepseek_v3: [["routed_scaling_factor", 0]],
    glm4_moe: [["use_qk_norm", "true"]],
    minimax_m2: [["rotary_dim", 0]],
    olmoe: [["clip_qkv", -1]],
    exaone_moe: [["sliding_window_pattern", 0]],
    phimoe: [["router_jitter_noise", -0.5]],
    qwen3_next: [["linear_conv_kernel_dim", 1], ["linear_num_value_heads", 3], ["layer_types", ["linear_attention"]]],
    qwen3_5_moe: [["linear_key_head_dim", "16"], ["layer_types", ["linear_attention", "mamba"]]],
    kimi_linear: [["linear_num_heads", 0], ["linear_conv_kernel_dim", 1], ["mlp_layer_types", ["sparse"]]],
  };
  for (const [f, v] of extras[family] ?? []) out.push([`${f.replaceAll("_", "-")}-bad`, "error", field(f, v), f]);
  return out;
}

/** Every family's fixture config, mutated: each refusal must name the field. */
export function familyConfigCases(): ConfigCase[] {
  const out: ConfigCase[] = [];
  for (const family of FAMILIES) {
    const base = JSON.parse(readFileSync(join(FIXTURES, family, "config.json"), "utf8")) as Cfg;
    for (const [id, expect, edit, mentions] of mutations(family, base)) {
      out.push({ id: `config/${family}/m-${id}`, fixture: family, expect, config: (b) => JSON.stringify(edit(b)), mentions: mentions ? new RegExp(`config\\.json \\(${String(base.model_type)}\\): .*${mentions}`) : undefined });
    }
  }
  return out;
}

export function inputCases(): InputCase[] {
  const ids = (values: number[], shape: number[], kind: "int32" | "float32" = "int32") => ({ values, shape, kind });
  return [
    { id: "input/olmoe/id-equal-vocab", fixture: "olmoe", expect: "error", ids: ids([1, 512], [1, 2]) },
    { id: "input/olmoe/id-negative", fixture: "olmoe", expect: "error", ids: ids([1, -1], [1, 2]) },
    { id: "input/olmoe/id-2^31", fixture: "olmoe", expect: "error", ids: ids([2 ** 31 - 1], [1, 1]) },
    { id: "input/olmoe/float-ids", fixture: "olmoe", expect: "error", ids: ids([1, 2], [1, 2], "float32") },
    { id: "input/olmoe/empty", fixture: "olmoe", expect: "error", ids: ids([], [1, 0]) },
    { id: "input/olmoe/rank-1", fixture: "olmoe", expect: "error", ids: ids([1, 2], [2]) },
    { id: "input/olmoe/past-context", fixture: "olmoe", expect: "error", ids: ids(new Array(257).fill(1), [1, 257]) },
    { id: "input/olmoe/null-ids", fixture: "olmoe", expect: "error", ids: null },
    { id: "input/olmoe/generate-greedy", fixture: "olmoe", expect: "either", generate: { options: { maxNewTokens: 3 } } },
    { id: "input/olmoe/temperature-negative", fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 2, doSample: true, temperature: -5 } } },
    { id: "input/olmoe/seed-nan", fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 2, doSample: true, seed: NaN } } },
    { id: "input/olmoe/max-new-tokens-fractional", fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 1.5 } } },
    { id: "input/olmoe/pad-outside-vocab", fixture: "olmoe", expect: "error", ids: ids([1, 2, 3, 4, 5, 6], [2, 3]), generate: { options: { maxNewTokens: 2, padTokenId: 9999 } } },
    { id: "input/olmoe/mask-float", fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 2 }, attentionMask: ids([1, 0.5, 1, 1, 1], [1, 5], "float32") } },
    { id: "input/olmoe/mask-all-zero", fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 2 }, attentionMask: ids([0, 0, 0, 0, 0], [1, 5]) } },
    ...generateOptionCases(),
  ];
}

/** One bad generate option each, on the fixed prompt (and a batch of two for the masks). */
function generateOptionCases(): InputCase[] {
  const batch = { values: [1, 2, 3, 4, 5, 6], shape: [2, 3], kind: "int32" as const };
  const opt = (id: string, options: Record<string, unknown>): InputCase => ({ id: `input/olmoe/${id}`, fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 2, ...options } } });
  return [
    opt("temperature-negative-greedy", { temperature: -5 }),
    opt("temperature-infinity", { doSample: true, temperature: Infinity }),
    opt("seed-fractional", { doSample: true, seed: 0.5 }),
    opt("seed-negative", { doSample: true, seed: -3 }),
    opt("eos-outside-vocab", { eosTokenId: [2, 512] }),
    opt("eos-string", { eosTokenId: "2" }),
    opt("pad-negative", { padTokenId: -1 }),
    opt("top-k-fractional", { doSample: true, topK: 2.5 }),
    opt("top-p-0", { doSample: true, topP: 0 }),
    opt("repetition-penalty-0", { repetitionPenalty: 0 }),
    opt("do-sample-string", { doSample: "yes" }),
    opt("max-new-tokens-string", { maxNewTokens: "3" }),
    opt("max-new-tokens-huge", { maxNewTokens: 2 ** 60 }),
    opt("min-new-tokens-negative", { minNewTokens: -1 }),
    { id: "input/olmoe/mask-value-2", fixture: "olmoe", expect: "error", ids: batch, generate: { options: { maxNewTokens: 2 }, attentionMask: { values: [1, 2, 1, 1, 1, 1], shape: [2, 3], kind: "int32" } } },
    { id: "input/olmoe/mask-row-all-zero", fixture: "olmoe", expect: "error", ids: batch, generate: { options: { maxNewTokens: 2 }, attentionMask: { values: [0, 1, 1, 0, 0, 0], shape: [2, 3], kind: "int32" } } },
    { id: "input/olmoe/mask-wrong-shape", fixture: "olmoe", expect: "error", ids: batch, generate: { options: { maxNewTokens: 2 }, attentionMask: { values: [1, 1, 1], shape: [1, 3], kind: "int32" } } },
    { id: "input/olmoe/mask-left-padding", fixture: "olmoe", expect: "either", ids: batch, generate: { options: { maxNewTokens: 2 }, attentionMask: { values: [0, 1, 1, 1, 1, 1], shape: [2, 3], kind: "int32" } } },
  ];
}
