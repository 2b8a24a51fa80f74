import type { Config } from "../../loading/checkpoint.js";
import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { configSchema, DECODER, extra, GROUPED_ROUTING, layerKinds, MLA, MLP_LAYER_TYPES, optional, posInt, ROPE, routedExperts } from "../config/schema.js";
import { KIMI_DELTA_ATTENTION, kimiDeltaAttention } from "../layers/mixers/kimi-delta-attention.js";
import { useMixer } from "../layers/mixers/mixer.js";
import { afterDenseFirst, MIXTRAL_EXPERTS, sparseByMlpLayerTypes } from "./common.js";
import { noauxTcMoe } from "./deepseek_v3.js";
import { llamaLike } from "./model-parts.js";

/** KimiLinearConfig's attribute_map: canonical ← stored name (errors name the stored one). */
const ATTRIBUTE_MAP: Record<string, string> = {
  max_position_embeddings: "model_max_length",
  norm_topk_prob: "moe_renormalize",
  n_group: "num_expert_group",
  num_experts_per_tok: "num_experts_per_token",
  n_shared_experts: "num_shared_experts",
};

/** The attribute map and the released checkpoints' linear_attn_config sub-dict. */
const ALIASES: Record<string, string> = {
  ...ATTRIBUTE_MAP,
  linear_head_dim: "linear_attn_config.head_dim",
  linear_num_heads: "linear_attn_config.num_heads",
  linear_conv_kernel_dim: "linear_attn_config.short_conv_kernel_size",
};

function lookup(cfg: Config, path: string): unknown {
  let v: unknown = cfg;
  for (const part of path.split(".")) v = v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

/** The canonical fields from their stored names (a canonical field already given wins); max_position_embeddings defaults to 1048576. */
function flatConfig(cfg: Config): Config {
  const out: Config = { ...cfg };
  for (const [name, path] of Object.entries(ALIASES)) if (out[name] == null && lookup(cfg, path) !== undefined) out[name] = lookup(cfg, path);
  out.max_position_embeddings ??= 1048576;
  return out;
}

/**
 * layer_types; else the released checkpoints' linear_attn_config.kda_layers (1-based layer numbers, with
 * full_attn_layers); else every 4th layer after the first is full attention (KimiLinearConfig's defaults).
 */
function isLinear(cfg: Config, l: number): boolean {
  const types = cfg.layer_types;
  if (Array.isArray(types)) return types[l] === "linear_attention";
  const kda = lookup(cfg, "linear_attn_config.kda_layers");
  if (Array.isArray(kda) && Array.isArray(lookup(cfg, "linear_attn_config.full_attn_layers"))) return kda.includes(l + 1);
  return !(l > 0 && l % 4 === 0);
}

/**
 * Kimi-Linear: KDA layers (per-channel gated delta rule) between MLA layers without positional encoding;
 * DeepSeek-V3-style grouped sigmoid routing with a correction bias, shared experts, dense first layers.
 */
export const kimiLinear: FamilyDefinition = {
  modelType: "kimi_linear",
  config: configSchema(
    DECODER,
    ROPE,
    routedExperts(),
    GROUPED_ROUTING,
    MLA,
    MLP_LAYER_TYPES,
    KIMI_DELTA_ATTENTION,
    layerKinds(["full_attention", "linear_attention"], { optionalList: true }),
    extra({ num_shared_experts: optional(posInt) }),
  ),
  moe: {
    ...noauxTcMoe(2.446),
    isSparseLayer: sparseByMlpLayerTypes(afterDenseFirst),
    experts: MIXTRAL_EXPERTS,
    shared: { name: "shared_experts", width: (cfg) => intField(cfg, ["moe_intermediate_size"]) * intField(cfg, ["n_shared_experts"], 1) },
  },
  model: llamaLike({
    attention: () => ({ kind: "mla", rope: false }),
    mixer: (cfg, l) => (isLinear(cfg, l) ? useMixer(kimiDeltaAttention, undefined) : undefined),
  }),
  checkpoint: {
    config: flatConfig,
    fieldNames: ATTRIBUTE_MAP,
    renames: [[/^(model\.layers\.\d+)\.block_sparse_moe\./, "$1.mlp."]],
  },
};
