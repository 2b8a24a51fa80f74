/**
 * A synthetic OLMoE-1B-7B: the real dimensions (transformers' OlmoeConfig for allenai/OLMoE-1B-7B-0924:
 * hidden 2048, 64 experts × 1024, top-8 without renormalisation, 16 heads of 128 (MHA), full-width
 * q/k RMSNorm, RoPE θ 10000, vocab 50304, untied lm_head) with a reduced layer count and seeded random
 * weights generated on demand.
 */
import type { DType } from "../dtype.js";
import type { Checkpoint, Config } from "../loading/checkpoint.js";
import { intField } from "../models/config/fields.js";
import { moeDecoderTensors } from "./moe-tensors.js";
import { syntheticCheckpoint, type SyntheticTensor } from "./synthetic.js";

export const OLMOE_NAME = "synthetic OLMoE-1B-7B";

export function olmoe1b7bConfig(layers: number): Config {
  if (!Number.isInteger(layers) || layers < 1) throw new Error(`--layers must be a positive integer, got ${layers}`);
  return {
    architectures: ["OlmoeForCausalLM"],
    model_type: "olmoe",
    hidden_size: 2048,
    intermediate_size: 1024,
    num_experts: 64,
    num_experts_per_tok: 8,
    norm_topk_prob: false,
    num_attention_heads: 16,
    num_key_value_heads: 16,
    num_hidden_layers: layers,
    vocab_size: 50304,
    hidden_act: "silu",
    rms_norm_eps: 1e-5,
    rope_parameters: { rope_theta: 10000.0, rope_type: "default" },
    max_position_embeddings: 4096,
    attention_bias: false,
    clip_qkv: null,
    tie_word_embeddings: false,
    pad_token_id: 1,
    eos_token_id: 50279,
    bos_token_id: null,
    dtype: "bfloat16",
  };
}

export function olmoeTensors(cfg: Config): SyntheticTensor[] {
  return moeDecoderTensors(cfg, {
    experts: intField(cfg, ["num_experts"]),
    expertWidth: intField(cfg, ["intermediate_size"]),
    qkNorm: "full",
  });
}

/** OLMoE-1B-7B dimensions, `layers` decoder layers, seeded random weights in `dtype`. */
export function olmoeSynthetic(layers: number, dtype: DType = "bfloat16", seed = 0): Checkpoint {
  const cfg = { ...olmoe1b7bConfig(layers), dtype };
  return syntheticCheckpoint(OLMOE_NAME, cfg, olmoeTensors(cfg), dtype, seed);
}
