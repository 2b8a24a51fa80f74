import { intField } from "../config/fields.js";
import type { Config } from "../../loading/checkpoint.js";
import type { FamilyDefinition } from "../config/family.js";
import { configSchema } from "../config/schema.js";
import { allLayers } from "./common.js";
import { QWEN3_NEXT_PIECES, qwen3Next, qwen3NextModel } from "./qwen3_next.js";

/**
 * Qwen3.5-MoE's text model: qwen3_next with separate Gated DeltaNet projections, every layer sparse and
 * top-k weights always normalised. Its multimodal RoPE reduces to plain positions for text (all three
 * position rows equal).
 */
export const qwen35MoeText: FamilyDefinition = {
  modelType: "qwen3_5_moe_text",
  config: configSchema(...QWEN3_NEXT_PIECES),
  moe: {
    ...qwen3Next.moe,
    isSparseLayer: allLayers,
    router: { ...qwen3Next.moe.router, rule: (cfg) => ({ kind: "softmaxTopK", k: intField(cfg, ["num_experts_per_tok"]), normTopkProb: true }) },
  },
  model: qwen3NextModel("separate"),
  unusedByDesign: { ignore: [/^mtp\./] },
};

const isRecord = (v: unknown): v is Config => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Qwen3.5-MoE as released (Qwen3_5MoeForConditionalGeneration, model_type "qwen3_5_moe"): the text model's
 * config in text_config, its tensors under model.language_model.; the vision tower (model.visual.) and the
 * next-token-prediction layers (mtp.) stay unused, as transformers' causal LM ignores them.
 */
export const qwen35MoeMultimodal: FamilyDefinition = {
  ...qwen35MoeText,
  modelType: "qwen3_5_moe",
  checkpoint: {
    config: (raw) => ({ ...raw, ...(isRecord(raw.text_config) ? raw.text_config : {}), model_type: "qwen3_5_moe" }),
    renames: [[/^model\.language_model\./, "model."]],
  },
  unusedByDesign: { ignore: [/^mtp\./, /^model\.visual\./] },
};
