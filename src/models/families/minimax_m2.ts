import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { everyLayerMoe } from "./common.js";
import { gqa, llamaLike } from "./model-parts.js";
import { DECODER, ROPE, configSchema, extra, optional, posInt, routedExperts } from "../config/schema.js";

/** Mixtral-style experts under a sigmoid router with a selection bias; q/k norm over all heads at once; partial RoPE. */
export const minimaxM2: FamilyDefinition = {
  modelType: "minimax_m2",
  config: configSchema(DECODER, ROPE, routedExperts(), extra({ rotary_dim: optional(posInt) })),
  moe: everyLayerMoe({
      weightKey: "gate.weight",
      correctionBiasKey: "e_score_correction_bias",
      rule: (cfg) => ({ kind: "sigmoidTopK", k: intField(cfg, ["num_experts_per_tok"]), normTopkProb: true, eps: 0, scale: 1 }),
    }),
  model: llamaLike({ defaultRopeTheta: 5e6, attention: (cfg) => gqa(cfg, { qkNorm: { placement: "fullBeforeRope", q: "q_norm", k: "k_norm" } }) }),
  // Released checkpoints give partial RoPE as rotary_dim (features), not partial_rotary_factor; head_dim defaults to 128.
  checkpoint: {
    config: (cfg) =>
      typeof cfg.rotary_dim === "number" && cfg.partial_rotary_factor === undefined ? { ...cfg, partial_rotary_factor: cfg.rotary_dim / intField(cfg, ["head_dim"], 128) } : cfg,
  },
};
