import { field, intField, numField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { deepseekV3, mlaModel, noauxTcMoe } from "./deepseek_v3.js";
import { choice, configSchema, extra, optional } from "../config/schema.js";

const method = (m: string): "greedy" | "group_limited_greedy" => {
  if (m === "greedy" || m === "group_limited_greedy") return m;
  throw new Error(`deepseek_v2: unsupported topk_method '${m}' (greedy, group_limited_greedy)`);
};

/** V3's MoE shape with V2's router: softmax, greedy or group-max top-k, scale, never renormalised. */
export const deepseekV2: FamilyDefinition = {
  modelType: "deepseek_v2",
  config: configSchema(...deepseekV3.config.pieces, extra({ topk_method: optional(choice("greedy", "group_limited_greedy")) })),
  moe: {
    ...noauxTcMoe(1.0),
    router: {
      weightKey: "gate.weight",
      rule: (cfg) => ({
        kind: "softmaxGroupLimitedTopK",
        k: intField(cfg, ["num_experts_per_tok"]),
        method: method(field<string>(cfg, ["topk_method"], "greedy")),
        groups: intField(cfg, ["n_group"], 1),
        topkGroup: intField(cfg, ["topk_group"], 1),
        scale: numField(cfg, ["routed_scaling_factor"], 1.0),
      }),
    },
  },
  model: mlaModel(false),
};
