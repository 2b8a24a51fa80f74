import type { Config } from "../../loading/checkpoint.js";
import { boolField, intField, numField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { numExperts, QWEN_EXPERTS, swiglu } from "./common.js";
import { gqa, llamaLike, SANDWICH_NORMS, slidingByLayerTypes } from "./model-parts.js";
import { DECODER, ROPE, bool, configSchema, extra, nonNegInt, optional, posInt, positive, routedExperts, slidingWindow } from "../config/schema.js";

/** Without layer_types: every global_attn_every_n_layers-th layer is full, the others slide. */
const everyNthFull = (cfg: Config, l: number) => (l + 1) % intField(cfg, ["global_attn_every_n_layers"], 4) !== 0;
const slides = (cfg: Config, l: number) => (Array.isArray(cfg.layer_types) ? cfg.layer_types[l] === "sliding_attention" : everyNthFull(cfg, l));

/**
 * Sigmoid router with a selection-only bias, weights renormalised × route_scale; shared experts; dense
 * first layers. Norms before and after each sublayer; per-head q/k norm; the attention output gated by
 * σ(gate_proj·x); RoPE on sliding layers only; embeddings × √H under mup.
 */
export const afmoe: FamilyDefinition = {
  modelType: "afmoe",
  config: configSchema(
    DECODER,
    ROPE,
    routedExperts(),
    slidingWindow(),
    extra({
      num_dense_layers: optional(nonNegInt),
      route_scale: optional(positive),
      num_shared_experts: optional(nonNegInt),
      global_attn_every_n_layers: optional(posInt),
      mup_enabled: optional(bool),
    }),
  ),
  moe: {
    blockName: "mlp",
    isSparseLayer: (cfg, l) => l >= intField(cfg, ["num_dense_layers"], 1),
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["moe_intermediate_size"]),
    gate: swiglu,
    router: {
      weightKey: "router.gate.weight",
      correctionBiasKey: "expert_bias",
      rule: (cfg) => ({ kind: "sigmoidTopK", k: intField(cfg, ["num_experts_per_tok"]), normTopkProb: true, eps: 1e-20, scale: numField(cfg, ["route_scale"], 1) }),
    },
    experts: QWEN_EXPERTS,
    shared: { name: "shared_experts", width: (cfg) => intField(cfg, ["moe_intermediate_size"]) * intField(cfg, ["num_shared_experts"], 2) },
  },
  model: llamaLike({
    layerNorms: SANDWICH_NORMS,
    attention: (cfg, l) => gqa(cfg, { qkNorm: { placement: "headBeforeRope", q: "q_norm", k: "k_norm" }, sigmoidOutputGate: true, rope: slides(cfg, l) }),
    slidingWindow: slidingByLayerTypes(everyNthFull),
    multipliers: (cfg) => ({ embedding: boolField(cfg, ["mup_enabled"], false) ? Math.sqrt(intField(cfg, ["hidden_size"])) : 1, residual: 1, logitsDivisor: 1 }),
  }),
};
