import { boolField, intField, numField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { MIXTRAL_EXPERTS, numExperts, swiglu } from "./common.js";
import { gqa, llamaLike } from "./model-parts.js";
import { shortConv } from "../layers/mixers/short-conv.js";
import { useMixer } from "../layers/mixers/mixer.js";
import { DECODER, ROPE, bool, configSchema, extra, intFrom, layerKinds, nonNegInt, optional, positive, routedExperts } from "../config/schema.js";

const block = (from: string, to: string) => [new RegExp(`^(model\\.layers\\.\\d+\\.)${from}\\.`), `$1${to}.`] as const;

const conv = useMixer(shortConv, {
  name: "conv",
  taps: (site) => intField(site.raw, ["conv_L_cache"], 3),
  bias: (site) => boolField(site.raw, ["conv_bias"], false),
});

/**
 * LFM2-MoE: gated short-convolution layers beside attention layers (layer_types "conv" /
 * "full_attention"); per-head q/k RMSNorm before RoPE; dense MLP layers first (num_dense_layers), then a
 * sigmoid router with a selection-only expert bias, weights renormalised × routed_scaling_factor. Its
 * module names (operator_norm, feed_forward, embedding_norm, out_proj) are renamed to the shared ones.
 */
export const lfm2Moe: FamilyDefinition = {
  modelType: "lfm2_moe",
  config: configSchema(
    DECODER,
    ROPE,
    routedExperts(),
    layerKinds(["conv", "full_attention"]),
    extra({
      conv_L_cache: optional(intFrom(2)),
      conv_bias: optional(bool),
      num_dense_layers: optional(nonNegInt),
      use_expert_bias: optional(bool),
      routed_scaling_factor: optional(positive),
    }),
  ),
  moe: {
    blockName: "feed_forward",
    isSparseLayer: (cfg, l) => l >= intField(cfg, ["num_dense_layers"], 2),
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["moe_intermediate_size"]),
    gate: swiglu,
    router: {
      weightKey: "gate.weight",
      correctionBiasKey: "expert_bias",
      usesCorrectionBias: (cfg) => boolField(cfg, ["use_expert_bias"], true),
      rule: (cfg) => ({
        kind: "sigmoidTopK",
        k: intField(cfg, ["num_experts_per_tok"]),
        normTopkProb: boolField(cfg, ["norm_topk_prob"], true),
        eps: 1e-6,
        scale: numField(cfg, ["routed_scaling_factor"], 1),
      }),
    },
    experts: MIXTRAL_EXPERTS,
  },
  model: llamaLike({
    layerNorms: { attentionIn: "operator_norm", ffnIn: "ffn_norm" },
    normEps: (cfg) => numField(cfg, ["norm_eps"], 1e-5),
    defaultRopeTheta: 1e6,
    tieWordEmbeddingsDefault: true,
    attention: (cfg) => gqa(cfg, { qkNorm: { placement: "headBeforeRope", q: "q_layernorm", k: "k_layernorm" } }),
    mixer: (cfg, l) => ((cfg.layer_types as string[])[l] === "conv" ? conv : undefined),
  }),
  checkpoint: {
    config: (raw) => (raw.tie_embedding !== undefined && raw.tie_word_embeddings === undefined ? { ...raw, tie_word_embeddings: raw.tie_embedding } : raw),
    renames: [
      [/^model\.embedding_norm\./, "model.norm."],
      block("self_attn\\.out_proj", "self_attn.o_proj"),
      block("feed_forward\\.w1", "mlp.gate_proj"),
      block("feed_forward\\.w3", "mlp.up_proj"),
      block("feed_forward\\.w2", "mlp.down_proj"),
    ],
  },
};
