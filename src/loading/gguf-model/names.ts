/**
 * GGUF tensor names (gguf-py's MODEL_TENSOR names: token_embd, blk.N.attn_q, blk.N.ffn_gate_exps, ...)
 * → the Hugging Face names the family loaders read. A stacked expert tensor becomes one name per
 * expert (slices of the stack); tensors this map does not know keep their GGUF name, so the loader's
 * unused-tensor warning names them.
 */
import type { Config, TensorProvider } from "../checkpoint.js";
import type { GgufFile } from "../gguf/reader.js";
import type { GgufArchitecture, HfNames } from "./architectures.js";
import { expertSlice, gateUpView, GgufBytes, joinedRows, kvBFromSplit, plain, unpermuted } from "./tensors.js";

export const GLOBAL: Readonly<Record<string, string>> = {
  "token_embd.weight": "model.embed_tokens.weight",
  "output_norm.weight": "model.norm.weight",
  "output_norm.bias": "model.norm.bias",
  "output.weight": "lm_head.weight",
  "output.bias": "lm_head.bias",
};

/** Per-layer names that do not depend on the family (blk.N.<key> → model.layers.N.<value>). */
export const LAYER: Readonly<Record<string, string>> = {
  "attn_norm.weight": "input_layernorm.weight",
  "attn_norm.bias": "input_layernorm.bias",
  "ffn_norm.weight": "post_attention_layernorm.weight",
  "ffn_norm.bias": "post_attention_layernorm.bias",
  "attn_q.bias": "self_attn.q_proj.bias",
  "attn_k.bias": "self_attn.k_proj.bias",
  "attn_v.weight": "self_attn.v_proj.weight",
  "attn_v.bias": "self_attn.v_proj.bias",
  "attn_output.weight": "self_attn.o_proj.weight",
  "attn_output.bias": "self_attn.o_proj.bias",
  "ffn_gate.weight": "mlp.gate_proj.weight",
  "ffn_up.weight": "mlp.up_proj.weight",
  "ffn_down.weight": "mlp.down_proj.weight",
};

const KINDS = ["gate", "up", "down"] as const;

export function hfTensors(file: GgufFile, spec: GgufArchitecture, config: Config): Map<string, TensorProvider> {
  const src = new GgufBytes(file);
  const names = spec.names(config);
  const out = new Map<string, TensorProvider>();
  const add = (hf: string, p: TensorProvider) => {
    if (out.has(hf)) throw new Error(`${file.source.name}: two GGUF tensors map to '${hf}'`);
    out.set(hf, p);
  };
  const heads = config.num_attention_heads as number;
  const kvHeads = config.num_key_value_heads as number;
  for (const gguf of file.tensors.keys()) {
    const global = GLOBAL[gguf];
    if (global) {
      add(global, plain(src, gguf, global));
      continue;
    }
    const m = /^blk\.(\d+)\.(.+)$/.exec(gguf);
    if (!m) {
      add(gguf, plain(src, gguf, gguf));
      continue;
    }
    const layer = `model.layers.${m[1]}`;
    const key = m[2]!;
    const mapped = layerTensor(src, gguf, layer, key, names, spec, heads, kvHeads);
    if (mapped === null) add(gguf, plain(src, gguf, gguf));
    else for (const [hf, p] of mapped) add(hf, p);
  }
  return out;
}

type Mapped = [string, TensorProvider][] | null;

