/**
 * config.json → GGUF metadata, the inverse of architectures.ts: the `{arch}.*` keys convert_hf_to_gguf.py
 * writes for the families moekit converts, so the file reads back to the same config in moekit and
 * loads in llama.cpp.
 */
import type { Config } from "../checkpoint.js";
import type { GgufValue } from "../gguf/values.js";

/** transformers model_type → llama.cpp architecture. */
export const ARCH_OF_MODEL_TYPE: Readonly<Record<string, string>> = {
  qwen2_moe: "qwen2moe",
  qwen3_moe: "qwen3moe",
  olmoe: "olmoe",
  mixtral: "llama",
  phimoe: "phimoe",
  granitemoe: "granitemoe",
  granitemoeshared: "granitemoe",
  dots1: "dots1",
  hunyuan_v1_moe: "hunyuan-moe",
  ernie4_5_moe: "ernie4_5-moe",
  glm4_moe: "glm4moe",
  deepseek_v2: "deepseek2",
  deepseek_v3: "deepseek2",
  gpt_oss: "gpt-oss",
};

const u32 = (value: number): GgufValue => ({ type: "uint32", value });
const f32 = (value: number): GgufValue => ({ type: "float32", value });

function int(cfg: Config, name: string, fallback?: number): number {
  const v = cfg[name] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new Error(`config.json: '${name}' is ${JSON.stringify(v)}, expected a non-negative integer`);
  return v;
}

function num(cfg: Config, name: string, fallback?: number): number {
  const v = cfg[name] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`config.json: '${name}' is ${JSON.stringify(v)}, expected a number`);
  return v;
}

function ropeTheta(cfg: Config): number {
  const rp = cfg.rope_parameters as Record<string, unknown> | undefined;
  const rs = cfg.rope_scaling as Record<string, unknown> | null | undefined;
  const type = (rp?.rope_type ?? rs?.rope_type ?? rs?.type ?? "default") as string;
  // gpt_oss's YaRN is written by gptOssMetadata
  if (type !== "default" && !(type === "yarn" && cfg.model_type === "gpt_oss")) throw new Error(`config.json: rope type '${type}': converting RoPE scaling to GGUF is not supported yet`);
  return num({ t: rp?.rope_theta ?? cfg.rope_theta }, "t", 10000);
}

/** Rotated dims per head: partial_rotary_factor (glm4_moe: 0.5 when the config gives none) × head_dim. */
function rotaryDim(cfg: Config, arch: string, headDim: number): number {
  const rp = cfg.rope_parameters as Record<string, unknown> | undefined;
  const factor = cfg.partial_rotary_factor ?? rp?.partial_rotary_factor ?? (arch === "glm4moe" ? 0.5 : 1);
  const dim = num({ f: factor }, "f") * headDim;
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) throw new Error(`config.json: partial_rotary_factor ${String(factor)} × head_dim ${headDim} is not an even number of rotated dims`);
  return dim;
}

