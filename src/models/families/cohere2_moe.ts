import type { Config } from "../../loading/checkpoint.js";
import type { RouterRule } from "../../experts/routers.js";
import { boolField, intField, numField, oneOf } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { numExperts, QWEN_EXPERTS, sparseByMlpLayerTypes, swiglu } from "./common.js";
import { gqa, llamaLike, PARALLEL_NORMS, slidingByLayerTypes } from "./model-parts.js";
import { choice, configSchema, DECODER, extra, MLP_LAYER_TYPES, nonNegInt, optional, posInt, positive, ROPE, routedExperts, slidingWindow } from "../config/schema.js";

const denseFirst = (cfg: Config) => intField(cfg, ["first_k_dense_replace"], 0);
const isSparse = sparseByMlpLayerTypes((cfg, l) => l >= denseFirst(cfg));

/** Without layer_types: dense-prefix and sparse layers each slide except every n-th of their own pattern. */
const sliding = slidingByLayerTypes((cfg, l) => {
  const k = denseFirst(cfg);
  const [i, n] = l < k ? [l, intField(cfg, ["prefix_dense_sliding_window_pattern"], 1)] : [l - k, intField(cfg, ["sliding_window_pattern"], 4)];
  return (i + 1) % n !== 0;
});

function routerRule(cfg: Config): RouterRule {
  const k = intField(cfg, ["num_experts_per_tok"]);
  return oneOf(cfg, "expert_selection_fn", ["softmax", "sigmoid"], "softmax") === "softmax"
    ? { kind: "topKSoftmax", k }
    : { kind: "sigmoidTopK", k, normTopkProb: boolField(cfg, ["norm_topk_prob"], true), eps: 0, scale: 1 };
}

/**
 * Attention and the ffn side by side from one norm (RMSNorm, or bias-free LayerNorm when rms_norm_eps is
 * null); interleaved RoPE on sliding layers and, with prefix_dense_sliding_window_pattern 1, the dense
 * prefix; top-k router with softmax or sigmoid weights; shared experts averaged with the routed output;
 * logits × logit_scale.
 */
export const cohere2Moe: FamilyDefinition = {
  modelType: "cohere2_moe",
  config: configSchema(
    DECODER,
    ROPE,
    routedExperts(),
    slidingWindow(),
    MLP_LAYER_TYPES,
    extra({
      expert_selection_fn: optional(choice("softmax", "sigmoid")),
      shared_expert_combination_strategy: optional(choice("sum", "average")),
      num_shared_experts: optional(nonNegInt),
      prefix_dense_intermediate_size: optional(posInt),
      logit_scale: optional(positive),
      sliding_window_pattern: optional(posInt),
      prefix_dense_sliding_window_pattern: optional(posInt),
      first_k_dense_replace: optional(nonNegInt),
    }),
  ),
  moe: {
    blockName: "mlp",
    isSparseLayer: isSparse,
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["intermediate_size"]),
    gate: swiglu,
    router: { weightKey: "gate.weight", rule: routerRule },
    experts: QWEN_EXPERTS,
    shared: {
      name: "shared_experts",
      width: (cfg) => intField(cfg, ["intermediate_size"]) * intField(cfg, ["num_shared_experts"], 0),
      combine: (cfg) => oneOf(cfg, "shared_expert_combination_strategy", ["sum", "average"], "average"),
    },
  },
  model: llamaLike({
    norm: (cfg) => (cfg.rms_norm_eps == null ? "layerNoBias" : "rms"),
    normEps: (cfg) => numField(cfg, ["rms_norm_eps", "layer_norm_eps"], 1e-5),
    layerNorms: PARALLEL_NORMS,
    ropeStyle: "interleaved",
    tieWordEmbeddingsDefault: true,
    attention: (cfg, l) => {
      const forced = !isSparse(cfg, l) && intField(cfg, ["prefix_dense_sliding_window_pattern"], 1) === 1;
      return gqa(cfg, { rope: sliding(cfg, l) !== undefined || forced });
    },
    slidingWindow: sliding,
    denseIntermediateSize: (cfg) => intField(cfg, ["prefix_dense_intermediate_size", "intermediate_size"]),
    multipliers: (cfg) => ({ embedding: 1, residual: 1, logitsDivisor: 1 / numField(cfg, ["logit_scale"], 0.0625) }),
  }),
};
