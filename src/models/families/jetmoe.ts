import type { Config } from "../../loading/checkpoint.js";
import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { allLayers, numExperts, swiglu } from "./common.js";
import { llamaLike } from "./model-parts.js";
import { DECODER, ROPE, choice, configSchema, extra, optional, posInt, routedExperts } from "../config/schema.js";
import { ACTIVATIONS } from "../../backends/activation.js";

/** JetMoeConfig's names as the shared loaders read them (head_dim ← kv_channels; query heads = top-k × kv heads). */
function flatConfig(cfg: Config): Config {
  const out: Config = { ...cfg, hidden_act: cfg.activation_function ?? "silu", head_dim: cfg.kv_channels ?? 128 };
  const kv = cfg.num_key_value_heads ?? 16;
  const k = cfg.num_experts_per_tok ?? 2;
  if (cfg.num_attention_heads == null && typeof kv === "number" && typeof k === "number") out.num_attention_heads = kv * k;
  return out;
}

const JETMOE_FIELDS = extra(
  { kv_channels: optional(posInt), activation_function: optional(choice(...(ACTIVATIONS as [string, ...string[]]), "swish")) },
  (cfg, report) => {
    const want = (cfg.num_key_value_heads as number) * (cfg.num_experts_per_tok as number);
    if (cfg.num_attention_heads !== want) report("num_attention_heads", `must be num_key_value_heads × num_experts_per_tok = ${want} (each routed attention expert brings num_key_value_heads query heads), got ${String(cfg.num_attention_heads)}`);
  },
);

/**
 * JetMoE: mixture of attention heads (routed query and output projections with their own top-k →
 * softmax router, shared key / value projection, an output bias) and a sparse MLP in the granite
 * layout (input_linear / output_linear stacks) with the same router rule and an output bias.
 */
export const jetmoe: FamilyDefinition = {
  modelType: "jetmoe",
  config: configSchema(DECODER, ROPE, routedExperts(), JETMOE_FIELDS),
  checkpoint: {
    config: flatConfig,
    fieldNames: { hidden_act: "activation_function", head_dim: "kv_channels" },
    renames: [[/^(model\.layers\.\d+)\.self_attention\./, "$1.self_attn."]],
  },
  moe: {
    blockName: "mlp",
    isSparseLayer: allLayers,
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["intermediate_size"]),
    gate: swiglu,
    router: { weightKey: "router.layer.weight", rule: (cfg) => ({ kind: "topKSoftmax", k: intField(cfg, ["num_experts_per_tok"]) }) },
    experts: { kind: "granite" },
    outputBiasKey: "bias",
  },
  model: llamaLike({ tieWordEmbeddingsDefault: true, attention: () => ({ kind: "moa" }) }),
};
