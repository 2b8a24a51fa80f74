/**
 * A Hugging Face checkpoint's tensors as GGUF tensors, the inverse of names.ts: each GGUF tensor is
 * planned from the checkpoint keys it is made of (per-expert tensors stacked into ffn_*_exps, granite's
 * gate|up stacks split, q/k rows permuted for llama.cpp's RoPE where convert_hf_to_gguf permutes them),
 * and produced one at a time when the writer asks for it.
 */
import type { Checkpoint, Config } from "../checkpoint.js";
import { ggufArchitecture } from "./architectures.js";
import { GLOBAL, LAYER } from "./names.js";

export interface PlannedTensor {
  /** GGUF name */
  name: string;
  /** row-major shape */
  shape: number[];
  /** checkpoint keys, concatenated in order (experts 0..E-1 of a stack) */
  parts: string[];
  /** keep in float32 whatever the output type (vectors, routers: convert_hf_to_gguf keeps them f32) */
  keepF32: boolean;
  /** permute rows for llama.cpp's interleaved RoPE over this many heads */
  permuteHeads?: number;
  /** take the first or second half of each [2R, C] slice (granite's gate|up) */
  half?: 0 | 1;
  /** a zero tensor with no checkpoint key (llama.cpp requires biases some families lack) */
  zeros?: boolean;
  /** swap the source's last two dims first (gpt_oss's in × out expert stacks → out × in) */
  transpose?: boolean;
  /** then keep every other row from `start` (gpt_oss's interleaved gate|up: 0 gate, 1 up), rows `width` values wide */
  alternate?: { start: 0 | 1; width: number };
  /** MXFP4 expert blocks passed through (published gpt-oss): the checkpoint's `blocks` / `scales`, every other row from `alternate` */
  mxfp4?: { blocks: string; scales: string; alternate?: 0 | 1 };
  /** DeepSeek's kv_b [heads·(nope + v), rank] split per head: k (transposed to [heads, rank, nope]) or v ([heads, v, rank]) */
  kvBHalf?: { half: "k" | "v"; heads: number; nope: number; v: number };
}

const KINDS = ["gate", "up", "down"] as const;