/** `{arch}.*` metadata (keys without the prefix) of a config of one of ARCH_OF_MODEL_TYPE's families. */
export function archMetadata(cfg: Config, arch: string): [string, GgufValue][] {
  const heads = int(cfg, "num_attention_heads");
  const hidden = int(cfg, "hidden_size");
  const headDim = int(cfg, "head_dim", hidden / heads);
  const countField = ["num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"].find((k) => cfg[k] !== undefined) ?? "num_experts";
  const experts = int(cfg, countField);
  const out: [string, GgufValue][] = [
    ["block_count", u32(int(cfg, "num_hidden_layers"))],
    ["context_length", u32(int(cfg, "max_position_embeddings", 4096))],
    ["embedding_length", u32(hidden)],
    ["feed_forward_length", u32(int(cfg, "intermediate_size", 0))],
    ["attention.head_count", u32(heads)],
    ["attention.head_count_kv", u32(int(cfg, "num_key_value_heads", heads))],
    ["attention.key_length", u32(headDim)],
    ["attention.value_length", u32(headDim)],
    ["rope.dimension_count", u32(rotaryDim(cfg, arch, headDim))],
    ["rope.freq_base", f32(ropeTheta(cfg))],
    ["attention.layer_norm_rms_epsilon", f32(num(cfg, "rms_norm_eps", 1e-6))],
    ["expert_count", u32(experts)],
    ["expert_used_count", u32(int(cfg, ["moe_topk", "moe_k"].find((k) => cfg[k] !== undefined) ?? "num_experts_per_tok"))],
    ["vocab_size", u32(int(cfg, "vocab_size"))],
  ];
  if (arch === "deepseek2") return [...mlaMetadata(cfg, new Map(out))];
  if (arch === "gpt-oss") return [...out, ...gptOssMetadata(cfg)];
  if (cfg.moe_intermediate_size !== undefined) out.push(["expert_feed_forward_length", u32(int(cfg, "moe_intermediate_size"))]);
  if (arch === "qwen2moe") out.push(["expert_shared_feed_forward_length", u32(int(cfg, "shared_expert_intermediate_size", 0))]);
  if (arch === "dots1" || arch === "glm4moe") {
    if (arch === "glm4moe") out.push(["expert_gating_func", u32(2)]); // sigmoid; the next-token-prediction layers are not converted
    out.push(
      ["leading_dense_block_count", u32(int(cfg, "first_k_dense_replace", 0))],
      ["expert_shared_count", u32(int(cfg, "n_shared_experts", 0))],
      ["expert_weights_scale", f32(num(cfg, "routed_scaling_factor", 1))],
      ["expert_weights_norm", { type: "bool", value: cfg.norm_topk_prob === true }],
      ["expert_group_count", u32(int(cfg, "n_group", 1))],
      ["expert_group_used_count", u32(int(cfg, "topk_group", 1))],
    );
  }
  if (arch === "hunyuan-moe") {
    // HunYuanMoEModel.set_gguf_parameters: the experts and the one shared MLP share intermediate_size
    const width = int(cfg, "intermediate_size");
    out.push(["expert_feed_forward_length", u32(width)], ["expert_shared_feed_forward_length", u32(width)], ["expert_shared_count", u32(1)]);
  }
  if (arch === "ernie4_5-moe") {
    const end = cfg.moe_layer_end_index;
    if (end !== undefined && end !== -1 && end !== int(cfg, "num_hidden_layers") - 1) {
      throw new Error(`config.json: 'moe_layer_end_index' ${JSON.stringify(end)} ends the MoE layers before the last layer, which llama.cpp's ernie4_5-moe cannot express`);
    }
    const shared = int(cfg, "moe_num_shared_experts", 0);
    out.push(
      ["interleave_moe_layer_step", u32(int(cfg, "moe_layer_interval", 1))],
      ["leading_dense_block_count", u32(int(cfg, "moe_layer_start_index", 0))],
      ["expert_shared_count", u32(shared)],
      ["expert_shared_feed_forward_length", u32(shared * int(cfg, "moe_intermediate_size"))],
    );
  }
  if (arch === "granitemoe") {
    out.push(
      ["attention.scale", f32(num(cfg, "attention_multiplier"))],
      ["embedding_scale", f32(num(cfg, "embedding_multiplier"))],
      ["residual_scale", f32(num(cfg, "residual_multiplier"))],
      ["logit_scale", f32(num(cfg, "logits_scaling"))],
    );
    const shared = int(cfg, "shared_intermediate_size", 0);
    if (shared > 0) out.push(["expert_shared_feed_forward_length", u32(shared)]);
  }
  return out;
}

/**
 * DeepseekV2Model.set_gguf_parameters: MLA as MQA over the latent (head_count_kv 1, key_length rank +
 * rope, value_length rank, per-head sizes in the *_mla keys), DeepSeek routing (V3: sigmoid and expert
 * groups; V2: softmax, groups only for group-limited top-k). `base` holds the shared keys.
 */
