import { intField, numField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { allLayers, numExperts } from "./common.js";
import { gqa, llamaLike, slidingByLayerTypes } from "./model-parts.js";
import { boolField } from "../config/fields.js";
import { DECODER, ROPE, choice, configSchema, extra, optional, positive, routedExperts, slidingWindow } from "../config/schema.js";
import type { Config } from "../../loading/checkpoint.js";

/**
 * `experts_layout: "gate_up_stacks"` (set by the GGUF loader): the experts as llama.cpp stores them,
 * gate and up rows concatenated per expert (out × in) with a concatenated clamped gate; see
 * loadExpertsWeights. Absent: transformers' interleaved, in × out gate_up_proj.
 */
export const gptOssGateUpStacks = (cfg: Config) => cfg.experts_layout === "gate_up_stacks";

export const gptOss: FamilyDefinition = {
  modelType: "gpt_oss",
  config: configSchema(DECODER, ROPE, routedExperts(), slidingWindow(), extra({ swiglu_limit: optional(positive), experts_layout: optional(choice("gate_up_stacks")) })),
  moe: {
    blockName: "mlp",
    isSparseLayer: allLayers,
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["intermediate_size"]),
    // alpha is a class constant in transformers; the limit is the config's swiglu_limit (7.0).
    gate: (cfg) => ({ kind: gptOssGateUpStacks(cfg) ? "concatenated" : "interleaved", act: "silu", clampedSwiglu: { alpha: 1.702, limit: numField(cfg, ["swiglu_limit"], 7.0) } }),
    router: { weightKey: "router.weight", biasKey: "router.bias", rule: (cfg) => ({ kind: "topKSoftmax", k: intField(cfg, ["num_experts_per_tok"]) }) },
    experts: { kind: "gptOss" },
  },
  model: llamaLike({
    defaultRopeTheta: 150000,
    attention: (cfg) => ({ ...gqa(cfg, { sinks: true }), qkvBias: boolField(cfg, ["attention_bias"], true), oBias: boolField(cfg, ["attention_bias"], true) }),
    slidingWindow: slidingByLayerTypes((_cfg, l) => l % 2 === 0),
  }),
};
