import type { Config } from "../../loading/checkpoint.js";
import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { allLayers, numExperts, swiglu } from "./common.js";
import { llamaLike } from "./model-parts.js";

const sub = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** DbrxConfig's nested attn_config / ffn_config and d_model-style names → flat fields, with its class defaults. */
function flatConfig(cfg: Config): Config {
  const attn = sub(cfg.attn_config);
  const ffn = sub(cfg.ffn_config);
  const hidden = cfg.d_model ?? 2048;
  const heads = cfg.n_heads ?? 16;
  const hasRope = cfg.rope_parameters != null || cfg.rope_theta != null;
  return {
    ...cfg,
    hidden_size: hidden,
    num_attention_heads: heads,
    num_hidden_layers: cfg.n_layers ?? 24,
    max_position_embeddings: cfg.max_seq_len ?? 2048,
    num_key_value_heads: attn.kv_n_heads ?? 1,
    head_dim: typeof hidden === "number" && typeof heads === "number" ? Math.floor(hidden / heads) : undefined,
    clip_qkv: attn.clip_qkv ?? null,
    rope_theta: hasRope ? cfg.rope_theta : (attn.rope_theta ?? 10000),
    num_local_experts: ffn.moe_num_experts ?? 4,
    num_experts_per_tok: ffn.moe_top_k ?? 1,
    moe_intermediate_size: ffn.ffn_hidden_size ?? 3584,
    moe_normalize_expert_weights: "moe_normalize_expert_weights" in ffn ? ffn.moe_normalize_expert_weights : 1,
    hidden_act: sub(ffn.ffn_act_fn).name ?? "silu",
  };
}

const block = (path: string, to: string) => [new RegExp(`^transformer\\.blocks\\.(\\d+)\\.${path}\\.`), `model.layers.$1.${to}.`] as const;

/**
 * Fused Wqkv clipped to ±clip_qkv, bias-free LayerNorms (eps 1e-5), softmax top-k routing normalised by
 * the p-norm of the weights, experts stored as flat [E·I, H] stacks; checkpoint names under
 * transformer.blocks.{l} map onto the shared loaders' model.layers.{l}.
 */
export const dbrx: FamilyDefinition = {
  modelType: "dbrx",
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
