import { boolField, intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { numExperts, QWEN_EXPERTS, swiglu } from "./common.js";
import { llamaLike, qwen2Sliding } from "./model-parts.js";
import { bool, configSchema, DECODER, extra, listOf, nonNegInt, optional, posInt, ROPE, routedExperts, slidingWindow } from "../config/schema.js";

/** Qwen's sparse-layer placement (mlp_only_layers, decoder_sparse_step; no experts means all dense) and its window switch. */
export const QWEN_MOE_PIECES = [
  DECODER,
  ROPE,
  routedExperts({ allowNoExperts: true }),
  slidingWindow("use_sliding_window"),
  extra({ decoder_sparse_step: optional(posInt), mlp_only_layers: optional(listOf(nonNegInt)), max_window_layers: optional(nonNegInt) }),
];

export const qwen2Moe: FamilyDefinition = {
  modelType: "qwen2_moe",
  config: configSchema(...QWEN_MOE_PIECES, extra({ shared_expert_intermediate_size: posInt, qkv_bias: optional(bool) })),
  moe: {
    blockName: "mlp",
    isSparseLayer: (cfg, l) =>
      !((cfg.mlp_only_layers as number[] | undefined) ?? []).includes(l) &&
      numExperts(cfg) > 0 &&
      (l + 1) % intField(cfg, ["decoder_sparse_step"], 1) === 0,
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["moe_intermediate_size"]),
    gate: swiglu,
    router: {
      weightKey: "gate.weight",
      rule: (cfg) => ({ kind: "softmaxTopK", k: intField(cfg, ["num_experts_per_tok"]), normTopkProb: boolField(cfg, ["norm_topk_prob"], false) }),
    },
    experts: QWEN_EXPERTS,
    shared: { name: "shared_expert", width: (cfg) => intField(cfg, ["shared_expert_intermediate_size"]), gateKey: "shared_expert_gate.weight" },
  },
  model: llamaLike({
    attention: (cfg) => ({ kind: "gqa", qkvBias: boolField(cfg, ["qkv_bias"], true), oBias: false }),
    slidingWindow: qwen2Sliding,
  }),
};
