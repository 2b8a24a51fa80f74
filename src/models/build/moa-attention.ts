/** Loading a mixture-of-attention-heads layer (jetmoe): see MoaDefinition in config/family.ts. */
import { Router } from "../../experts/routers.js";
import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import type { ModelConfig } from "../config/model-config.js";
import { Linear } from "../layers/linear.js";
import { MoaAttention } from "../layers/moa-attention.js";
import type { WeightReader } from "./weights.js";

export async function loadMoaAttention(w: WeightReader, fam: FamilyDefinition, cfg: ModelConfig, layer: number): Promise<MoaAttention> {
  const p = `model.layers.${layer}.self_attn`;
  const raw = w.ckpt.config;
  const { hiddenSize: h, numKvHeads: kvHeads, headDim: d } = cfg;
  const e = fam.moe.numExperts(raw, layer);
  const topK = intField(raw, ["num_experts_per_tok"]);
  const router = new Router({ kind: "topKSoftmax", k: topK }, { weight: await w.get(`${p}.experts.router.layer.weight`, [e, h]) }, w.backend);
  return new MoaAttention(
    layer,
    { kvHeads, headDim: d, topK },
    router,
    await w.get(`${p}.experts.input_linear.weight`, [e, kvHeads * d, h]),
    await w.get(`${p}.experts.output_linear.weight`, [e, h, kvHeads * d]),
    await w.get(`${p}.experts.bias`, [h]),
    await Linear.load(w, `${p}.kv_proj`, 2 * kvHeads * d, h, false),
    { style: cfg.ropeStyle, rotaryDim: cfg.rotaryDim },
  );
}
