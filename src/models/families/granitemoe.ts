import { intField } from "../config.js";
import type { FamilyDefinition } from "../family.js";
import { allLayers, numExperts, swiglu } from "./common.js";

export const granitemoe: FamilyDefinition = {
  modelType: "granitemoe",
  moe: {
    blockName: "block_sparse_moe",
    isSparseLayer: allLayers,
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["intermediate_size"]),
    gate: swiglu,
    router: { weightKey: "router.layer.weight", rule: (cfg) => ({ kind: "topKSoftmax", k: intField(cfg, ["num_experts_per_tok"]) }) },
    experts: { kind: "granite" },
  },
};
