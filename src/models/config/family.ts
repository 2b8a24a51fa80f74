/**
 * What a model family declares. Each src/models/families/<model_type>.ts exports one of these; it is
 * configuration of shared parts, not code paths of its own.
 */
import type { GateSpec } from "../../backends/backend.js";
import type { RouterRule } from "../../experts/routers.js";
import type { Config } from "../../loading/checkpoint.js";

/** How the checkpoint stores a layer's experts. */
export type ExpertsLayout =
  /** experts.{i}.{gate}.weight [I, H], .{up}.weight [I, H], .{down}.weight [H, I] (qwen2_moe pattern; mixtral w1/w3/w2) */
  | { kind: "perExpert"; gate: string; up: string; down: string }
  /** input_linear.weight [E, 2I, H] (gate rows first), output_linear.weight [E, H, I] (granitemoe) */
  | { kind: "granite" }
  /** experts.gate_up_proj [E, H, 2I] interleaved + _bias, experts.down_proj [E, I, H] + _bias (gpt_oss) */
  | { kind: "gptOss" };

export interface MoeDefinition {
  /** Name of the block module under model.layers.{l}: "mlp" or "block_sparse_moe". */
  blockName: string;
  isSparseLayer(cfg: Config, layer: number): boolean;
  numExperts(cfg: Config, layer: number): number;
  intermediateSize(cfg: Config): number;
  gate(cfg: Config): GateSpec;
  router: {
    /** keys relative to the block */
    weightKey: string;
    biasKey?: string;
    correctionBiasKey?: string;
    rule(cfg: Config, layer: number): RouterRule;
  };
  experts: ExpertsLayout;
  /** Shared experts added to every token (ungated, or scaled by σ(gateKey·x) for qwen2_moe). */
  shared?: { name: string; width(cfg: Config): number; gateKey?: string };
}

export interface FamilyDefinition {
  modelType: string;
  moe: MoeDefinition;
  model: ModelDefinition;
}

/** Where a family's q/k norms sit (all are RMSNorm). */
export type QkNormPlacement =
  /** per head, before RoPE (qwen3_moe, dots1, glm4_moe) */
  | "headBeforeRope"
  /** over the whole projection width, before the head reshape (olmoe) */
  | "fullBeforeRope"
  /** per head, after RoPE (hunyuan_v1_moe) */
  | "headAfterRope";

/** Grouped-query attention with q/k/v/o projections, as most families use. */
export interface GqaDefinition {
  kind: "gqa";
  qkvBias: boolean;
  oBias: boolean;
  qkNorm?: { placement: QkNormPlacement; q: string; k: string };
  /** Clamp q, k, v to ±clip after the projections (olmoe clip_qkv). */
  clipQkv?: number;
  /** A learned per-head sink logit `self_attn.sinks` (gpt_oss). */
  sinks?: boolean;
  /** Replaces 1/√head_dim (granitemoe's attention_multiplier). */
  scale?: number;
}

/** DeepSeek multi-head latent attention; dims are read from the config. */
export interface MlaDefinition {
  kind: "mla";
}

export type RopeStyle = "halfSplit" | "interleaved";

/** The non-MoE part of a family: configuration of the shared decoder layers. */
export interface ModelDefinition {
  norm: "rms" | "layer";
  ropeStyle: RopeStyle | ((cfg: Config) => RopeStyle);
  defaultRopeTheta: number;
  tieWordEmbeddingsDefault: boolean;
  attention(cfg: Config, layer: number): GqaDefinition | MlaDefinition;
  /** Sliding window of a layer, or undefined for full causal attention. */
  slidingWindow?(cfg: Config, layer: number): number | undefined;
  /** granitemoe's multipliers (each defaults to 1). */
  multipliers?(cfg: Config): { embedding: number; residual: number; logitsDivisor: number };
  lmHeadBias?(cfg: Config): boolean;
  /** Bias on dense-layer MLP projections. */
  denseMlpBias?(cfg: Config): boolean;
  /** See RotaryOptions.longropeShortFactorOnly. */
  longropeShortFactorOnly?: boolean;
  /** partial_rotary_factor when the config gives none (glm4_moe: 0.5). */
  defaultPartialRotaryFactor?: number;
}
