/**
 * llama.cpp architectures moekit runs from GGUF files: for each, the transformers model_type it reads
 * as, the config.json fields its metadata gives (keys as convert_hf_to_gguf.py writes them, `{arch}.`
 * prefixed), and the Hugging Face names of the tensors the family loaders read. llama.cpp fixes per
 * architecture what a config leaves open (qwen2moe never renormalises the top-k weights, qwen3moe and
 * mixtral always do): those become constants here.
 */
import type { Config } from "../checkpoint.js";
import type { GgufMetadataView } from "./metadata.js";

/** Hugging Face names of a family's MoE block, relative to model.layers.N. */
export interface HfNames {
  /** the sparse block: `mlp` or `block_sparse_moe` */
  block: string;
  /** per-expert projection names (gate, up, down); null when the family stores stacks (`stacks`) */
  experts: readonly [string, string, string] | null;
  /**
   * With `experts` null: the [E, 2I, H] gate|up stack (gate rows then up rows, a view of the GGUF's gate
   * and up stacks) and the [E, H, I] down stack, relative to the block, `.weight` (and `.bias`) added;
   * granite's input_linear / output_linear when absent
   */
  stacks?: { gateUp: string; down: string };
  /** router weight, relative to the block */
  router: string;
  /** router bias (GGUF ffn_gate_inp.bias), relative to the block */
  routerBias?: string;
  /** shared experts MLP (relative to the block, or to the layer when `sharedBesideBlock`) */
  shared?: string;
  sharedBesideBlock?: boolean;
  /** shared expert gate, relative to the block */
  sharedGate?: string;
  /** the router's score-correction bias (GGUF exp_probs_b.bias), relative to the block */
  correctionBias?: string;
  qNorm?: string;
  kNorm?: string;
  /** per-layer GGUF → Hugging Face names of this architecture that differ from names.ts's LAYER */
  layer?: Readonly<Record<string, string>>;
}

export interface GgufArchitecture {
  /** llama.cpp's name (general.architecture) */
  readonly arch: string;
  /** config.json fields from the metadata (m reads `{arch}.key` with errors naming the key) */
  config(m: GgufMetadataView): Config;
  names(config: Config): HfNames;
  /** convert_hf_to_gguf permutes q/k rows for llama.cpp's interleaved RoPE: undo it */
  permutedQk?: boolean;
}

/**
 * `{arch}.block_count`, checked against the blk.N tensors the file holds before any config is built
 * from it (a lying count is refused here, not after per-layer work sized by it).
 */
function blockCount(m: GgufMetadataView): number {
  const n = m.int("block_count");
  // next-token-prediction (MTP) layers are counted in block_count after the main layers; their
  // tensors may be in the file or not (llama.cpp loads either)
  const nextn = m.optInt("nextn_predict_layers") ?? 0;
  let highest = -1;
  for (const name of m.file.tensors.keys()) {
    const b = /^blk\.(\d+)\./.exec(name);
    if (b) highest = Math.max(highest, Number(b[1]));
  }
  if (nextn >= n) throw new Error(`${m.where}: metadata '${m.arch}.nextn_predict_layers' is ${nextn}, not fewer than block_count ${n}`);
  if (n !== highest + 1 && n - nextn !== highest + 1) {
    const held = highest < 0 ? "no blk.N tensors" : `blk.0 … blk.${highest} tensors`;
    const mtp = nextn > 0 ? ` (${nextn} of them next-token-prediction layers)` : "";
    throw new Error(`${m.where}: metadata '${m.arch}.block_count' is ${n}${mtp} but the file holds ${held}`);
  }
  return n - nextn;
}

/**
 * rope_parameters from `{arch}.rope.*`: the base, and YaRN scaling (factor, original context, betas).
 * `rope.scaling.yarn_log_multiplier` (DeepSeek: 0.1 × mscale_all_dim, as its converter writes it) is
 * taken only where `logMultiplier` says the architecture uses it.
 */
