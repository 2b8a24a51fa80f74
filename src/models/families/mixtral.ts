import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { everyLayerMoe } from "./common.js";
import { llamaLike, slidingEverywhere } from "./model-parts.js";
import { configSchema, DECODER, extra, nonNegative, optional, ROPE, routedExperts, slidingWindow } from "../config/schema.js";

export const mixtral: FamilyDefinition = {
  modelType: "mixtral",
  config: configSchema(DECODER, ROPE, routedExperts(), slidingWindow(), extra({ router_jitter_noise: optional(nonNegative) })),
  moe: everyLayerMoe({ weightKey: "gate.weight", rule: (cfg) => ({ kind: "softmaxTopK", k: intField(cfg, ["num_experts_per_tok"]), normTopkProb: true }) }),
  model: llamaLike({ defaultRopeTheta: 1e6, attention: () => ({ kind: "gqa", qkvBias: false, oBias: false }), slidingWindow: slidingEverywhere }),
};