export function planGgufTensors(ckpt: Checkpoint, arch: string, config: Config): PlannedTensor[] {
  const spec = ggufArchitecture(arch, ckpt.name);
  const n = spec.names(config);
  const heads = config.num_attention_heads as number;
  const kvHeads = (config.num_key_value_heads as number | undefined) ?? heads;
  const out: PlannedTensor[] = [];
  const shapeOf = (key: string) => [...ckpt.info(key).shape];
  const one = (name: string, key: string, extra: Partial<PlannedTensor> = {}) => {
    const shape = shapeOf(key);
    out.push({ name, shape, parts: [key], keepF32: shape.length < 2, ...extra });
  };
  const invGlobal = new Map(Object.entries(GLOBAL).map(([g, h]) => [h, g]));
  const invLayer = new Map(Object.entries({ ...LAYER, ...n.layer }).map(([g, h]) => [h, g]));
  const expertRe = n.experts ? new RegExp(`^model\\.layers\\.(\\d+)\\.${n.block}\\.experts\\.(\\d+)\\.(${n.experts.join("|")})\\.weight$`) : null;
  const stacked = new Set<string>();
  const layers = config.num_hidden_layers as number;
  for (const key of ckpt.keys()) {
    // next-token-prediction (MTP) layers after the main ones are not converted
    const layer = /^model\.layers\.(\d+)\./.exec(key);
    if (layer && Number(layer[1]) >= layers) continue;
    const g = invGlobal.get(key);
    if (g) {
      one(g, key);
      continue;
    }
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(key);
    if (!m) throw new Error(`checkpoint '${ckpt.name}': no GGUF name for tensor '${key}' (${arch})`);
    const blk = `blk.${m[1]}`;
    const rest = m[2]!;
    if (arch === "deepseek2" && rest === "self_attn.kv_b_proj.weight") {
      // DeepseekV2Model.modify_tensors: kv_b split into attn_k_b (each head's key rows, transposed) and attn_v_b
      const rank = shapeOf(key)[1]!;
      const [nope, v] = [config.qk_nope_head_dim as number, config.v_head_dim as number];
      out.push({ name: `${blk}.attn_k_b.weight`, shape: [heads, rank, nope], parts: [key], keepF32: false, kvBHalf: { half: "k", heads, nope, v } });
      out.push({ name: `${blk}.attn_v_b.weight`, shape: [heads, v, rank], parts: [key], keepF32: false, kvBHalf: { half: "v", heads, nope, v } });
      continue;
    }
    if (n.stacks && rest.startsWith(`${n.block}.experts.`)) {
      out.push(...gptOssExperts(ckpt, key, blk, rest.slice(n.block.length + 9)));
      continue;
    }
    const fixed = invLayer.get(rest);
    if (fixed) {
      one(`${blk}.${fixed}`, key);
      continue;
    }
    const block = `${n.block}.`;
    const shared = n.shared ? (n.sharedBesideBlock ? `${n.shared}.` : `${block}${n.shared}.`) : undefined;
    const e = expertRe?.exec(key);
    if (e) {
      const kind = KINDS[n.experts!.indexOf(e[3]!)]!;
      const name = `${blk}.ffn_${kind}_exps.weight`;
      if (stacked.has(name)) continue;
      stacked.add(name);
      const count = experts(ckpt, `model.layers.${m[1]}.${block}experts.`, e[3]!);
      const parts = Array.from({ length: count }, (_, x) => `model.layers.${m[1]}.${block}experts.${x}.${e[3]}.weight`);
      out.push({ name, shape: [count, ...shapeOf(key)], parts, keepF32: false });
    } else if (rest === "self_attn.q_proj.weight" || rest === "self_attn.k_proj.weight") {
      const q = rest[10] === "q";
      one(`${blk}.attn_${q ? "q" : "k"}.weight`, key, spec.permutedQk ? { permuteHeads: q ? heads : kvHeads } : {});
    } else if (n.qNorm && rest === `self_attn.${n.qNorm}.weight`) one(`${blk}.attn_q_norm.weight`, key);
    else if (n.kNorm && rest === `self_attn.${n.kNorm}.weight`) one(`${blk}.attn_k_norm.weight`, key);
    else if (rest === `${block}${n.router}`) one(`${blk}.ffn_gate_inp.weight`, key, { keepF32: true });
    else if (n.routerBias && rest === `${block}${n.routerBias}`) one(`${blk}.ffn_gate_inp.bias`, key);
    else if (n.sharedGate && rest === `${block}${n.sharedGate}`) one(`${blk}.ffn_gate_inp_shexp.weight`, key, { keepF32: true });
    else if (n.correctionBias && rest === `${block}${n.correctionBias}`) one(`${blk}.exp_probs_b.bias`, key);
    else if (n.experts === null && (rest === `${block}input_linear.weight` || (shared && rest === `${shared}input_linear.weight`))) {
      const kind = rest.startsWith(block) ? "exps" : "shexp";
      const shape = shapeOf(key);
      shape[shape.length - 2]! /= 2;
      for (const [half, part] of [[0, "gate"], [1, "up"]] as const) out.push({ name: `${blk}.ffn_${part}_${kind}.weight`, shape: [...shape], parts: [key], keepF32: false, half });
    } else if (n.experts === null && rest === `${block}output_linear.weight`) one(`${blk}.ffn_down_exps.weight`, key);
    else if (n.experts === null && shared && rest === `${shared}output_linear.weight`) one(`${blk}.ffn_down_shexp.weight`, key);
    else if (shared && rest.startsWith(shared) && /^(gate|up|down)_proj\.weight$/.test(rest.slice(shared.length))) {
      one(`${blk}.ffn_${rest.slice(shared.length).split("_")[0]}_shexp.weight`, key);
    } else throw new Error(`checkpoint '${ckpt.name}': no GGUF name for tensor '${key}' (${arch})`);
  }
  if (arch === "phimoe") addPhimoeBiases(out, config);
  return out;
}

