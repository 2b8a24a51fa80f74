/**
 * A checkpoint's `quantization_config` (config.json): which published quantized layouts moekit loads as stored.
 * - quant_method "mxfp4" (gpt-oss): the experts as `*_blocks` (uint8 [E, out, in/32, 16], two FP4 e2m1 codes a
 *   byte) and `*_scales` (e8m0 [E, out, in/32]), converted to moekit's mxfp4 blocks without a float round trip;
 *   everything else is float.
 * Any other quant_method is refused by name before anything is read.
 */
import type { Config } from "../../loading/checkpoint.js";
import type { FamilyDefinition } from "../config/family.js";

export type CheckpointQuantization = "none" | "mxfp4";

export function checkpointQuantization(raw: Config, fam: FamilyDefinition): CheckpointQuantization {
  const q = (raw as Record<string, unknown>).quantization_config;
  if (q === undefined || q === null) return "none";
  if (typeof q !== "object" || Array.isArray(q)) throw new Error(`config.json: quantization_config must be an object, got ${JSON.stringify(q)}`);
  const method = (q as Record<string, unknown>).quant_method;
  if (method === "mxfp4") {
    if (fam.moe.experts.kind !== "gptOss") throw new Error(`config.json: quantization_config.quant_method "mxfp4" is the gpt-oss experts layout; a ${fam.modelType} checkpoint cannot use it`);
    return "mxfp4";
  }
  throw new Error(`config.json: quantization_config.quant_method ${JSON.stringify(method)} is not supported (moekit loads "mxfp4" gpt-oss checkpoints as stored)`);
}
