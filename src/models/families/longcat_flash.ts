import type { Config } from "../../loading/checkpoint.js";
import { intField, numField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { QWEN_EXPERTS, swiglu } from "./common.js";
import { llamaLike } from "./model-parts.js";
import { DECODER, MLA, MTP, ROPE, configSchema, extra, nonNegInt, optional, posInt, positive, routedExperts } from "../config/schema.js";

const experts = (cfg: Config) => intField(cfg, ["n_routed_experts"]);
const zeroExperts = (cfg: Config) => intField(cfg, ["zero_expert_num"], 0);
/** Sublayer 2l holds the logical layer's first attention, its dense MLP and the shortcut MoE; 2l + 1 the second pair. */
const sublayer = (l: string, i: string) => 2 * Number(l) + Number(i);

/** LongcatFlashConfig's names as the shared loaders read them: two decoder sublayers per logical layer. */
function flatConfig(cfg: Config): Config {
  const layers = cfg.num_layers;
  return {
    ...cfg,
    num_hidden_layers: typeof layers === "number" ? 2 * layers : layers,
    intermediate_size: cfg.ffn_hidden_size,
    moe_intermediate_size: cfg.expert_ffn_hidden_size,
  };
}

const LONGCAT_FIELDS = extra({
  num_layers: posInt,
  ffn_hidden_size: posInt,
  expert_ffn_hidden_size: posInt,
  zero_expert_num: optional(nonNegInt),
  routed_scaling_factor: optional(positive),
  n_routed_experts: posInt,
  q_lora_rank: posInt,
});

/**
 * LongCat-Flash: each logical layer is two MLA + dense-MLP sublayers, with a shortcut MoE that reads the
 * first MLP's input and joins the residual after the second MLP; MLA with √(hidden / rank) latent scales;
 * a softmax router over the experts and zero_expert_num identity (zero-computation) experts, selection
 * biased by e_score_correction_bias, weights × routed_scaling_factor.
 */
export const longcatFlash: FamilyDefinition = {
  modelType: "longcat_flash",
  config: configSchema(DECODER, ROPE, routedExperts(), MLA, MTP, LONGCAT_FIELDS),
  checkpoint: {
    config: flatConfig,
    fieldNames: { num_hidden_layers: "num_layers (× 2)", intermediate_size: "ffn_hidden_size", moe_intermediate_size: "expert_ffn_hidden_size" },
    renames: [
      [/^model\.layers\.(\d+)\.(self_attn|input_layernorm|post_attention_layernorm)\.(\d+)\./, (_m, l, part, i) => `model.layers.${sublayer(l!, i!)}.${part}.`],
      [/^model\.layers\.(\d+)\.mlps\.(\d+)\./, (_m, l, i) => `model.layers.${sublayer(l!, i!)}.mlp.`],
      [/^model\.layers\.(\d+)\.mlp\./, (_m, l) => `model.layers.${sublayer(l!, "0")}.moe.`],
    ],
  },
  moe: {
    blockName: "moe",
    isSparseLayer: (_cfg, l) => l % 2 === 0,
    numExperts: experts,
    intermediateSize: (cfg) => intField(cfg, ["expert_ffn_hidden_size"]),
    gate: swiglu,
    router: {
      weightKey: "router.classifier.weight",
      correctionBiasKey: "router.e_score_correction_bias",
      outputs: (cfg) => experts(cfg) + zeroExperts(cfg),
      rule: (cfg) => ({ kind: "softmaxBiasedTopK", k: intField(cfg, ["moe_topk"]), scale: numField(cfg, ["routed_scaling_factor"], 1) }),
    },
    experts: QWEN_EXPERTS,
    expertsCall: (cfg) => ({ identityExperts: zeroExperts(cfg) }),
    shortcut: true,
  },
  model: llamaLike({
    ropeStyle: "interleaved",
    defaultRopeTheta: 10000000,
    attention: () => ({ kind: "mla", latentScales: true }),
  }),
  unusedByDesign: {
    // zero experts keep gate/up weights in released checkpoints (transformers sizes gate_up_proj by all experts)
    ignore: (cfg) => [
      new RegExp(`^model\\.layers\\.\\d+\\.mlp\\.experts\\.(${Array.from({ length: zeroExperts(cfg) }, (_, z) => experts(cfg) + z).join("|") || "none"})\\.`),
      /^model\.mtp\./,
    ],
  },
};
