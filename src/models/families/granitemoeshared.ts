import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { granitemoe } from "./granitemoe.js";
import { configSchema, extra, nonNegInt, optional } from "../config/schema.js";

/** granitemoe with a dense shared MLP beside the sparse block (model.layers.{l}.shared_mlp), absent when its width is 0. */
export const granitemoeshared: FamilyDefinition = {
  modelType: "granitemoeshared",
  config: configSchema(...granitemoe.config.pieces, extra({ shared_intermediate_size: optional(nonNegInt) })),
  moe: { ...granitemoe.moe, besideMlp: { name: "shared_mlp", width: (cfg) => intField(cfg, ["shared_intermediate_size"], 0) } },
  model: granitemoe.model,
};