function ropeParameters(m: GgufMetadataView, logMultiplier = false): Config {
  const theta = m.optFloat("rope.freq_base") ?? 10000;
  const type = m.optString("rope.scaling.type");
  if (type === undefined || type === "none") return { rope_theta: theta, rope_type: "default" };
  if (type !== "yarn") throw new Error(`${m.where}: metadata '${m.arch}.rope.scaling.type' is '${type}': moekit reads RoPE scaling 'yarn' from GGUF, not '${type}'`);
  const factor = m.float("rope.scaling.factor");
  if (!(factor >= 1)) throw new Error(`${m.where}: metadata '${m.arch}.rope.scaling.factor' is ${factor}, expected at least 1`);
  const p: Config = {
    rope_theta: theta,
    rope_type: "yarn",
    factor,
    original_max_position_embeddings: m.int("rope.scaling.original_context_length"),
    beta_fast: m.optFloat("rope.scaling.yarn_beta_fast") ?? 32,
    beta_slow: m.optFloat("rope.scaling.yarn_beta_slow") ?? 1,
  };
  const logMul = m.optFloat("rope.scaling.yarn_log_multiplier");
  if (logMul !== undefined && logMul !== 0) {
    if (!logMultiplier) throw new Error(`${m.where}: metadata '${m.arch}.rope.scaling.yarn_log_multiplier' is not read for ${m.arch}`);
    p.mscale = p.mscale_all_dim = logMul / 0.1;
  }
  return p;
}

/** The fields every decoder shares (llama.cpp's LLM_KV_* keys as base.py writes them). */
function decoder(m: GgufMetadataView, opts: { partialRope?: boolean } = {}): Config {
  const hidden = m.int("embedding_length");
  const heads = m.int("attention.head_count");
  const eps = m.optFloat("attention.layer_norm_rms_epsilon") ?? m.optFloat("attention.layer_norm_epsilon");
  if (eps === undefined) throw new Error(`${m.where}: metadata '${m.arch}.attention.layer_norm_rms_epsilon' (or '${m.arch}.attention.layer_norm_epsilon') is missing`);
  const headDim = m.optInt("attention.key_length") ?? hidden / heads;
  const valueDim = m.optInt("attention.value_length");
  if (valueDim !== undefined && valueDim !== headDim) {
    throw new Error(`${m.where}: metadata '${m.arch}.attention.value_length' is ${valueDim}, moekit's ${m.arch} needs it equal to key_length ${headDim}`);
  }
  const rotary = m.optInt("rope.dimension_count");
  if (rotary !== undefined && rotary !== headDim && !(opts.partialRope && rotary > 0 && rotary < headDim && rotary % 2 === 0)) {
    throw new Error(`${m.where}: metadata '${m.arch}.rope.dimension_count' is ${rotary}; moekit's ${m.arch} rotates ${opts.partialRope ? "an even part of each head" : "whole heads"} (${headDim})`);
  }
  const partial = rotary !== undefined && rotary !== headDim ? { partial_rotary_factor: rotary / headDim } : {};
  return {
    hidden_size: hidden,
    num_hidden_layers: blockCount(m),
    num_attention_heads: heads,
    num_key_value_heads: m.optInt("attention.head_count_kv") ?? heads,
    head_dim: headDim,
    max_position_embeddings: m.optInt("context_length") ?? 4096,
    rms_norm_eps: eps,
    rope_parameters: { ...ropeParameters(m), ...partial },
    ...partial,
    vocab_size: m.vocabSize,
    tie_word_embeddings: !m.hasTensor("output.weight"),
    hidden_act: "silu",
  };
}

/**
 * DeepSeek's multi-head latent attention as llama.cpp writes it: MQA over the latent (head_count_kv 1,
 * key_length rank + rope, value_length rank), the per-head sizes in the *_mla keys.
 */
