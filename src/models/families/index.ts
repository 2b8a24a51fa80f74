import type { FamilyDefinition } from "../config/family.js";
import { afmoe } from "./afmoe.js";
import { cohere2Moe } from "./cohere2_moe.js";
import { dbrx } from "./dbrx.js";
import { deepseekV2 } from "./deepseek_v2.js";
import { deepseekV3 } from "./deepseek_v3.js";
import { deepseekV32 } from "./deepseek_v32.js";
import { dots1 } from "./dots1.js";
import { ernie45Moe } from "./ernie4_5_moe.js";
import { exaoneMoe } from "./exaone_moe.js";
import { flexOlmo } from "./flex_olmo.js";
import { glm4Moe } from "./glm4_moe.js";
import { glm4MoeLite } from "./glm4_moe_lite.js";
import { gptOss } from "./gpt_oss.js";
import { granitemoe } from "./granitemoe.js";
import { granitemoehybrid } from "./granitemoehybrid.js";
import { granitemoeshared } from "./granitemoeshared.js";
import { hunyuanV1Moe } from "./hunyuan_v1_moe.js";
import { kimiLinear } from "./kimi_linear.js";
import { lfm2Moe } from "./lfm2_moe.js";
import { minimax } from "./minimax.js";
import { jetmoe } from "./jetmoe.js";
import { llama4, llama4Multimodal } from "./llama4.js";
import { longcatFlash } from "./longcat_flash.js";
import { minimaxM2 } from "./minimax_m2.js";
import { mixtral } from "./mixtral.js";
import { olmoe } from "./olmoe.js";
import { phimoe } from "./phimoe.js";
import { qwen2Moe } from "./qwen2_moe.js";
import { qwen35MoeMultimodal, qwen35MoeText } from "./qwen3_5_moe.js";
import { qwen3Moe } from "./qwen3_moe.js";
import { qwen3Next } from "./qwen3_next.js";

const FAMILIES: readonly FamilyDefinition[] = [
  qwen2Moe, qwen3Moe, mixtral, olmoe, granitemoe, gptOss, deepseekV3, deepseekV2, phimoe, glm4Moe, ernie45Moe, dots1, hunyuanV1Moe,
  flexOlmo, minimaxM2, granitemoeshared, glm4MoeLite, exaoneMoe, afmoe, cohere2Moe, dbrx, qwen3Next, qwen35MoeText, qwen35MoeMultimodal,
  kimiLinear,
  lfm2Moe, granitemoehybrid, minimax,
  llama4, llama4Multimodal, deepseekV32, longcatFlash, jetmoe,
];

export const SUPPORTED_MODEL_TYPES: readonly string[] = FAMILIES.map((f) => f.modelType);

export function familyFor(modelType: unknown): FamilyDefinition {
  const f = FAMILIES.find((x) => x.modelType === modelType);
  if (!f) throw new Error(`unsupported model_type ${JSON.stringify(modelType)}: supported are ${SUPPORTED_MODEL_TYPES.join(", ")}`);
  return f;
}
