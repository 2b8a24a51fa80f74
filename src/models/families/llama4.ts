import type { Config } from "../../loading/checkpoint.js";
import { boolField, intField, numField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { numExperts, swiglu } from "./common.js";
import { gqa, llamaLike } from "./model-parts.js";
import { DECODER, ROPE, bool, choice, configSchema, extra, listOf, nonNegInt, optional, posInt, positive, routedExperts, intIn, finite } from "../config/schema.js";

const givenList = (v: unknown): unknown[] | undefined => (Array.isArray(v) && v.length > 0 ? v : undefined);

/** no_rope_layers[l] = 1 rotates layer l (0 = NoPE); without it every no_rope_layer_interval-th layer is NoPE. */
function ropeOn(cfg: Config, l: number): boolean {
  const list = givenList(cfg.no_rope_layers);
  return list ? list[l] !== 0 : (l + 1) % intField(cfg, ["no_rope_layer_interval"], 4) !== 0;
}

/** moe_layers, else every interleave_moe_layer_step-th layer from step − 1. */
function isSparse(cfg: Config, l: number): boolean {
  if (Array.isArray(cfg.moe_layers)) return cfg.moe_layers.includes(l);
  const step = intField(cfg, ["interleave_moe_layer_step"], 1);
  return l >= step - 1 && (l - (step - 1)) % step === 0;
}

/** layer_types, else chunked exactly on the RoPE layers. */
function chunked(cfg: Config, l: number): boolean {
  return Array.isArray(cfg.layer_types) ? cfg.layer_types[l] === "chunked_attention" : ropeOn(cfg, l);
}

const perLayer = (cfg: Config, report: (f: string, m: string) => void, field: string) => {
  const v = cfg[field];
  if (Array.isArray(v) && v.length > 0 && v.length !== cfg.num_hidden_layers) report(field, `must list one entry per layer (num_hidden_layers ${String(cfg.num_hidden_layers)}), got ${v.length}`);
};

const LLAMA4_FIELDS = extra(
  {
    intermediate_size_mlp: optional(posInt),
    moe_layers: optional(listOf(nonNegInt)),
    interleave_moe_layer_step: optional(posInt),
    no_rope_layers: optional(listOf(intIn(0, 1))),
    no_rope_layer_interval: optional(posInt),
    layer_types: optional(listOf(choice("full_attention", "chunked_attention"))),
    attention_chunk_size: optional(posInt),
    use_qk_norm: optional(bool),
    attn_temperature_tuning: optional(bool),
    floor_scale: optional(positive),
    attn_scale: optional(finite),
  },
  (cfg, report) => {
    perLayer(cfg, report, "no_rope_layers");
    perLayer(cfg, report, "layer_types");
    const n = cfg.num_hidden_layers as number;
    const moe = cfg.moe_layers as number[] | null | undefined;
    const bad = moe?.find((l) => l >= n);
    if (bad !== undefined) report("moe_layers", `lists layer ${bad}, but the model has ${n} layers`);
    if (cfg.attention_chunk_size === null) {
      const l = Array.from({ length: n }, (_, i) => i).find((i) => chunked(cfg, i));
      if (l !== undefined) report("attention_chunk_size", `is null, but layer ${l} is a chunked_attention layer`);
    }
  },
);

/**
 * Llama 4 (text): a sigmoid top-k router whose weight scales each expert's *input*, a shared expert, MoE
 * on moe_layers (every interleave_moe_layer_step-th); complex-pair (interleaved) RoPE with chunked
 * attention and a weightless L2 q/k norm on RoPE layers; NoPE layers with query temperature tuning.
 */
export const llama4: FamilyDefinition = {
  modelType: "llama4_text",
  config: configSchema(DECODER, ROPE, routedExperts(), LLAMA4_FIELDS),
  checkpoint: { renames: [[/^(model\.layers\.\d+)\.feed_forward\./, "$1.mlp."]] },
  moe: {
    blockName: "mlp",
    isSparseLayer: isSparse,
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["intermediate_size"]),
    gate: swiglu,
    router: {
      weightKey: "router.weight",
      rule: (cfg) => ({ kind: "sigmoidTopK", k: intField(cfg, ["num_experts_per_tok"]), normTopkProb: false, eps: 0, scale: 1 }),
    },
    experts: { kind: "stackedInOut" },
    expertsCall: () => ({ weightScalesInput: true }),
    shared: { name: "shared_expert", width: (cfg) => intField(cfg, ["intermediate_size"]) },
  },
  model: llamaLike({
    ropeStyle: "interleaved",
    defaultRopeTheta: 500000,
    denseIntermediateSize: (cfg) => intField(cfg, ["intermediate_size_mlp"], 16384),
    attention: (cfg, l) => {
      const rope = ropeOn(cfg, l);
      return gqa(cfg, {
        rope,
        l2QkNorm: rope && boolField(cfg, ["use_qk_norm"], true),
        chunkSize: chunked(cfg, l) ? intField(cfg, ["attention_chunk_size"], 8192) : undefined,
        temperatureTuning:
          !rope && boolField(cfg, ["attn_temperature_tuning"], true)
            ? { floorScale: numField(cfg, ["floor_scale"], 8192), attnScale: numField(cfg, ["attn_scale"], 0.1) }
            : undefined,
      });
    },
  }),
};

const isRecord = (v: unknown): v is Config => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Llama 4 as released (Llama4ForConditionalGeneration, model_type "llama4"): the text model's config in
 * text_config, its tensors under language_model.; the vision tower and projector stay unused.
 */
export const llama4Multimodal: FamilyDefinition = {
  ...llama4,
  modelType: "llama4",
  checkpoint: {
    config: (raw) => ({ ...raw, ...(isRecord(raw.text_config) ? raw.text_config : {}), model_type: "llama4" }),
    renames: [
      [/^language_model\.(model\.layers\.\d+)\.feed_forward\./, "$1.mlp."],
      [/^language_model\./, ""],
    ],
  },
  unusedByDesign: { ignore: [/^vision_model\./, /^multi_modal_projector\./] },
};