function mlaDecoder(m: GgufMetadataView): Config {
  const hidden = m.int("embedding_length");
  const heads = m.int("attention.head_count");
  const eps = m.float("attention.layer_norm_rms_epsilon");
  const rope = m.int("rope.dimension_count");
  const qk = m.int("attention.key_length_mla");
  const v = m.int("attention.value_length_mla");
  const rank = m.int("attention.kv_lora_rank");
  if (qk <= rope) throw new Error(`${m.where}: metadata '${m.arch}.attention.key_length_mla' is ${qk}, not more than the ${rope} rotated dims`);
  return {
    hidden_size: hidden,
    num_hidden_layers: blockCount(m),
    num_attention_heads: heads,
    num_key_value_heads: heads,
    q_lora_rank: m.optInt("attention.q_lora_rank") ?? null,
    kv_lora_rank: rank,
    qk_nope_head_dim: qk - rope,
    qk_rope_head_dim: rope,
    qk_head_dim: qk,
    v_head_dim: v,
    head_dim: rope,
    max_position_embeddings: m.optInt("context_length") ?? 4096,
    rms_norm_eps: eps,
    rope_parameters: ropeParameters(m, true),
    vocab_size: m.vocabSize,
    tie_word_embeddings: !m.hasTensor("output.weight"),
    hidden_act: "silu",
    attention_bias: false,
  };
}

/** Routed experts: count, top-k and the expert width (expert_feed_forward_length, else feed_forward_length). */
function experts(m: GgufMetadataView, countField: string, widthField: string): Config {
  const n = m.int("expert_count");
  if (n < 1) throw new Error(`${m.where}: metadata '${m.arch}.expert_count' is ${n}: not a mixture-of-experts model`);
  return {
    [countField]: n,
    num_experts_per_tok: m.int("expert_used_count"),
    [widthField]: m.optInt("expert_feed_forward_length") ?? m.int("feed_forward_length"),
  };
}

/** DeepSeek-style MoE fields (dots1, glm4moe, deepseek2): leading dense layers, shared experts, routed weights scaled / renormalised, expert groups. */
function deepseekMoe(m: GgufMetadataView) {
  return {
    ...experts(m, "n_routed_experts", "moe_intermediate_size"),
    intermediate_size: m.int("feed_forward_length"),
    first_k_dense_replace: m.optInt("leading_dense_block_count") ?? 0,
    n_shared_experts: m.optInt("expert_shared_count") ?? 0,
    routed_scaling_factor: m.optFloat("expert_weights_scale") ?? 1,
    norm_topk_prob: m.file.bool(`${m.arch}.expert_weights_norm`) ?? false,
    n_group: m.optInt("expert_group_count") ?? 1,
    topk_group: m.optInt("expert_group_used_count") ?? 1,
  };
}

const QWEN_NAMES: HfNames = { block: "mlp", experts: ["gate_proj", "up_proj", "down_proj"], router: "gate.weight" };
const MIXTRAL_NAMES: HfNames = { block: "block_sparse_moe", experts: ["w1", "w3", "w2"], router: "gate.weight" };

/** llama.cpp's expert_gating_func values (LLAMA_EXPERT_GATING_FUNC_TYPE_*). */
const GATING = { softmax: 1, sigmoid: 2 } as const;

function gating(m: GgufMetadataView, want: keyof typeof GATING): void {
  const v = m.optInt("expert_gating_func");
  if (v !== undefined && v !== GATING[want]) throw new Error(`${m.where}: metadata '${m.arch}.expert_gating_func' is ${v}; moekit's ${m.arch} routes by ${want} (${GATING[want]})`);
}

/**
 * llama.cpp's gpt-oss sliding layers: layer l slides unless l % pattern is pattern − 1 (set_swa_pattern;
 * pattern 0: every layer), the pattern `attention.sliding_window_pattern`, 2 when absent.
 */
