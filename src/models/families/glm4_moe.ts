import { boolField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { MTP_LAYERS, noauxTcMoe } from "./deepseek_v3.js";
import { llamaLike } from "./model-parts.js";
import { DECODER, GROUPED_ROUTING, MTP, ROPE, bool, configSchema, extra, optional, routedExperts } from "../config/schema.js";

/** DeepSeek-V3's MoE with GQA: q/k/v bias, optional per-head qk-norm, half of head_dim rotated by default. */
export const glm4Moe: FamilyDefinition = {
  modelType: "glm4_moe",
  config: configSchema(DECODER, ROPE, routedExperts(), GROUPED_ROUTING, MTP, extra({ use_qk_norm: optional(bool) })),
  moe: noauxTcMoe(1.0),
  model: llamaLike({
    defaultPartialRotaryFactor: 0.5,
    attention: (cfg) => ({
      kind: "gqa",
      qkvBias: boolField(cfg, ["attention_bias"], false),
      oBias: false,
      qkNorm: boolField(cfg, ["use_qk_norm"], false) ? { placement: "headBeforeRope", q: "q_norm", k: "k_norm" } : undefined,
    }),
  }),
  unusedByDesign: MTP_LAYERS,
};
