import type { FamilyDefinition } from "../family.js";
import { noauxTcMoe } from "./deepseek_v3.js";

export const glm4Moe: FamilyDefinition = { modelType: "glm4_moe", moe: noauxTcMoe(1.0) };
