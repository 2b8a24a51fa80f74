import { intField, numField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { numExperts, QWEN_EXPERTS, swiglu } from "./common.js";
import { llamaLike } from "./model-parts.js";
import { boolField } from "../config/fields.js";
import { bool, configSchema, DECODER, extra, intFrom, nonNegInt, optional, posInt, positive, ROPE, routedExperts } from "../config/schema.js";

export const ernie45Moe: FamilyDefinition = {
  modelType: "ernie4_5_moe",
  config: configSchema(
    DECODER,
    ROPE,
    routedExperts(),
    extra({
      moe_layer_start_index: optional(nonNegInt),
      moe_layer_end_index: optional(intFrom(-1)),
      moe_layer_interval: optional(posInt),
      moe_norm_min: optional(positive),
      moe_num_shared_experts: optional(nonNegInt),
      use_bias: optional(bool),
    }),
  ),
  moe: {
    blockName: "mlp",
    isSparseLayer: (cfg, l) => {
      const end = intField(cfg, ["moe_layer_end_index"], -1);
      const last = end < 0 ? intField(cfg, ["num_hidden_layers"]) - 1 : end;
      return (l + 1) % intField(cfg, ["moe_layer_interval"], 1) === 0 && l >= intField(cfg, ["moe_layer_start_index"], 0) && l <= last;
    },
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["moe_intermediate_size"]),
    gate: swiglu,
    router: {
      weightKey: "gate.weight",
      correctionBiasKey: "moe_statics.e_score_correction_bias",
      rule: (cfg) => ({ kind: "softmaxBiasedTopKClampedNorm", k: intField(cfg, ["moe_k", "num_experts_per_tok"]), normMin: numField(cfg, ["moe_norm_min"], 1e-12) }),
    },
    experts: QWEN_EXPERTS,
    shared: { name: "shared_experts", width: (cfg) => intField(cfg, ["moe_intermediate_size"]) * intField(cfg, ["moe_num_shared_experts"], 0) },
  },
  model: llamaLike({
    ropeStyle: "interleaved",
    defaultRopeTheta: 500000,
    tieWordEmbeddingsDefault: true,
    attention: (cfg) => ({ kind: "gqa", qkvBias: boolField(cfg, ["use_bias"], false), oBias: boolField(cfg, ["use_bias"], false) }),
    lmHeadBias: (cfg) => boolField(cfg, ["use_bias"], false),
    denseMlpBias: (cfg) => boolField(cfg, ["use_bias"], false),
  }),
  unusedByDesign: { ignore: [/mtp/] },
};