function gptOssLayerTypes(m: GgufMetadataView, layers: number): string[] {
  const pattern = m.optInt("attention.sliding_window_pattern") ?? 2;
  return Array.from({ length: layers }, (_, l) => (pattern === 0 || l % pattern < pattern - 1 ? "sliding_attention" : "full_attention"));
}

const GPT_OSS: GgufArchitecture = {
  // llama.cpp's gpt-oss (LLM_ARCH_OPENAI_MOE): sinks, biases everywhere, alternating sliding layers,
  // softmax over the top-k router logits, the clamped SwiGLU (alpha 1.702 and limit 7 are constants in
  // llama.cpp as in transformers) over separate gate and up stacks
  arch: "gpt-oss",
  config: (m) => {
    const d = decoder(m);
    const rope = d.rope_parameters as Config;
    const swaBase = m.optFloat("rope.freq_base_swa");
    if (swaBase !== undefined && swaBase !== rope.rope_theta) {
      throw new Error(`${m.where}: metadata '${m.arch}.rope.freq_base_swa' is ${swaBase}; moekit's gpt_oss rotates every layer with rope.freq_base (${String(rope.rope_theta)})`);
    }
    return {
      model_type: "gpt_oss",
      ...d,
      // transformers' gpt-oss YaRN keeps the correction range unrounded (truncate false in the released
      // configs); llama.cpp rounds it, so its RoPE differs slightly on the ramp's dims
      rope_parameters: rope.rope_type === "yarn" ? { ...rope, truncate: false } : rope,
      num_local_experts: m.int("expert_count"),
      num_experts_per_tok: m.int("expert_used_count"),
      intermediate_size: m.optInt("expert_feed_forward_length") ?? m.int("feed_forward_length"),
      sliding_window: m.int("attention.sliding_window"),
      layer_types: gptOssLayerTypes(m, d.num_hidden_layers as number),
      attention_bias: m.hasTensor("blk.0.attn_q.bias"),
      swiglu_limit: 7,
      experts_layout: "gate_up_stacks",
    };
  },
  names: () => ({
    block: "mlp",
    experts: null,
    stacks: { gateUp: "experts.gate_up_proj", down: "experts.down_proj" },
    router: "router.weight",
    routerBias: "router.bias",
    layer: { "post_attention_norm.weight": "post_attention_layernorm.weight", "attn_sinks.weight": "self_attn.sinks" },
  }),
};

