import { intField, perLayer } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { allLayers, QWEN_EXPERTS, swiglu } from "./common.js";
import { gqa, llamaLike } from "./model-parts.js";
import { bool, configSchema, DECODER, extra, optional, posIntOrPerLayer, ROPE, routedExperts } from "../config/schema.js";

export const hunyuanV1Moe: FamilyDefinition = {
  modelType: "hunyuan_v1_moe",
  config: configSchema(
    DECODER,
    ROPE,
    routedExperts(),
    // one number, or one per layer
    extra({ num_experts: posIntOrPerLayer, moe_topk: posIntOrPerLayer, use_qk_norm: optional(bool) }, (cfg, report) => {
      for (const f of ["num_experts", "moe_topk"]) {
        const v = cfg[f];
        if (Array.isArray(v) && v.length !== cfg.num_hidden_layers) report(f, `must be one number or list one per layer (${String(cfg.num_hidden_layers)}), got ${v.length}`);
      }
    }),
  ),
  moe: {
    blockName: "mlp",
    isSparseLayer: allLayers,
    numExperts: (cfg, l) => perLayer(cfg, ["num_experts"], l),
    intermediateSize: (cfg) => intField(cfg, ["intermediate_size"]),
    gate: swiglu,
    router: { weightKey: "gate.wg.weight", rule: (cfg, l) => ({ kind: "softmaxTopK", k: perLayer(cfg, ["moe_topk"], l), normTopkProb: true }) },
    experts: QWEN_EXPERTS,
    shared: { name: "shared_mlp", width: (cfg) => intField(cfg, ["intermediate_size"]) },
  },
  model: llamaLike({ attention: (cfg) => gqa(cfg, { qkNorm: { placement: "headAfterRope", q: "query_layernorm", k: "key_layernorm" } }) }),
};
