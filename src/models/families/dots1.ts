import type { FamilyDefinition } from "../family.js";
import { noauxTcMoe } from "./deepseek_v3.js";

export const dots1: FamilyDefinition = { modelType: "dots1", moe: noauxTcMoe(1.0) };
