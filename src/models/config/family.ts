/**
 * What a model family declares. Each src/models/families/<model_type>.ts exports one of these; it is
 * configuration of shared parts, not code paths of its own.
 */
import type { GateSpec } from "../../backends/backend.js";
import type { RouterRule } from "../../experts/routers.js";
import type { Config } from "../../loading/checkpoint.js";
import type { ResidualScale } from "../layers/decoder-layer.js";
import type { MixerChoice } from "../layers/mixers/mixer.js";
import type { ConfigSchema } from "./schema.js";
import type { ExpertsCallOptions } from "../layers/experts-call.js";

/** How the checkpoint stores a layer's experts. */
export type ExpertsLayout =
  /** experts.{i}.{gate}.weight [I, H], .{up}.weight [I, H], .{down}.weight [H, I] (qwen2_moe pattern; mixtral w1/w3/w2) */
  | { kind: "perExpert"; gate: string; up: string; down: string }
  /** input_linear.weight [E, 2I, H] (gate rows first), output_linear.weight [E, H, I] (granitemoe) */
  | { kind: "granite" }
  /**
   * Every expert's rows in one flat [E·I, H] tensor per projection: `gate` and `up` out × in per expert,
   * `down` in × out per expert (dbrx: experts.mlp.w1 / v1 / w2).
   */
  | { kind: "flatStacks"; gate: string; up: string; down: string }
  /**
   * experts.gate_up_proj [E, H, 2I] interleaved + _bias, experts.down_proj [E, I, H] + _bias (gpt_oss); with
   * config experts_layout "gate_up_stacks" (GGUF): experts.gate_up_proj.weight [E, 2I, H] gate rows then up
   * rows, experts.down_proj.weight [E, H, I], and their .bias
   */
  | { kind: "gptOss" }
  /** experts.gate_up_proj [E, H, 2I] (gate columns, then up), experts.down_proj [E, I, H], in × out, no biases (llama4) */
  | { kind: "stackedInOut" };

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
    /** Router outputs (rows of its weight and correction bias) when they outnumber the experts (longcat_flash's zero experts). */
    outputs?(cfg: Config): number;
    biasKey?: string;
    correctionBiasKey?: string;
    /** Whether the config uses the correction bias (default yes when correctionBiasKey is set; lfm2_moe's use_expert_bias). */
    usesCorrectionBias?(cfg: Config): boolean;
    rule(cfg: Config, layer: number): RouterRule;
  };
  experts: ExpertsLayout;
  /** A bias [H] (key relative to the block) added to the block's output (jetmoe's `mlp.bias`). */
  outputBiasKey?: string;
  /** How the routing reaches the experts when it is not weight × expert(x) (see layers/experts-call.ts). */
  expertsCall?(cfg: Config): ExpertsCallOptions;
  /**
   * Shared experts inside the block, run on every token: ungated, or scaled by σ(gateKey·x) (qwen2_moe);
   * added to the routed output, or averaged with it (`combine` → "average", cohere2_moe).
   */
  shared?: { name: string; width(cfg: Config): number; gateKey?: string; combine?(cfg: Config): SharedCombine };
  /**
   * A dense MLP beside the sparse block, `model.layers.{l}.{name}` with input_linear [2W, H] (gate rows
   * first) and output_linear [H, W]; its output is added to the block's (granitemoeshared's shared_mlp).
   */
  besideMlp?: { name: string; width(cfg: Config): number };
  /**
   * Shortcut MoE (longcat_flash): a sparse layer's dense MLP (`model.layers.{l}.mlp`) runs beside the
   * block on the same input, and the block's output joins the residual only at the end of layer l + 1.
   */
  shortcut?: boolean;
}

/** How shared experts join the routed output: summed, or (routed + shared) / 2 (cohere2_moe). */
export type SharedCombine = "sum" | "average";

export interface FamilyDefinition {
  modelType: string;
  /** What the family's config.json must satisfy, checked at load (after `checkpoint.config` conversion). */
  config: ConfigSchema;
  moe: MoeDefinition;
  model: ModelDefinition;
  /** How this family's checkpoints map onto the names the shared loaders read (applied first). */
  checkpoint?: CheckpointConversion;
  /**
   * Checkpoint tensors the model leaves unused by design (transformers' _keys_to_ignore_on_load_unexpected):
   * they stay in `unusedKeys` without a warning.
   */
  unusedByDesign?: {
    /** Multi-token-prediction layers stored after the last decoder layer (model.layers.{num_hidden_layers}…). */
    mtpLayers?(cfg: Config): number;
    /** Other names, searched anywhere in the key as transformers does (or computed from the config). */
    ignore?: readonly RegExp[] | ((cfg: Config) => readonly RegExp[]);
  };
}

/**
 * A checkpoint's config and tensor names → moekit's canonical ones (Llama-style `model.layers.{l}.…`
 * keys, flat config fields), as transformers' conversion mapping and config attribute maps do.
 */
