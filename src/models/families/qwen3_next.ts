import type { Config } from "../../loading/checkpoint.js";
import { boolField, intField } from "../config/fields.js";
import type { FamilyDefinition, ModelDefinition } from "../config/family.js";
import { configSchema, DECODER, extra, layerKinds, listOf, nonNegInt, optional, posInt, ROPE, routedExperts } from "../config/schema.js";
import { GATED_DELTA_NET, gatedDeltaNet, type GatedDeltaNetDefinition } from "../layers/mixers/gated-delta-net.js";
import { useMixer } from "../layers/mixers/mixer.js";
import { gqa, llamaLike } from "./model-parts.js";
import { qwen2Moe } from "./qwen2_moe.js";

/** layer_types, or without it every full_attention_interval-th layer (default 4) full, the others linear. */
export function isLinearLayer(cfg: Config, l: number): boolean {
  const types = cfg.layer_types;
  return Array.isArray(types) ? types[l] === "linear_attention" : (l + 1) % intField(cfg, ["full_attention_interval"], 4) !== 0;
}

/** Qwen's MoE fields and the hybrid layer kinds (no sliding window: layer_types names mixers here). */
export const QWEN3_NEXT_PIECES = [
  DECODER,
  ROPE,
  routedExperts({ allowNoExperts: true }),
  GATED_DELTA_NET,
  layerKinds(["full_attention", "linear_attention"], { optionalList: true }),
  extra({ decoder_sparse_step: optional(posInt), mlp_only_layers: optional(listOf(nonNegInt)), full_attention_interval: optional(posInt), shared_expert_intermediate_size: posInt }),
];

/** Hybrid decoder: Gated DeltaNet layers between gated-query attention layers; (1 + w) RMSNorms; partial RoPE (¼ by default). */
export function qwen3NextModel(projections: GatedDeltaNetDefinition["projections"]): ModelDefinition {
  return llamaLike({
    attention: (cfg) => gqa(cfg, { qkNorm: { placement: "headBeforeRope", q: "q_norm", k: "k_norm" }, gatedQuery: true }),
    mixer: (cfg, l) => (isLinearLayer(cfg, l) ? useMixer(gatedDeltaNet, { projections }) : undefined),
    normWeightOffset: 1,
    defaultPartialRotaryFactor: 0.25,
  });
}

/** qwen2_moe's MoE (softmax top-k, normalised by default, σ-gated shared expert) under a hybrid Gated DeltaNet / attention decoder. */
export const qwen3Next: FamilyDefinition = {
  modelType: "qwen3_next",
  config: configSchema(...QWEN3_NEXT_PIECES),
  moe: {
    ...qwen2Moe.moe,
    router: {
      ...qwen2Moe.moe.router,
      rule: (cfg) => ({ kind: "softmaxTopK", k: intField(cfg, ["num_experts_per_tok"]), normTopkProb: boolField(cfg, ["norm_topk_prob"], true) }),
    },
  },
  model: qwen3NextModel("groupedFused"),
  unusedByDesign: { ignore: [/^mtp\./] },
};
