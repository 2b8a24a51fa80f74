import type { Config } from "../../loading/checkpoint.js";
import { intField, numField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { allLayers, MIXTRAL_EXPERTS, numExperts, swiglu } from "./common.js";
import { llamaLike, slidingEverywhere } from "./model-parts.js";
import { lightningAttention } from "../layers/mixers/lightning-attention.js";
import type { MixerSite } from "../layers/mixers/mixer.js";
import { useMixer } from "../layers/mixers/mixer.js";
import { configSchema, DECODER, extra, layerKinds, nonNegative, nonNegInt, optional, posInt, ROPE, routedExperts } from "../config/schema.js";

/** Layer l's decay rate per head: (1 / 2^(8/H))^(h+1) · (1 − l / (L − 1 + 1e−5) + 1e−5) (transformers' get_slope_rate). */
export function minimaxSlopes(heads: number, layer: number, layers: number): number[] {
  const base = 1 / 2 ** (8 / heads);
  const factor = 1 - layer / (layers - 1 + 1e-5) + 1e-5;
  return Array.from({ length: heads }, (_, h) => base ** (h + 1) * factor);
}

/** The buffers transformers stores beside the weights: slope_rate [H, 1, 1] and the block decay tables of block_size. */
function decayBuffers(site: MixerSite): { key: string; shape: number[]; values: Float64Array }[] {
  const nh = site.cfg.numHeads;
  const bs = intField(site.raw, ["block_size"], 256);
  const s = minimaxSlopes(nh, site.layer, site.cfg.numLayers);
  const p = `${site.prefix}.self_attn`;
  const table = (shape: number[], f: (h: number, i: number, j: number) => number) => {
    const [, rows, cols] = shape.length === 4 ? [0, shape[2]!, shape[3]!] : [0, shape[1]!, shape[2]!];
    const v = new Float64Array(nh * rows * cols);
    for (let h = 0; h < nh; h++) for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) v[(h * rows + i) * cols + j] = f(h, i, j);
    return { shape, values: v };
  };
  return [
    { key: `${p}.slope_rate`, ...table([nh, 1, 1], (h) => s[h]!) },
    { key: `${p}.query_decay`, ...table([nh, bs, 1], (h, i) => Math.exp(-s[h]! * (i + 1))) },
    { key: `${p}.key_decay`, ...table([nh, bs, 1], (h, i) => Math.exp(-s[h]! * (bs - i - 1))) },
    { key: `${p}.diagonal_decay`, ...table([1, nh, bs, bs], (h, i, j) => (i >= j ? Math.exp(-s[h]! * (i - j)) : 0)) },
  ];
}

const lightning = useMixer(lightningAttention, {
  name: "self_attn",
  slopes: (site) => minimaxSlopes(site.cfg.numHeads, site.layer, site.cfg.numLayers),
  buffers: decayBuffers,
  normEps: 1e-6,
});

/** layer_types, or transformers' default: odd layers (1, 3, …) linear. */
const isLinear = (cfg: Config, l: number) => (Array.isArray(cfg.layer_types) ? cfg.layer_types[l] === "linear_attention" : l % 2 === 1);

/** α / β: each sublayer's output is α · (its normalised input) + β · (the sublayer), by layer kind. */
const FACTORS = ["full_attn_alpha_factor", "full_attn_beta_factor", "linear_attn_alpha_factor", "linear_attn_beta_factor", "mlp_alpha_factor", "mlp_beta_factor"];

/**
 * MiniMax-Text-01: lightning (linear) attention layers with a per-layer decay beside softmax attention
 * layers (layer_types); the residual of each sublayer is its normalised input, scaled by α, the sublayer
 * output by β; mixtral's MoE.
 */
export const minimax: FamilyDefinition = {
  modelType: "minimax",
  config: configSchema(
    DECODER,
    ROPE,
    routedExperts(),
    layerKinds(["full_attention", "linear_attention"], { optionalList: true }),
    extra({
      block_size: optional(posInt),
      sliding_window: optional(nonNegInt),
      router_jitter_noise: optional(nonNegative),
      ...Object.fromEntries(FACTORS.map((f) => [f, optional(nonNegative)])),
    }),
  ),
  moe: {
    blockName: "block_sparse_moe",
    isSparseLayer: allLayers,
    numExperts,
    intermediateSize: (cfg) => intField(cfg, ["intermediate_size"]),
    gate: swiglu,
    router: { weightKey: "gate.weight", rule: (cfg) => ({ kind: "softmaxTopK", k: intField(cfg, ["num_experts_per_tok"]), normTopkProb: true }) },
    experts: MIXTRAL_EXPERTS,
  },
  model: llamaLike({
    defaultRopeTheta: 1e6,
    slidingWindow: slidingEverywhere,
    mixer: (cfg, l) => (isLinear(cfg, l) ? lightning : undefined),
    scaledResiduals: (cfg, l) => {
      const kind = isLinear(cfg, l) ? "linear_attn" : "full_attn";
      return {
        attention: { residual: numField(cfg, [`${kind}_alpha_factor`], 1), branch: numField(cfg, [`${kind}_beta_factor`], 1) },
        ffn: { residual: numField(cfg, ["mlp_alpha_factor"], 1), branch: numField(cfg, ["mlp_beta_factor"], 1) },
      };
    },
  }),
};
