/**
 * The tensors of a decoder-only MoE checkpoint in the Hugging Face layout, implied by its config and a
 * short description of what the family adds (qkv biases, q/k norms, a shared expert). The synthetic
 * models (qwen-synthetic.ts, olmoe-synthetic.ts) are these lists over a SyntheticProvider.
 */
import type { Config } from "../loading/checkpoint.js";
import { formatFor, type MatrixRole, type QuantDType } from "../models/build/quantize.js";
import { intField } from "../models/config/fields.js";
import type { SyntheticFormats, SyntheticTensor } from "./synthetic.js";

export interface MoeDecoderLayout {
  /** Routed experts per layer and their intermediate width (`experts.N.{gate,up,down}_proj`). */
  experts: number;
  expertWidth: number;
  /** Biases on q/k/v_proj (qwen2_moe). */
  qkvBias?: boolean;
  /** `self_attn.{q,k}_norm.weight`: "full" over all heads ([Hq·D] / [Hkv·D], olmoe), "head" per head ([D]). */
  qkNorm?: "full" | "head";
  /** `mlp.shared_expert.*` of this width, with `mlp.shared_expert_gate` when `gated` (qwen2_moe). */
  sharedExpert?: { width: number; gated: boolean };
  /** lm_head shares the embedding table (no `lm_head.weight`). */
  tieWordEmbeddings?: boolean;
}

export function moeDecoderTensors(cfg: Config, layout: MoeDecoderLayout): SyntheticTensor[] {
  const h = intField(cfg, ["hidden_size"]);
  const heads = intField(cfg, ["num_attention_heads"]);
  const kv = intField(cfg, ["num_key_value_heads"], heads);
  const hd = intField(cfg, ["head_dim"], h / heads);
  const v = intField(cfg, ["vocab_size"]);
  const layers = intField(cfg, ["num_hidden_layers"]);
  const { experts: e, expertWidth: i, sharedExpert: shared } = layout;
  const out: SyntheticTensor[] = [];
  const u = (name: string, shape: number[]) => out.push({ name, shape, init: "uniform" });
  const one = (name: string, shape: number[]) => out.push({ name, shape, init: "ones" });
  u("model.embed_tokens.weight", [v, h]);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    one(`${p}.input_layernorm.weight`, [h]);
    one(`${p}.post_attention_layernorm.weight`, [h]);
    for (const [proj, width] of [["q", heads * hd], ["k", kv * hd], ["v", kv * hd]] as const) {
      u(`${p}.self_attn.${proj}_proj.weight`, [width, h]);
      if (layout.qkvBias) u(`${p}.self_attn.${proj}_proj.bias`, [width]);
    }
    u(`${p}.self_attn.o_proj.weight`, [h, heads * hd]);
    if (layout.qkNorm) {
      one(`${p}.self_attn.q_norm.weight`, [layout.qkNorm === "full" ? heads * hd : hd]);
      one(`${p}.self_attn.k_norm.weight`, [layout.qkNorm === "full" ? kv * hd : hd]);
    }
    u(`${p}.mlp.gate.weight`, [e, h]);
    for (let x = 0; x < e; x++) {
      u(`${p}.mlp.experts.${x}.gate_proj.weight`, [i, h]);
      u(`${p}.mlp.experts.${x}.up_proj.weight`, [i, h]);
      u(`${p}.mlp.experts.${x}.down_proj.weight`, [h, i]);
    }
    if (shared) {
      u(`${p}.mlp.shared_expert.gate_proj.weight`, [shared.width, h]);
      u(`${p}.mlp.shared_expert.up_proj.weight`, [shared.width, h]);
      u(`${p}.mlp.shared_expert.down_proj.weight`, [h, shared.width]);
      if (shared.gated) u(`${p}.mlp.shared_expert_gate.weight`, [1, h]);
    }
  }
  one("model.norm.weight", [h]);
  if (!layout.tieWordEmbeddings) u("lm_head.weight", [v, h]);
  return out;
}

const MOE_MATRIX = /^model\.layers\.(\d+)\.mlp\.(experts\.\d+|shared_expert)\.(gate|up|down)_proj\.weight$/;

/**
 * The formats quantize at load to `dtype` gives the routed and shared experts' matrices of these tensors (the
 * loader's roles and llama.cpp's mix: quantize.ts formatFor), for a synthetic checkpoint generated quantized;
 * every other tensor stays float (and is quantized at load, if the loader quantizes it).
 */
export function moeMatrixFormats(cfg: Config, dtype: QuantDType): SyntheticFormats {
  const model = { numLayers: intField(cfg, ["num_hidden_layers"]), numExperts: intField(cfg, ["num_experts"]) };
  return (name, shape) => {
    const m = MOE_MATRIX.exec(name);
    if (!m) return undefined;
    const routed = m[2] !== "shared_expert";
    const role: MatrixRole = m[3] === "down" ? (routed ? "exps_down" : "ffn_down") : routed ? "exps_gate_up" : "ffn_gate_up";
    return formatFor(dtype, role, Number(m[1]), shape[shape.length - 1]!, model);
  };
}
