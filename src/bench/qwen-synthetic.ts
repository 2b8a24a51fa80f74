/** The tensors of a qwen2_moe checkpoint implied by its config, and the synthetic checkpoint made of them. */
import type { DType } from "../dtype.js";
import type { Checkpoint, Config } from "../loading/checkpoint.js";
import { intField } from "../models/config.js";
import { QWEN15_MOE_NAME, qwen15MoeConfig } from "./qwen-dims.js";
import { syntheticCheckpoint, type SyntheticTensor } from "./synthetic.js";

export function qwen2MoeTensors(cfg: Config): SyntheticTensor[] {
  const h = intField(cfg, ["hidden_size"]);
  const e = intField(cfg, ["num_experts"]);
  const i = intField(cfg, ["moe_intermediate_size"]);
  const s = intField(cfg, ["shared_expert_intermediate_size"]);
  const heads = intField(cfg, ["num_attention_heads"]);
  const kv = intField(cfg, ["num_key_value_heads"], heads);
  const hd = intField(cfg, ["head_dim"], h / heads);
  const v = intField(cfg, ["vocab_size"]);
  const layers = intField(cfg, ["num_hidden_layers"]);
  const out: SyntheticTensor[] = [];
  const u = (name: string, shape: number[]) => out.push({ name, shape, init: "uniform" });
  const one = (name: string, shape: number[]) => out.push({ name, shape, init: "ones" });
  u("model.embed_tokens.weight", [v, h]);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    one(`${p}.input_layernorm.weight`, [h]);
    one(`${p}.post_attention_layernorm.weight`, [h]);
    u(`${p}.self_attn.q_proj.weight`, [heads * hd, h]);
    u(`${p}.self_attn.q_proj.bias`, [heads * hd]);
    u(`${p}.self_attn.k_proj.weight`, [kv * hd, h]);
    u(`${p}.self_attn.k_proj.bias`, [kv * hd]);
    u(`${p}.self_attn.v_proj.weight`, [kv * hd, h]);
    u(`${p}.self_attn.v_proj.bias`, [kv * hd]);
    u(`${p}.self_attn.o_proj.weight`, [h, heads * hd]);
    u(`${p}.mlp.gate.weight`, [e, h]);
    for (let x = 0; x < e; x++) {
      u(`${p}.mlp.experts.${x}.gate_proj.weight`, [i, h]);
      u(`${p}.mlp.experts.${x}.up_proj.weight`, [i, h]);
      u(`${p}.mlp.experts.${x}.down_proj.weight`, [h, i]);
    }
    u(`${p}.mlp.shared_expert.gate_proj.weight`, [s, h]);
    u(`${p}.mlp.shared_expert.up_proj.weight`, [s, h]);
    u(`${p}.mlp.shared_expert.down_proj.weight`, [h, s]);
    u(`${p}.mlp.shared_expert_gate.weight`, [1, h]);
  }
  one("model.norm.weight", [h]);
  u("lm_head.weight", [v, h]);
  return out;
}

/** The embedded default: Qwen1.5-MoE-A2.7B dimensions, `layers` layers, seeded random weights in `dtype`. */
export function qwen15MoeSynthetic(layers: number, dtype: DType = "bfloat16", seed = 0): Checkpoint {
  const cfg = { ...qwen15MoeConfig(layers), dtype };
  return syntheticCheckpoint(QWEN15_MOE_NAME, cfg, qwen2MoeTensors(cfg), dtype, seed);
}
