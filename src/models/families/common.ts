/** Pieces several families share: the qwen2_moe expert key pattern, the SwiGLU gate, layer rules. */
import type { GateSpec } from "../../backends/backend.js";
import { parseActivation } from "../../backends/activation.js";
import type { Config } from "../../loading/checkpoint.js";
import { field, intField, NUM_EXPERTS } from "../config.js";
import type { ExpertsLayout } from "../family.js";

export const QWEN_EXPERTS: ExpertsLayout = { kind: "perExpert", gate: "gate_proj", up: "up_proj", down: "down_proj" };
export const MIXTRAL_EXPERTS: ExpertsLayout = { kind: "perExpert", gate: "w1", up: "w3", down: "w2" };

export function swiglu(cfg: Config): GateSpec {
  return { kind: "concatenated", act: parseActivation(field<string>(cfg, ["hidden_act"], "silu")) };
}

export const allLayers = (): boolean => true;

export function numExperts(cfg: Config): number {
  return intField(cfg, NUM_EXPERTS);
}

/** DeepSeek-style: dense MLPs for layers below first_k_dense_replace. */
export function afterDenseFirst(cfg: Config, layer: number): boolean {
  return layer >= intField(cfg, ["first_k_dense_replace"], 0);
}
