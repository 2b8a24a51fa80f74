/**
 * The embedded default model: Qwen1.5-MoE-A2.7B's real dimensions (transformers' Qwen2MoeConfig for
 * Qwen/Qwen1.5-MoE-A2.7B) with a reduced layer count, as a config.json object.
 */
import type { Config } from "../loading/checkpoint.js";

export const QWEN15_MOE_NAME = "synthetic Qwen1.5-MoE-A2.7B";

export function qwen15MoeConfig(layers: number): Config {
  if (!Number.isInteger(layers) || layers < 1) throw new Error(`--layers must be a positive integer, got ${layers}`);
  return {
    architectures: ["Qwen2MoeForCausalLM"],
    model_type: "qwen2_moe",
    hidden_size: 2048,
    intermediate_size: 5632,
    moe_intermediate_size: 1408,
    shared_expert_intermediate_size: 5632,
    num_experts: 60,
    num_experts_per_tok: 4,
    norm_topk_prob: false,
    decoder_sparse_step: 1,
    mlp_only_layers: [],
    num_attention_heads: 16,
    num_key_value_heads: 16,
    head_dim: 128,
    num_hidden_layers: layers,
    vocab_size: 151936,
    hidden_act: "silu",
    rms_norm_eps: 1e-6,
    rope_parameters: { rope_theta: 1000000.0, rope_type: "default" },
    max_position_embeddings: 8192,
    qkv_bias: true,
    tie_word_embeddings: false,
    dtype: "bfloat16",
  };
}
