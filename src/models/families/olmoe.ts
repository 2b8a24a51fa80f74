import { boolField, intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { everyLayerMoe, QWEN_EXPERTS } from "./common.js";
import { gqa, llamaLike } from "./model-parts.js";
import { CLIP_QKV, DECODER, ROPE, configSchema, routedExperts } from "../config/schema.js";

export const olmoe: FamilyDefinition = {
  modelType: "olmoe",
  config: configSchema(DECODER, ROPE, routedExperts(), CLIP_QKV),
  moe: everyLayerMoe({
      weightKey: "gate.weight",
      rule: (cfg) => ({ kind: "softmaxTopK", k: intField(cfg, ["num_experts_per_tok"]), normTopkProb: boolField(cfg, ["norm_topk_prob"], false) }),
    }, { blockName: "mlp", experts: QWEN_EXPERTS }),
  model: llamaLike({
    attention: (cfg) => {
      const clip = cfg.clip_qkv;
      return gqa(cfg, { qkNorm: { placement: "fullBeforeRope", q: "q_norm", k: "k_norm" }, clipQkv: typeof clip === "number" ? clip : undefined });
    },
  }),
};
