import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { everyLayerMoe } from "./common.js";
import { gqa, llamaLike } from "./model-parts.js";
import { numField } from "../config/fields.js";
import { DECODER, ROPE, configSchema, extra, optional, positive, routedExperts } from "../config/schema.js";

/** attention scale, embedding / residual multipliers and the logits divisor. */
export const GRANITE_MULTIPLIERS = extra({
  attention_multiplier: optional(positive),
  embedding_multiplier: optional(positive),
  residual_multiplier: optional(positive),
  logits_scaling: optional(positive),
});

export const granitemoe: FamilyDefinition = {
  modelType: "granitemoe",
  config: configSchema(DECODER, ROPE, routedExperts(), GRANITE_MULTIPLIERS),
  moe: everyLayerMoe({ weightKey: "router.layer.weight", rule: (cfg) => ({ kind: "topKSoftmax", k: intField(cfg, ["num_experts_per_tok"]) }) }, { experts: { kind: "granite" } }),
  model: llamaLike({
    attention: (cfg) => gqa(cfg, { scale: numField(cfg, ["attention_multiplier"], 1) }),
    multipliers: (cfg) => ({
      embedding: numField(cfg, ["embedding_multiplier"], 1),
      residual: numField(cfg, ["residual_multiplier"], 1),
      logitsDivisor: numField(cfg, ["logits_scaling"], 1),
    }),
  }),
};