function mlaMetadata(cfg: Config, base: Map<string, GgufValue>): Map<string, GgufValue> {
  const rank = int(cfg, "kv_lora_rank");
  const rope = int(cfg, "qk_rope_head_dim");
  const v3 = cfg.model_type === "deepseek_v3";
  const m = base;
  m.set("attention.head_count_kv", u32(1));
  m.set("attention.key_length", u32(rank + rope));
  m.set("attention.value_length", u32(rank));
  m.set("attention.key_length_mla", u32(int(cfg, "qk_nope_head_dim") + rope));
  m.set("attention.value_length_mla", u32(int(cfg, "v_head_dim")));
  m.set("rope.dimension_count", u32(rope));
  if (cfg.q_lora_rank !== null && cfg.q_lora_rank !== undefined) m.set("attention.q_lora_rank", u32(int(cfg, "q_lora_rank")));
  m.set("attention.kv_lora_rank", u32(rank));
  m.set("expert_feed_forward_length", u32(int(cfg, "moe_intermediate_size")));
  m.set("leading_dense_block_count", u32(int(cfg, "first_k_dense_replace", 0)));
  m.set("expert_shared_count", u32(int(cfg, "n_shared_experts", 0)));
  m.set("expert_weights_scale", f32(num(cfg, "routed_scaling_factor", 1)));
  if (cfg.norm_topk_prob === true) m.set("expert_weights_norm", { type: "bool", value: true });
  m.set("expert_gating_func", u32(v3 ? 2 : 1));
  if (v3 || (cfg.topk_method ?? "greedy") !== "greedy") {
    m.set("expert_group_count", u32(int(cfg, "n_group", 1)));
    m.set("expert_group_used_count", u32(int(cfg, "topk_group", 1)));
  }
  return m;
}

/** YaRN keys transformers' gpt-oss reads back unchanged from GGUF (architectures.ts keeps the range unrounded). */
const GPT_OSS_YARN = new Set(["rope_type", "rope_theta", "factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "truncate"]);

/**
 * GptOssModel.set_gguf_parameters: base.py's rope.scaling.* for YaRN, sliding_window and
 * expert_feed_forward_length. llama.cpp's gpt-oss slides on even layers only, and moekit reads its YaRN
 * back unrounded (truncate false): other configs are refused.
 */
function gptOssMetadata(cfg: Config): [string, GgufValue][] {
  const layers = int(cfg, "num_hidden_layers");
  const types = cfg.layer_types;
  const want = Array.from({ length: layers }, (_, l) => (l % 2 === 0 ? "sliding_attention" : "full_attention"));
  if (types !== undefined && JSON.stringify(types) !== JSON.stringify(want)) {
    throw new Error(`config.json: 'layer_types' ${JSON.stringify(types)}: llama.cpp's gpt-oss slides on even layers only`);
  }
  const out: [string, GgufValue][] = [
    ["expert_feed_forward_length", u32(int(cfg, "intermediate_size"))],
    ["attention.sliding_window", u32(int(cfg, "sliding_window"))],
  ];
  const rp = (cfg.rope_parameters ?? cfg.rope_scaling ?? {}) as Config;
  if ((rp.rope_type ?? rp.type) !== "yarn") return out;
  for (const k of Object.keys(rp)) if (!GPT_OSS_YARN.has(k)) throw new Error(`config.json: rope_parameters.${k}: moekit converts gpt_oss's YaRN without it`);
  if (rp.truncate !== false) throw new Error(`config.json: rope_parameters.truncate is ${JSON.stringify(rp.truncate ?? null)}; gpt-oss GGUFs read back as YaRN with truncate false`);
  out.push(
    ["rope.scaling.type", { type: "string", value: "yarn" }],
    ["rope.scaling.factor", f32(num(rp, "factor"))],
    ["rope.scaling.original_context_length", u32(int(rp, "original_max_position_embeddings"))],
    ["rope.scaling.yarn_beta_fast", f32(num(rp, "beta_fast", 32))],
    ["rope.scaling.yarn_beta_slow", f32(num(rp, "beta_slow", 1))],
  );
  return out;
}
