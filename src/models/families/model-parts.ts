/** Building blocks for the families' non-MoE definitions: the Llama-style default, norm layouts and sliding-window rules. */
import type { Config } from "../../loading/checkpoint.js";
import { boolField, intField } from "../config/fields.js";
import type { GqaDefinition, LayerNorms, ModelDefinition } from "../config/family.js";

/** Norms before each sublayer (Llama and most families). */
export const PRE_NORMS: LayerNorms = { attentionIn: "input_layernorm", ffnIn: "post_attention_layernorm" };
/** Norms on each sublayer's output before the residual add, none on its input (OLMo2 style; flex_olmo). */
export const POST_NORMS: LayerNorms = { attentionOut: "post_attention_layernorm", ffnOut: "post_feedforward_layernorm" };
/** Norms before and after each sublayer (afmoe). */
export const SANDWICH_NORMS: LayerNorms = {
  attentionIn: "input_layernorm",
  attentionOut: "post_attention_layernorm",
  ffnIn: "pre_mlp_layernorm",
  ffnOut: "post_mlp_layernorm",
};
/** One norm feeding attention and the ffn side by side, both added to the residual (cohere2_moe). */
export const PARALLEL_NORMS: LayerNorms = { attentionIn: "input_layernorm", parallel: true };

/** q/k/v/o biases all following `attention_bias` (default false). */
export function gqa(cfg: Config, extra: Partial<GqaDefinition> = {}): GqaDefinition {
  const bias = boolField(cfg, ["attention_bias"], false);
  return { kind: "gqa", qkvBias: bias, oBias: bias, ...extra };
}

/** Pre-norm RMSNorm layers, half-split RoPE with θ 10000, untied embeddings, GQA following attention_bias. */
export function llamaLike(overrides: Partial<ModelDefinition> = {}): ModelDefinition {
  return {
    norm: "rms",
    layerNorms: PRE_NORMS,
    ropeStyle: "halfSplit",
    defaultRopeTheta: 10000,
    tieWordEmbeddingsDefault: false,
    attention: (cfg) => gqa(cfg),
    ...overrides,
  };
}

function windowSize(cfg: Config): number | undefined {
  const w = cfg.sliding_window;
  return typeof w === "number" && w > 0 ? w : undefined;
}

/** `layer_types[l] === "sliding_attention"` when the config lists layer types, else `fallback`. */
export function slidingByLayerTypes(fallback: (cfg: Config, layer: number) => boolean) {
  return (cfg: Config, layer: number): number | undefined => {
    const types = cfg.layer_types;
    const sliding = Array.isArray(types) ? types[layer] === "sliding_attention" : fallback(cfg, layer);
    return sliding ? windowSize(cfg) : undefined;
  };
}

/** Every layer slides when `sliding_window` is set (mixtral, phimoe). */
export function slidingEverywhere(cfg: Config): number | undefined {
  return windowSize(cfg);
}

/** qwen2_moe: even layers below max_window_layers, only with use_sliding_window. */
export const qwen2Sliding = slidingByLayerTypes(
  (cfg, l) => boolField(cfg, ["use_sliding_window"], false) && (l + 1) % 2 === 1 && l < intField(cfg, ["max_window_layers"], 28),
);
