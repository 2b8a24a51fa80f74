import type { Config } from "../../loading/checkpoint.js";
import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { sparseByMlpLayerTypes } from "./common.js";
import { noauxTcMoe } from "./deepseek_v3.js";
import { gqa, llamaLike, slidingByLayerTypes } from "./model-parts.js";
import { DECODER, GROUPED_ROUTING, MLP_LAYER_TYPES, ROPE, configSchema, extra, nonNegInt, optional, posInt, routedExperts, slidingWindow } from "../config/schema.js";

/** Without layer_types: every sliding_window_pattern-th layer is full, the others slide. */
function patternSlides(cfg: Config, l: number): boolean {
  const pattern = cfg.sliding_window_pattern ?? 4;
  if (!Number.isInteger(pattern) || (pattern as number) < 1) throw new Error(`config.json: exaone_moe without layer_types needs an integer sliding_window_pattern ≥ 1, got ${JSON.stringify(pattern)}`);
  return (l + 1) % (pattern as number) !== 0;
}

const sliding = slidingByLayerTypes((cfg, l) => cfg.sliding_window != null && patternSlides(cfg, l));
const noauxTc = noauxTcMoe(2.5);

/** DeepSeek-V3-style grouped sigmoid routing with a shared expert; per-head q/k norm; RoPE only on sliding layers (all layers without a window). */
export const exaoneMoe: FamilyDefinition = {
  modelType: "exaone_moe",
  config: configSchema(DECODER, ROPE, routedExperts(), GROUPED_ROUTING, slidingWindow(), MLP_LAYER_TYPES, extra({ sliding_window_pattern: optional(posInt), num_shared_experts: optional(nonNegInt) })),
  moe: {
    ...noauxTc,
    isSparseLayer: sparseByMlpLayerTypes((cfg, l) => l >= intField(cfg, ["first_k_dense_replace"], 1)),
    router: { ...noauxTc.router, correctionBiasKey: "e_score_correction_bias" },
    shared: { name: "shared_experts", width: (cfg) => intField(cfg, ["moe_intermediate_size"]) * intField(cfg, ["num_shared_experts"], 1) },
  },
  model: llamaLike({
    attention: (cfg, l) => gqa(cfg, { qkNorm: { placement: "headBeforeRope", q: "q_norm", k: "k_norm" }, rope: cfg.sliding_window == null || sliding(cfg, l) !== undefined }),
    slidingWindow: sliding,
  }),
  unusedByDesign: { ignore: [/mtp/] },
};
