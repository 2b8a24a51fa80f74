/** Pieces several families share: the qwen2_moe expert key pattern, the SwiGLU gate, layer rules. */
import type { GateSpec } from "../../backends/backend.js";
import { parseActivation } from "../../backends/activation.js";
import type { Config } from "../../loading/checkpoint.js";
import { field, intField, NUM_EXPERTS } from "../config/fields.js";
import type { ExpertsLayout, MoeDefinition } from "../config/family.js";

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

/** `mlp_layer_types[l] === "sparse"` when the config lists them ("dense" | "sparse" per layer), else `fallback`. */
export function sparseByMlpLayerTypes(fallback: (cfg: Config, layer: number) => boolean) {
  return (cfg: Config, layer: number): boolean => {
    const types = cfg.mlp_layer_types;
    if (types === undefined || types === null) return fallback(cfg, layer);
    const layers = intField(cfg, ["num_hidden_layers"]);
    if (!Array.isArray(types) || types.length !== layers) throw new Error(`config.json: mlp_layer_types must list one entry per layer (${layers}), got ${JSON.stringify(types)}`);
    const t = types[layer] as unknown;
    if (t !== "dense" && t !== "sparse") throw new Error(`config.json: mlp_layer_types[${layer}] is ${JSON.stringify(t)}, expected "dense" or "sparse"`);
    return t === "sparse";
  };
}

/**
 * A sparse block on every layer, `num_experts` experts of `intermediate_size` with SwiGLU under
 * `block_sparse_moe` in Mixtral's w1/w3/w2 layout; families override what differs.
 */
export function everyLayerMoe(router: MoeDefinition["router"], overrides: Partial<MoeDefinition> = {}): MoeDefinition {
  return {
    blockName: "block_sparse_moe",
    isSparseLayer: allLayers,
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["intermediate_size"]),
    gate: swiglu,
    router,
    experts: MIXTRAL_EXPERTS,
    ...overrides,
  };
}