export interface CheckpointConversion {
  /** Extra or renamed config fields; the result keeps every original field. */
  config?(raw: Config): Config;
  /** Where `config` read each canonical field from ("ffn_config.moe_top_k"), for error messages. */
  fieldNames?: Readonly<Record<string, string>>;
  /** Key renames, applied in order to every tensor name (first match wins); a function replacement computes the name. */
  renames?: readonly (readonly [RegExp, string | ((match: string, ...groups: string[]) => string)])[];
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
  /** q, k and v from one projection `self_attn.qkv_proj` [(Hq + 2·Hkv)·D, H], rows in that order (dbrx Wqkv). */
  fusedQkv?: boolean;
  /** The attention output (before o_proj) times σ(gate_proj·x), gate_proj [Hq·D, H] without bias (afmoe). */
  sigmoidOutputGate?: boolean;
  /**
   * q_proj [Hq·2D, H] yields per head D query features then D gate features; the attention output
   * (before o_proj) is multiplied by σ(gate) (qwen3_next).
   */
  gatedQuery?: boolean;
  /** false: no positional encoding on this layer (NoPE; afmoe, exaone_moe and cohere2_moe rotate some layers only). */
  rope?: boolean;
  /** q and k per head divided by their RMS after RoPE, without a weight (llama4's L2 qk norm; eps = the config's norm eps). */
  l2QkNorm?: boolean;
  /** Queries see only keys of their own chunk of this many positions (llama4's chunked attention). */
  chunkSize?: number;
  /**
   * q × (1 + attnScale · log1p(⌊(p + 1) / floorScale⌋)) at token position p (llama4's temperature tuning
   * on NoPE layers). transformers counts cache slots, padding included; moekit counts the row's real
   * tokens, as RoPE does, so a left-padded prompt gives the unpadded prompt's result (equal without padding).
   */
  temperatureTuning?: { floorScale: number; attnScale: number };
}

/** DeepSeek multi-head latent attention; dims are read from the config. */
export interface MlaDefinition {
  kind: "mla";
  /** false: no positional encoding (kimi_linear's MLA layers: the "rope" slice passes unrotated). */
  rope?: boolean;
  /** q × √(hidden / q_lora_rank) and the kv latent × √(hidden / kv_lora_rank) (longcat_flash). */
  latentScales?: boolean;
  /** DeepSeek sparse attention's indexer (deepseek_v32): each query attends to its topK best-scored keys. */
  indexer?: { heads: number; headDim: number; topK: number };
}

/**
 * Mixture of attention heads (jetmoe): under `model.layers.{l}.self_attn`, routed query / output
 * projections `experts.input_linear.weight` [E, Hkv·D, H] and `experts.output_linear.weight`
 * [E, H, Hkv·D], their router `experts.router.layer.weight` [E, H] (top-k → softmax), an output bias
 * `experts.bias` [H] and the shared `kv_proj.weight` [2·Hkv·D, H].
 */
export interface MoaDefinition {
  kind: "moa";
}

export type RopeStyle = "halfSplit" | "interleaved";

/** RMSNorm, LayerNorm with bias, or LayerNorm without one (dbrx, cohere2_moe). */
export type NormKind = "rms" | "layer" | "layerNoBias";

/**
 * Where a decoder layer's norms sit, by their checkpoint names under model.layers.{l}: an `…In` norm
 * normalises a sublayer's input, an `…Out` norm its output before the residual add. `parallel`: attention
 * and the ffn both read attentionIn's output and add to one residual (cohere2_moe).
 */
export interface LayerNorms {
  attentionIn?: string;
  attentionOut?: string;
  ffnIn?: string;
  ffnOut?: string;
  parallel?: boolean;
}

/** The non-MoE part of a family: configuration of the shared decoder layers. */
export interface ModelDefinition {
  norm: NormKind | ((cfg: Config) => NormKind);
  /** Overrides the config's norm eps (dbrx's LayerNorms keep torch's default 1e-5). */
  normEps?(cfg: Config): number;
  layerNorms: LayerNorms;
  ropeStyle: RopeStyle | ((cfg: Config) => RopeStyle);
  defaultRopeTheta: number;
  tieWordEmbeddingsDefault: boolean;
  attention(cfg: Config, layer: number): GqaDefinition | MlaDefinition | MoaDefinition;
  /**
   * A layer's sequence mixer when it is not the attention above (hybrid models: recurrent, convolution
   * or linear-attention layers); undefined keeps the attention. See layers/mixers/mixer.ts.
   */
  mixer?(cfg: Config, layer: number): MixerChoice | undefined;
  /** Sliding window of a layer, or undefined for full causal attention. */
  slidingWindow?(cfg: Config, layer: number): number | undefined;
  /**
   * Residuals taken from each sublayer's normalised input and scaled: h = α·in(h) + β·sublayer(in(h))
   * (minimax's α / β factors, by layer kind); absent: h += r·sublayer(in(h)).
   */
  scaledResiduals?(cfg: Config, layer: number): { attention: ResidualScale; ffn: ResidualScale };
  /** Embedding, residual-branch and logits multipliers (granitemoe; afmoe's √H, cohere2_moe's logit_scale); each defaults to 1. */
  multipliers?(cfg: Config): { embedding: number; residual: number; logitsDivisor: number };
  lmHeadBias?(cfg: Config): boolean;
  /** Width of dense-layer MLPs (default intermediate_size; cohere2_moe's prefix_dense_intermediate_size). */
  denseIntermediateSize?(cfg: Config): number;
  /** Bias on dense-layer MLP projections. */
  denseMlpBias?(cfg: Config): boolean;
  /** See RotaryOptions.longropeShortFactorOnly. */
  longropeShortFactorOnly?: boolean;
  /** Added to the decoder's norm weights at load: y = norm(x) · (offset + w) (qwen3_next's (1 + w) RMSNorm). */
  normWeightOffset?: number;
  /** partial_rotary_factor when the config gives none (glm4_moe: 0.5). */
  defaultPartialRotaryFactor?: number;
}