const ARCHITECTURES: readonly GgufArchitecture[] = [
  {
    arch: "qwen2moe",
    config: (m) => ({
      model_type: "qwen2_moe",
      ...decoder(m),
      ...experts(m, "num_experts", "moe_intermediate_size"),
      intermediate_size: m.optInt("feed_forward_length") ?? 0,
      shared_expert_intermediate_size: m.optInt("expert_shared_feed_forward_length") ?? 0,
      norm_topk_prob: false,
      qkv_bias: m.hasTensor("blk.0.attn_q.bias"),
      decoder_sparse_step: 1,
      mlp_only_layers: [],
    }),
    names: () => ({ ...QWEN_NAMES, shared: "shared_expert", sharedGate: "shared_expert_gate.weight" }),
  },
  {
    arch: "qwen3moe",
    config: (m) => ({
      model_type: "qwen3_moe",
      ...decoder(m),
      ...experts(m, "num_experts", "moe_intermediate_size"),
      intermediate_size: m.optInt("feed_forward_length") ?? 0,
      norm_topk_prob: true,
      attention_bias: m.hasTensor("blk.0.attn_q.bias"),
      decoder_sparse_step: 1,
      mlp_only_layers: [],
    }),
    names: () => ({ ...QWEN_NAMES, qNorm: "q_norm", kNorm: "k_norm" }),
  },
  {
    arch: "olmoe",
    config: (m) => ({ model_type: "olmoe", ...decoder(m), ...experts(m, "num_experts", "intermediate_size"), norm_topk_prob: false, attention_bias: false }),
    names: () => ({ ...QWEN_NAMES, qNorm: "q_norm", kNorm: "k_norm" }),
  },
  {
    // llama with experts: Mixtral (convert_hf_to_gguf writes Mixtral as llama)
    arch: "llama",
    config: (m) => ({ model_type: "mixtral", ...decoder(m), ...experts(m, "num_local_experts", "intermediate_size") }),
    names: () => MIXTRAL_NAMES,
    permutedQk: true,
  },
  {
    arch: "phimoe",
    config: (m) => {
      const d = decoder(m);
      return {
        model_type: "phimoe",
        ...d,
        ...experts(m, "num_local_experts", "intermediate_size"),
        attention_bias: m.hasTensor("blk.0.attn_q.bias"),
        lm_head_bias: m.hasTensor("output.bias"),
      };
    },
    names: () => MIXTRAL_NAMES,
  },
  {
    arch: "granitemoe",
    config: (m) => {
      const shared = m.optInt("expert_shared_feed_forward_length") ?? 0;
      return {
        model_type: shared > 0 ? "granitemoeshared" : "granitemoe",
        ...decoder(m),
        ...experts(m, "num_local_experts", "intermediate_size"),
        attention_multiplier: m.float("attention.scale"),
        embedding_multiplier: m.float("embedding_scale"),
        residual_multiplier: m.float("residual_scale"),
        logits_scaling: m.float("logit_scale"),
        ...(shared > 0 ? { shared_intermediate_size: shared } : {}),
      };
    },
    names: () => ({ block: "block_sparse_moe", experts: null, router: "router.layer.weight", shared: "shared_mlp", sharedBesideBlock: true }),
    permutedQk: true,
  },
  {
    arch: "dots1",
    config: (m) => {
      gating(m, "sigmoid");
      return {
        model_type: "dots1",
        ...decoder(m),
        ...deepseekMoe(m),
      };
    },
    names: () => ({ ...QWEN_NAMES, shared: "shared_experts", correctionBias: "gate.e_score_correction_bias", qNorm: "q_norm", kNorm: "k_norm" }),
  },
  {
    // llama.cpp's hunyuan-moe: q/k RMSNorm after RoPE, softmax top-k renormalised, a shared MLP beside the experts
    arch: "hunyuan-moe",
    config: (m) => {
      const width = m.optInt("expert_feed_forward_length") ?? m.int("feed_forward_length");
      const shared = m.optInt("expert_shared_feed_forward_length") ?? width;
      if (shared !== width) {
        throw new Error(`${m.where}: metadata '${m.arch}.expert_shared_feed_forward_length' is ${shared}; moekit's hunyuan_v1_moe sizes the shared MLP as the experts (${width})`);
      }
      return {
        model_type: "hunyuan_v1_moe",
        ...decoder(m),
        num_experts: m.int("expert_count"),
        moe_topk: m.int("expert_used_count"),
        intermediate_size: width,
        use_qk_norm: m.hasTensor("blk.0.attn_q_norm.weight"),
        attention_bias: m.hasTensor("blk.0.attn_q.bias"),
      };
    },
    names: () => ({ ...QWEN_NAMES, router: "gate.wg.weight", shared: "shared_mlp", qNorm: "query_layernorm", kNorm: "key_layernorm" }),
  },
  {
    // llama.cpp's ernie4_5-moe: softmax routing with a selection-only bias, renormalised; the first
    // leading_dense_block_count layers dense, then a MoE layer every interleave_moe_layer_step
    arch: "ernie4_5-moe",
    config: (m) => {
      gating(m, "softmax");
      const width = m.int("expert_feed_forward_length");
      const shared = m.optInt("expert_shared_feed_forward_length") ?? 0;
      if (shared % width !== 0) {
        throw new Error(`${m.where}: metadata '${m.arch}.expert_shared_feed_forward_length' is ${shared}, not a whole number of experts of ${width}`);
      }
      return {
        model_type: "ernie4_5_moe",
        ...decoder(m),
        moe_num_experts: m.int("expert_count"),
        moe_k: m.int("expert_used_count"),
        moe_intermediate_size: width,
        intermediate_size: m.int("feed_forward_length"),
        moe_num_shared_experts: shared / width,
        moe_layer_start_index: m.optInt("leading_dense_block_count") ?? 0,
        moe_layer_interval: m.optInt("interleave_moe_layer_step") ?? 1,
        moe_layer_end_index: -1,
        use_bias: m.hasTensor("blk.0.attn_q.bias"),
      };
    },
    names: () => ({ ...QWEN_NAMES, shared: "shared_experts", correctionBias: "moe_statics.e_score_correction_bias" }),
  },
  {
    // llama.cpp's glm4moe: DeepSeek-V3 routing (sigmoid, correction bias, groups) with GQA, partial RoPE,
    // optional q/k norms; next-token-prediction layers after the main ones are not run
    arch: "glm4moe",
    config: (m) => {
      gating(m, "sigmoid");
      return {
        model_type: "glm4_moe",
        ...decoder(m, { partialRope: true }),
        ...deepseekMoe(m),
        num_nextn_predict_layers: m.optInt("nextn_predict_layers") ?? 0,
        use_qk_norm: m.hasTensor("blk.0.attn_q_norm.weight"),
        attention_bias: m.hasTensor("blk.0.attn_q.bias"),
      };
    },
    names: () => ({
      ...QWEN_NAMES,
      shared: "shared_experts",
      correctionBias: "gate.e_score_correction_bias",
      qNorm: "q_norm",
      kNorm: "k_norm",
      layer: { "post_attention_norm.weight": "post_attention_layernorm.weight" },
    }),
  },
  {
    // llama.cpp's deepseek2 holds DeepSeek-V2 (softmax routing) and V3 (sigmoid with a correction bias,
    // expert groups); kv_b comes split into attn_k_b / attn_v_b
    arch: "deepseek2",
    config: (m) => {
      const sigmoid = (m.optInt("expert_gating_func") ?? GATING.softmax) === GATING.sigmoid;
      const base = {
        ...mlaDecoder(m),
        ...deepseekMoe(m),
      };
      if (sigmoid) return { model_type: "deepseek_v3", ...base, rope_interleave: true, num_nextn_predict_layers: 0 };
      return { model_type: "deepseek_v2", ...base, topk_method: base.n_group > 1 ? "group_limited_greedy" : "greedy" };
    },
    names: () => ({
      ...QWEN_NAMES,
      shared: "shared_experts",
      correctionBias: "gate.e_score_correction_bias",
      layer: {
        "attn_q_a.weight": "self_attn.q_a_proj.weight",
        "attn_q_a_norm.weight": "self_attn.q_a_layernorm.weight",
        "attn_q_b.weight": "self_attn.q_b_proj.weight",
        "attn_kv_a_mqa.weight": "self_attn.kv_a_proj_with_mqa.weight",
        "attn_kv_a_norm.weight": "self_attn.kv_a_layernorm.weight",
        "attn_kv_b.weight": "self_attn.kv_b_proj.weight",
      },
    }),
  },
  GPT_OSS,
];

const BY_ARCH = new Map(ARCHITECTURES.map((a) => [a.arch, a]));

export function ggufArchitecture(arch: string, where: string): GgufArchitecture {
  const a = BY_ARCH.get(arch);
  if (!a) throw new Error(`${where}: metadata 'general.architecture' is '${arch}', which moekit does not run (known: ${[...BY_ARCH.keys()].join(", ")})`);
  return a;
}

export function ggufArchitectures(): string[] {
  return [...BY_ARCH.keys()];
}
