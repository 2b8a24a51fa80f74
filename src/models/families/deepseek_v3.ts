import { boolField, intField, numField } from "../config/fields.js";
import type { FamilyDefinition, MoeDefinition } from "../config/family.js";
import { afterDenseFirst, numExperts, QWEN_EXPERTS, swiglu } from "./common.js";
import { llamaLike } from "./model-parts.js";
import type { ModelDefinition } from "../config/family.js";
import { DECODER, GROUPED_ROUTING, MLA, MTP, ROPE, configSchema, routedExperts } from "../config/schema.js";

/** The noaux_tc MoE shared by deepseek_v3, glm4_moe and dots1. */
export function noauxTcMoe(defaultScale: number): MoeDefinition {
  return {
    blockName: "mlp",
    isSparseLayer: afterDenseFirst,
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["moe_intermediate_size"]),
    gate: swiglu,
    router: {
      weightKey: "gate.weight",
      correctionBiasKey: "gate.e_score_correction_bias",
      rule: (cfg) => ({
        kind: "noauxTc",
        k: intField(cfg, ["num_experts_per_tok"]),
        groups: intField(cfg, ["n_group"], 1),
        topkGroup: intField(cfg, ["topk_group"], 1),
        normTopkProb: boolField(cfg, ["norm_topk_prob"], true),
        scale: numField(cfg, ["routed_scaling_factor"], defaultScale),
      }),
    },
    experts: QWEN_EXPERTS,
    shared: { name: "shared_experts", width: (cfg) => intField(cfg, ["moe_intermediate_size"]) * intField(cfg, ["n_shared_experts"], 1) },
  };
}

/** Multi-head latent attention; RoPE on the rope slice only, interleaved pairs unless rope_interleave is false. */
export function mlaModel(honourRopeInterleave: boolean): ModelDefinition {
  return llamaLike({
    ropeStyle: (cfg) => (!honourRopeInterleave || boolField(cfg, ["rope_interleave"], true) ? "interleaved" : "halfSplit"),
    attention: () => ({ kind: "mla" }),
    denseMlpBias: (cfg) => boolField(cfg, ["mlp_bias"], false),
  });
}

/** The multi-token-prediction layers released checkpoints keep after the decoder (transformers ignores them). */
export const MTP_LAYERS: FamilyDefinition["unusedByDesign"] = {
  mtpLayers: (cfg) => intField(cfg, ["num_nextn_predict_layers", "num_mtp_layers"], 1),
};

export const deepseekV3: FamilyDefinition = { modelType: "deepseek_v3",
  config: configSchema(DECODER, ROPE, routedExperts(), GROUPED_ROUTING, MLA, MTP), moe: noauxTcMoe(2.5), model: mlaModel(true), unusedByDesign: MTP_LAYERS };