function layerTensor(src: GgufBytes, gguf: string, layer: string, key: string, n: HfNames, spec: GgufArchitecture, heads: number, kvHeads: number): Mapped {
  const fixed = n.layer?.[key] ?? LAYER[key];
  if (fixed) return [[`${layer}.${fixed}`, plain(src, gguf, `${layer}.${fixed}`)]];
  const block = `${layer}.${n.block}`;
  const one = (hf: string): Mapped => [[hf, plain(src, gguf, hf)]];
  switch (key) {
    case "attn_q.weight":
    case "attn_k.weight": {
      const hf = `${layer}.self_attn.${key[5]}_proj.weight`;
      return [[hf, spec.permutedQk ? unpermuted(src, gguf, hf, key[5] === "q" ? heads : kvHeads) : plain(src, gguf, hf)]];
    }
    case "attn_q_norm.weight":
      return n.qNorm ? one(`${layer}.self_attn.${n.qNorm}.weight`) : null;
    case "attn_k_norm.weight":
      return n.kNorm ? one(`${layer}.self_attn.${n.kNorm}.weight`) : null;
    case "ffn_gate_inp.weight":
      return one(`${block}.${n.router}`);
    case "ffn_gate_inp.bias":
      return n.routerBias ? one(`${block}.${n.routerBias}`) : null;
    case "ffn_gate_inp_shexp.weight":
      return n.sharedGate ? one(`${block}.${n.sharedGate}`) : null;
    case "exp_probs_b.bias":
      return n.correctionBias ? one(`${block}.${n.correctionBias}`) : null;
    case "attn_k_b.weight": {
      // DeepSeek MLA: llama.cpp's converter splits kv_b_proj into attn_k_b and attn_v_b
      const hf = `${layer}.self_attn.kv_b_proj.weight`;
      return [[hf, kvBFromSplit(src, gguf, gguf.replace("attn_k_b", "attn_v_b"), hf)]];
    }
    case "attn_v_b.weight":
      return src.file.tensors.has(gguf.replace("attn_v_b", "attn_k_b")) ? [] : null;
  }
  const exps = /^ffn_(gate|up|down)_exps\.(weight|bias)$/.exec(key);
  if (exps?.[2] === "weight") return expertTensors(src, gguf, block, exps[1] as (typeof KINDS)[number], n);
  if (exps && n.stacks) return expertBiases(src, gguf, block, exps[1] as (typeof KINDS)[number], n.stacks);
  const shexp = /^ffn_(gate|up|down)_shexp\.weight$/.exec(key);
  if (shexp && n.shared) {
    const base = `${n.sharedBesideBlock ? layer : block}.${n.shared}`;
    if (n.experts === null) {
      // granite: shared_mlp.input_linear = gate|up, output_linear = down
      if (shexp[1] === "gate") return [[`${base}.input_linear.weight`, gateUpView(src, gguf, gguf.replace("ffn_gate_shexp", "ffn_up_shexp"), `${base}.input_linear.weight`)]];
      if (shexp[1] === "up") return [];
      return one(`${base}.output_linear.weight`);
    }
    return one(`${base}.${shexp[1]}_proj.weight`);
  }
  return null;
}

function expertTensors(src: GgufBytes, gguf: string, block: string, kind: (typeof KINDS)[number], n: HfNames): Mapped {
  const info = src.info(gguf);
  if (info.shape.length !== 3) throw new Error(`${src.file.source.name}: '${gguf}' has ${info.shape.length} dimensions, a stack of experts has 3`);
  if (n.experts === null) {
    // stacked experts: gate|up [E, 2I, H] (gate rows then up rows per expert, a view), down [E, H, I]
    const stacks = n.stacks ?? GRANITE_STACKS;
    const gateUp = `${block}.${stacks.gateUp}.weight`;
    if (kind === "gate") return [[gateUp, gateUpView(src, gguf, gguf.replace("ffn_gate_exps", "ffn_up_exps"), gateUp)]];
    if (kind === "up") return [];
    return [[`${block}.${stacks.down}.weight`, plain(src, gguf, `${block}.${stacks.down}.weight`)]];
  }
  const proj = n.experts[KINDS.indexOf(kind)]!;
  const out: [string, TensorProvider][] = [];
  for (let x = 0; x < info.shape[0]!; x++) {
    const hf = `${block}.experts.${x}.${proj}.weight`;
    out.push([hf, expertSlice(src, gguf, hf, x)]);
  }
  return out;
}

/** granite's stacks: input_linear [E, 2I, H] (gate|up per expert), output_linear [E, H, I] */
const GRANITE_STACKS = { gateUp: "input_linear", down: "output_linear" } as const;

/** Stacked experts' biases: gate and up [E, I] joined per expert into the gate|up bias [E, 2I], down [E, H] as stored. */
function expertBiases(src: GgufBytes, gguf: string, block: string, kind: (typeof KINDS)[number], stacks: NonNullable<HfNames["stacks"]>): Mapped {
  if (kind === "up") return src.file.tensors.has(gguf.replace("ffn_up_exps", "ffn_gate_exps")) ? [] : null;
  if (kind === "down") return [[`${block}.${stacks.down}.bias`, plain(src, gguf, `${block}.${stacks.down}.bias`)]];
  const hf = `${block}.${stacks.gateUp}.bias`;
  return [[hf, joinedRows(src, gguf, gguf.replace("ffn_gate_exps", "ffn_up_exps"), hf)]];
}
