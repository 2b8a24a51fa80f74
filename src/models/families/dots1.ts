import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { noauxTcMoe } from "./deepseek_v3.js";
import { gqa, llamaLike, slidingByLayerTypes } from "./model-parts.js";
import { DECODER, GROUPED_ROUTING, ROPE, configSchema, extra, nonNegInt, optional, routedExperts, slidingWindow } from "../config/schema.js";

/** DeepSeek-V3's MoE with GQA and per-head qk-norm; layers from max_window_layers on slide. */
export const dots1: FamilyDefinition = {
  modelType: "dots1",
  config: configSchema(DECODER, ROPE, routedExperts(), GROUPED_ROUTING, slidingWindow(), extra({ max_window_layers: optional(nonNegInt) })),
  moe: noauxTcMoe(1.0),
  model: llamaLike({
    attention: (cfg) => gqa(cfg, { qkNorm: { placement: "headBeforeRope", q: "q_norm", k: "k_norm" } }),
    slidingWindow: slidingByLayerTypes((cfg, l) => l >= intField(cfg, ["max_window_layers"], intField(cfg, ["num_hidden_layers"]))),
  }),
};
