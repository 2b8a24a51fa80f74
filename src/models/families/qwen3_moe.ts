import { qwen2Moe } from "./qwen2_moe.js";
import type { FamilyDefinition } from "../family.js";

/** qwen2_moe's MoE without the shared expert. */
export const qwen3Moe: FamilyDefinition = {
  modelType: "qwen3_moe",
  moe: { ...qwen2Moe.moe, shared: undefined },
};
