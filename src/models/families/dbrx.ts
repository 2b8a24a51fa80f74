import type { Config } from "../../loading/checkpoint.js";
import { intField, withAliases } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { allLayers, numExperts, swiglu } from "./common.js";
import { llamaLike } from "./model-parts.js";
import { CLIP_QKV, DECODER, ROPE, configSchema, extra, optional, positive, routedExperts } from "../config/schema.js";

/** DbrxConfig's d_model-style names and nested attn_config / ffn_config as flat fields (with its class defaults). */
const ALIASES: Record<string, readonly [string, unknown]> = {
  hidden_size: ["d_model", 2048],
  num_attention_heads: ["n_heads", 16],
  num_hidden_layers: ["n_layers", 24],
  max_position_embeddings: ["max_seq_len", 2048],
  num_key_value_heads: ["attn_config.kv_n_heads", 1],
  clip_qkv: ["attn_config.clip_qkv", null],
  num_local_experts: ["ffn_config.moe_num_experts", 4],
  num_experts_per_tok: ["ffn_config.moe_top_k", 1],
  moe_intermediate_size: ["ffn_config.ffn_hidden_size", 3584],
  moe_normalize_expert_weights: ["ffn_config.moe_normalize_expert_weights", 1],
  hidden_act: ["ffn_config.ffn_act_fn.name", "silu"],
};

function flatConfig(cfg: Config): Config {
  const flat = withAliases(cfg, ALIASES);
  // DbrxAttention's head width is d_model / n_heads whatever head_dim says; θ from attn_config when the config gives none.
  // (left to the schema to refuse when either is not a positive integer)
  const [h, n] = [flat.hidden_size, flat.num_attention_heads];
  if (Number.isInteger(h) && Number.isInteger(n) && (n as number) > 0) flat.head_dim = Math.floor((h as number) / (n as number));
  if (cfg.rope_parameters == null && cfg.rope_theta == null) flat.rope_theta = withAliases(cfg, { rope_theta: ["attn_config.rope_theta", 10000] }).rope_theta;
  return flat;
}

const block = (path: string, to: string) => [new RegExp(`^transformer\\.blocks\\.(\\d+)\\.${path}\\.`), `model.layers.$1.${to}.`] as const;

/**
 * Fused Wqkv clipped to ±clip_qkv, bias-free LayerNorms (eps 1e-5), softmax top-k routing normalised by
 * the p-norm of the weights, experts stored as flat [E·I, H] stacks; checkpoint names under
 * transformer.blocks.{l} map onto the shared loaders' model.layers.{l}.
 */
export const dbrx: FamilyDefinition = {
  modelType: "dbrx",
  config: configSchema(DECODER, ROPE, routedExperts(), CLIP_QKV, extra({ moe_normalize_expert_weights: optional(positive) })),
  moe: {
    blockName: "ffn",
    isSparseLayer: allLayers,
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["moe_intermediate_size"]),
    gate: swiglu,
    router: {
      weightKey: "router.layer.weight",
      rule: (cfg) => ({ kind: "softmaxTopKPNorm", k: intField(cfg, ["num_experts_per_tok"]), p: (cfg.moe_normalize_expert_weights as number | null) ?? null }),
    },
    experts: { kind: "flatStacks", gate: "experts.mlp.w1", up: "experts.mlp.v1", down: "experts.mlp.w2" },
  },
  model: llamaLike({
    norm: "layerNoBias",
    normEps: () => 1e-5,
    attention: (cfg) => ({ kind: "gqa", qkvBias: false, oBias: false, fusedQkv: true, clipQkv: typeof cfg.clip_qkv === "number" ? cfg.clip_qkv : undefined }),
  }),
  checkpoint: {
    config: flatConfig,
    fieldNames: Object.fromEntries(Object.entries(ALIASES).map(([name, [path]]) => [name, path])),
    renames: [
      [/^transformer\.wte\./, "model.embed_tokens."],
      [/^transformer\.norm_f\./, "model.norm."],
      block("norm_attn_norm\\.norm_1", "input_layernorm"),
      block("norm_attn_norm\\.norm_2", "post_attention_layernorm"),
      block("norm_attn_norm\\.attn\\.Wqkv", "self_attn.qkv_proj"),
      block("norm_attn_norm\\.attn\\.out_proj", "self_attn.o_proj"),
      block("ffn", "ffn"),
    ],
  },
};
