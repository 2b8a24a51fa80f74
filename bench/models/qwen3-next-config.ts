/**
 * The synthetic Qwen3-Next of bench/models/qwen3-next.ts: the sizes of Qwen/Qwen3-Next-80B-A3B-Instruct's
 * config.json (hidden 2048; Gated DeltaNet 16 key heads × 128, 32 value heads × 128, conv kernel 4;
 * attention 16 query / 2 key-value heads of 256 with a sigmoid output gate, partial RoPE 0.25, θ 10^7;
 * experts 512 × 512, top-10, renormalised, shared expert 512 gated; vocab 151936, untied lm_head) with
 * fewer layers (3 Gated DeltaNet + 1 attention, its full_attention_interval of 4) and, by default, 64
 * experts instead of 512 so that weights fit a shared machine: a decode step still runs 10 routed
 * experts + the shared one per layer, as the real model does.
 */
export interface Qwen3NextBenchShape {
  /** decoder layers; every 4th is full attention (the last of each group of four) */
  layers: number;
  experts: number;
}

export function qwen3NextConfig(shape: Qwen3NextBenchShape): Record<string, unknown> {
  const { layers, experts } = shape;
  if (!Number.isInteger(layers) || layers < 2 || layers > 8) throw new Error(`qwen3-next bench: --layers must be an integer in [2, 8], got ${layers}`);
  if (!Number.isInteger(experts) || experts < 10 || experts > 512) throw new Error(`qwen3-next bench: --experts must be an integer in [10, 512] (top-10 routing), got ${experts}`);
  const layerTypes = Array.from({ length: layers }, (_, i) => ((i + 1) % 4 === 0 || i === layers - 1 ? "full_attention" : "linear_attention"));
  return {
    architectures: ["Qwen3NextForCausalLM"],
    model_type: "qwen3_next",
    hidden_size: 2048,
    intermediate_size: 5120,
    num_hidden_layers: layers,
    layer_types: layerTypes,
    full_attention_interval: 4,
    num_attention_heads: 16,
    num_key_value_heads: 2,
    head_dim: 256,
    linear_conv_kernel_dim: 4,
    linear_key_head_dim: 128,
    linear_num_key_heads: 16,
    linear_num_value_heads: 32,
    linear_value_head_dim: 128,
    num_experts: experts,
    num_experts_per_tok: 10,
    moe_intermediate_size: 512,
    shared_expert_intermediate_size: 512,
    norm_topk_prob: true,
    decoder_sparse_step: 1,
    mlp_only_layers: [],
    hidden_act: "silu",
    rms_norm_eps: 1e-6,
    vocab_size: 151936,
    max_position_embeddings: 262144,
    rope_parameters: { rope_type: "default", rope_theta: 10000000, partial_rotary_factor: 0.25 },
    partial_rotary_factor: 0.25,
    tie_word_embeddings: false,
    attention_bias: false,
    bos_token_id: null,
    eos_token_id: null,
    pad_token_id: null,
  };
}
