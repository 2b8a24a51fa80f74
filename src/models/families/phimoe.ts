import { intField, numField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { everyLayerMoe } from "./common.js";
import { gqa, llamaLike, slidingEverywhere } from "./model-parts.js";
import { boolField } from "../config/fields.js";
import { bool, configSchema, DECODER, extra, nonNegative, optional, ROPE, routedExperts, slidingWindow } from "../config/schema.js";

export const phimoe: FamilyDefinition = {
  modelType: "phimoe",
  config: configSchema(DECODER, ROPE, routedExperts(), slidingWindow(), extra({ router_jitter_noise: optional(nonNegative), lm_head_bias: optional(bool) })),
  moe: everyLayerMoe({
      weightKey: "gate.weight",
      rule: (cfg) => ({ kind: "gapMaskedTopTwo", k: intField(cfg, ["num_experts_per_tok"], 2), jitterEps: numField(cfg, ["router_jitter_noise"], 0.01) }),
    }),
  model: llamaLike({
    norm: "layer",
    defaultRopeTheta: 1e6,
    attention: (cfg) => gqa(cfg),
    slidingWindow: slidingEverywhere,
    lmHeadBias: (cfg) => boolField(cfg, ["lm_head_bias"], false),
    longropeShortFactorOnly: true,
  }),
};
