import { QWEN_MOE_PIECES, qwen2Moe } from "./qwen2_moe.js";
import { configSchema } from "../config/schema.js";
import type { FamilyDefinition } from "../config/family.js";
import { boolField } from "../config/fields.js";
import { gqa, llamaLike } from "./model-parts.js";

/** qwen2_moe's MoE without the shared expert; per-head qk-norm; one window for all layers iff use_sliding_window. */
export const qwen3Moe: FamilyDefinition = {
  modelType: "qwen3_moe",
  config: configSchema(...QWEN_MOE_PIECES),
  moe: { ...qwen2Moe.moe, shared: undefined },
  model: llamaLike({
    attention: (cfg) => gqa(cfg, { qkNorm: { placement: "headBeforeRope", q: "q_norm", k: "k_norm" } }),
    slidingWindow: (cfg) => {
      const w = cfg.sliding_window;
      return boolField(cfg, ["use_sliding_window"], false) && typeof w === "number" && w > 0 ? w : undefined;
    },
  }),
};
