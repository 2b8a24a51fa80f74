import type { FamilyDefinition } from "../config/family.js";
import { sparseByMlpLayerTypes } from "./common.js";
import { mlaModel, MTP_LAYERS, noauxTcMoe } from "./deepseek_v3.js";
import { DECODER, GROUPED_ROUTING, MLA, MLP_LAYER_TYPES, MTP, ROPE, configSchema, routedExperts } from "../config/schema.js";

/** DeepSeek-V3 (MLA attention, noaux_tc routing, shared experts) under GLM names; mlp_layer_types places the sparse layers (default: all but the first). */
export const glm4MoeLite: FamilyDefinition = {
  modelType: "glm4_moe_lite",
  config: configSchema(DECODER, ROPE, routedExperts(), GROUPED_ROUTING, MLA, MLP_LAYER_TYPES, MTP),
  moe: { ...noauxTcMoe(1.8), isSparseLayer: sparseByMlpLayerTypes((_cfg, l) => l > 0) },
  model: mlaModel(true),
  unusedByDesign: MTP_LAYERS,
};