/** How many experts `prefix` + N + `.proj.weight` the checkpoint holds (0..E-1, no gaps). */
function experts(ckpt: Checkpoint, prefix: string, proj: string): number {
  let e = 0;
  while (ckpt.has(`${prefix}${e}.${proj}.weight`)) e++;
  return e;
}

/** llama.cpp's phimoe requires lm_head and attention biases; a checkpoint without them has zero biases. */
function addPhimoeBiases(out: PlannedTensor[], config: Config): void {
  const names = new Set(out.map((t) => t.name));
  const zero = (name: string, rows: number) => {
    if (!names.has(name)) out.push({ name, shape: [rows], parts: [], keepF32: true, zeros: true });
  };
  zero("output.bias", config.vocab_size as number);
  for (const t of [...out]) {
    const m = /^(blk\.\d+\.attn_(?:q|k|v|output))\.weight$/.exec(t.name);
    if (m) zero(`${m[1]}.bias`, t.shape[0]!);
  }
}

/**
 * GptOssModel.modify_tensors: gate_up_proj [E, H, 2I] (in × out, gate and up interleaved) transposed and
 * split into ffn_gate_exps / ffn_up_exps [E, I, H], its bias split the same way, down_proj [E, I, H]
 * transposed to ffn_down_exps [E, H, I]; biases stay float32 (the converter keeps every non-.weight f32).
 * A published MXFP4 checkpoint's `*_blocks` / `*_scales` (already out × in) stay MXFP4, gate|up rows split.
 */
function gptOssExperts(ckpt: Checkpoint, key: string, blk: string, name: string): PlannedTensor[] {
  const shape = [...ckpt.info(key).shape];
  const [e, a, b] = shape as [number, number, number];
  switch (name) {
    case "gate_up_proj":
      return (["gate", "up"] as const).map((kind, start) => ({ name: `${blk}.ffn_${kind}_exps.weight`, shape: [e, b / 2, a], parts: [key], keepF32: false, transpose: true, alternate: { start: start as 0 | 1, width: a } }));
    case "gate_up_proj_bias":
      return (["gate", "up"] as const).map((kind, start) => ({ name: `${blk}.ffn_${kind}_exps.bias`, shape: [e, a / 2], parts: [key], keepF32: true, alternate: { start: start as 0 | 1, width: 1 } }));
    case "down_proj":
      return [{ name: `${blk}.ffn_down_exps.weight`, shape: [e, b, a], parts: [key], keepF32: false, transpose: true }];
    case "down_proj_bias":
      return [{ name: `${blk}.ffn_down_exps.bias`, shape: [e, a], parts: [key], keepF32: true }];
  }
  const mx = /^(gate_up_proj|down_proj)_(blocks|scales)$/.exec(name);
  if (mx?.[2] === "scales") return [];
  if (mx) {
    // repack_mxfp4: the published blocks kept as MXFP4 (ggml's layout), gate and up rows split
    const [rows, groups] = [shape[1]!, shape[2]!];
    const mxfp4 = { blocks: key, scales: key.replace(/_blocks$/, "_scales") };
    if (mx[1] === "down_proj") return [{ name: `${blk}.ffn_down_exps.weight`, shape: [e, rows, groups * 32], parts: [], keepF32: false, mxfp4 }];
    return (["gate", "up"] as const).map((kind, start) => ({ name: `${blk}.ffn_${kind}_exps.weight`, shape: [e, rows / 2, groups * 32], parts: [], keepF32: false, mxfp4: { ...mxfp4, alternate: start as 0 | 1 } }));
  }
  throw new Error(`checkpoint '${ckpt.name}': no GGUF name for tensor '${key}' (gpt-oss)`);
}
