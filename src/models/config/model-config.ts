/** config.json → the fields a whole model needs, normalised across families (aliases, defaults, checks). */
import type { Activation } from "../../backends/backend.js";
import { parseActivation } from "../../backends/activation.js";
import type { Config } from "../../loading/checkpoint.js";
import { boolField, field, intField, numField } from "./fields.js";
import type { FamilyDefinition, NormKind, RopeStyle } from "./family.js";
import { normaliseRope, type RopeParameters } from "./rope-parameters.js";

export interface ModelConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Honoured from config.json even where it differs from hidden / heads. */
  headDim: number;
  maxPositions: number;
  norm: NormKind;
  normEps: number;
  act: Activation;
  /** Dense-layer MLP width (intermediate_size unless the family names another field). */
  intermediateSize: number;
  tieWordEmbeddings: boolean;
  rope: RopeParameters;
  ropeStyle: RopeStyle;
  /** Features rotated per head. */
  rotaryDim: number;
  mla?: MlaDims;
  /** Added to every RMSNorm weight of the decoder at load ((1 + w) norms, qwen3_next); 0 elsewhere. */
  normWeightOffset: number;
}

export interface MlaDims {
  qLoraRank: number | null;
  kvLoraRank: number;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
}

function positive(cfg: Config, names: string[], fallback?: number): number {
  const v = intField(cfg, names, fallback);
  if (v < 1) throw new Error(`config.json field '${names[0]}' must be a positive integer, got ${v}`);
  return v;
}

export function normaliseConfig(cfg: Config, fam: FamilyDefinition): ModelConfig {
  const m = fam.model;
  const hiddenSize = positive(cfg, ["hidden_size"]);
  const numHeads = positive(cfg, ["num_attention_heads"]);
  const numKvHeads = positive(cfg, ["num_key_value_heads"], numHeads);
  if (numHeads % numKvHeads !== 0) throw new Error(`config.json: ${numHeads} attention heads cannot share ${numKvHeads} key-value heads`);
  const headDim = positive(cfg, ["head_dim"], Math.floor(hiddenSize / numHeads));
  const ropeCfg = { ...cfg };
  if (m.defaultPartialRotaryFactor !== undefined && cfg.partial_rotary_factor === undefined) {
    const rp = (cfg.rope_parameters ?? {}) as Record<string, unknown>;
    if (rp.partial_rotary_factor === undefined) ropeCfg.partial_rotary_factor = m.defaultPartialRotaryFactor;
  }
  const rope = normaliseRope(ropeCfg, m.defaultRopeTheta);
  const mla = m.attention(cfg, 0).kind === "mla" ? mlaDims(cfg) : undefined;
  const baseRotary = mla ? mla.qkRopeHeadDim : headDim;
  const rotaryDim = Math.floor(baseRotary * rope.partialRotaryFactor);
  if (rotaryDim < 2 || rotaryDim % 2 !== 0) throw new Error(`config.json: ${baseRotary} × partial_rotary_factor ${rope.partialRotaryFactor} gives an odd or empty rotary dim ${rotaryDim}`);
  return {
    modelType: fam.modelType,
    vocabSize: positive(cfg, ["vocab_size"]),
    hiddenSize,
    numLayers: positive(cfg, ["num_hidden_layers"]),
    numHeads,
    numKvHeads,
    headDim,
    maxPositions: positive(cfg, ["max_position_embeddings"]),
    norm: typeof m.norm === "function" ? m.norm(cfg) : m.norm,
    normEps: m.normEps ? m.normEps(cfg) : numField(cfg, ["rms_norm_eps", "layer_norm_eps", "norm_eps"], 1e-6),
    act: parseActivation(field<string>(cfg, ["hidden_act"], "silu")),
    intermediateSize: m.denseIntermediateSize ? m.denseIntermediateSize(cfg) : intField(cfg, ["intermediate_size"], 0),
    tieWordEmbeddings: boolField(cfg, ["tie_word_embeddings"], m.tieWordEmbeddingsDefault),
    rope,
    ropeStyle: typeof m.ropeStyle === "function" ? m.ropeStyle(cfg) : m.ropeStyle,
    rotaryDim,
    mla,
    normWeightOffset: m.normWeightOffset ?? 0,
  };
}

function mlaDims(cfg: Config): MlaDims {
  const q = cfg.q_lora_rank;
  if (q !== null && q !== undefined && (!Number.isInteger(q) || (q as number) < 1)) throw new Error(`config.json: q_lora_rank must be null or a positive integer, got ${JSON.stringify(q)}`);
  return {
    qLoraRank: (q as number | null | undefined) ?? null,
    kvLoraRank: positive(cfg, ["kv_lora_rank"]),
    qkNopeHeadDim: positive(cfg, ["qk_nope_head_dim"]),
    qkRopeHeadDim: positive(cfg, ["qk_rope_head_dim"]),
    vHeadDim: positive(cfg, ["v_head_dim"]),
  };
}
