import { intField, perLayer } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { allLayers, QWEN_EXPERTS, swiglu } from "./common.js";
import { gqa, llamaLike } from "./model-parts.js";

export const hunyuanV1Moe: FamilyDefinition = {
  modelType: "hunyuan_v1_moe",
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
