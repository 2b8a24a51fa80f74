import type { FamilyDefinition } from "../config/family.js";
import { olmoe } from "./olmoe.js";
import { gqa, llamaLike, POST_NORMS } from "./model-parts.js";
import { DECODER, ROPE, configSchema, routedExperts } from "../config/schema.js";

/** olmoe's MoE; OLMo2-style norms on each sublayer's output; q/k norm over the full projection width, no clipping. */
export const flexOlmo: FamilyDefinition = {
  modelType: "flex_olmo",
  config: configSchema(DECODER, ROPE, routedExperts()),
  moe: olmoe.moe,
  model: llamaLike({
    layerNorms: POST_NORMS,
    defaultRopeTheta: 500000,
    attention: (cfg) => gqa(cfg, { qkNorm: { placement: "fullBeforeRope", q: "q_norm", k: "k_norm" } }),
  }),
};
