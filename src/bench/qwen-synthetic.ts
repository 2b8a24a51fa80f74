/** The tensors of a qwen2_moe checkpoint implied by its config, and the synthetic checkpoint made of them. */
import type { DType } from "../dtype.js";
import type { Checkpoint, Config } from "../loading/checkpoint.js";
import { intField } from "../models/config/fields.js";
import type { QuantDType } from "../models/build/quantize.js";
import { moeDecoderTensors, moeMatrixFormats } from "./moe-tensors.js";
import { QWEN15_MOE_NAME, qwen15MoeConfig } from "./qwen-dims.js";
import { syntheticCheckpoint, type SyntheticTensor } from "./synthetic.js";

export function qwen2MoeTensors(cfg: Config): SyntheticTensor[] {
  return moeDecoderTensors(cfg, {
    experts: intField(cfg, ["num_experts"]),
    expertWidth: intField(cfg, ["moe_intermediate_size"]),
    qkvBias: true,
    sharedExpert: { width: intField(cfg, ["shared_expert_intermediate_size"]), gated: true },
  });
}

/**
 * The embedded default: Qwen1.5-MoE-A2.7B dimensions, `layers` layers, seeded random weights in `dtype`; with
 * `quantized`, its experts' matrices generated in the format quantize at load gives them (moeMatrixFormats).
 */
export function qwen15MoeSynthetic(layers: number, dtype: DType = "bfloat16", seed = 0, quantized?: QuantDType): Checkpoint {
  const cfg = { ...qwen15MoeConfig(layers), dtype };
  return syntheticCheckpoint(QWEN15_MOE_NAME, cfg, qwen2MoeTensors(cfg), dtype, seed, quantized && moeMatrixFormats(cfg, quantized));
}
