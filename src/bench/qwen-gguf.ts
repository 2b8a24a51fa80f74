/**
 * The synthetic Qwen1.5-MoE-A2.7B (qwen-synthetic.ts: the same seeded weights, the same dims) as a GGUF
 * that llama.cpp loads, so its peer times exactly moekit's weights. Names and metadata keys are gguf-py's
 * for `qwen2moe` (constants.py; convert_hf_to_gguf.py's Qwen2MoeModel): experts stacked per layer into
 * `blk.N.ffn_{gate,up,down}_exps` ([E, I, H] and [E, H, I] in row-major order), 1-D tensors, biases and the
 * two routers (`ffn_gate_inp`, `ffn_gate_inp_shexp`) in F32 as the converter keeps them (widening bf16 is
 * exact), every other matrix in the checkpoint's dtype (bf16 by default).
 *
 * A quantized dtype (q8_0, q4_0, q4_k_m, mxfp4, ...) gives each matrix the block format moekit's own
 * quantize-at-load gives it (src/models/build/quantize.ts `formatFor`, llama.cpp's mixes), quantized by
 * moekit's quantizer from the bf16 synthetic weights; the embeddings stay bf16 as moekit keeps them. So
 * `fromPretrained(synthetic, { dtype })` and llama.cpp on this file run the same bytes.
 *
 * The tokenizer metadata is minimal but loadable: a byte-level BPE ("gpt2", pre "qwen2") whose first 256
 * tokens are the 256 byte symbols, no merges, `<|endoftext|>` as bos/eos at Qwen's id 151643 (the last id
 * of a smaller test vocabulary), and unique
 * placeholders for the rest of the 151936 ids (the model is random; only the ids matter to a benchmark).
 */
import { widenToF32, type DType } from "../dtype.js";
import { quantizeRows, type QuantFormat } from "../formats/quant/index.js";
import { isBlockFormat, isDType } from "../formats/table.js";
import type { Config } from "../loading/checkpoint.js";
import type { GgufTensorSpec } from "../loading/gguf/writer.js";
import type { GgufMetadata, GgufValue } from "../loading/gguf/values.js";
import { formatFor, isQuantDType, type MatrixRole, type QuantDType } from "../models/build/quantize.js";
import { intField } from "../models/config/fields.js";
import { byteLevelChars } from "../text/gguf/unicode.js";
import { numel } from "../tensor.js";
import { qwen15MoeConfig, QWEN15_MOE_NAME } from "./qwen-dims.js";
import { qwen2MoeTensors } from "./qwen-synthetic.js";
import { SyntheticProvider } from "./synthetic.js";

const FORMAT: Record<string, string> = { float32: "float32", bfloat16: "bfloat16", float16: "float16" };
/** gguf-py LlamaFileType (MOSTLY_*) */
const FILE_TYPE: Record<string, number> = { float32: 0, float16: 1, bfloat16: 32, q4_0: 2, q8_0: 7, q5_0: 8, q4_k: 14, q6_k: 18, q4_k_m: 15, mxfp4: 38 };

/** The weights dtypes of a synthetic GGUF: a float one, or a quantized one made from the bf16 weights. */
export type GgufWeightDType = "float32" | "bfloat16" | "float16" | Exclude<QuantDType, "fp8_e4m3_b128">;

export const GGUF_DTYPES: readonly GgufWeightDType[] = ["float32", "bfloat16", "float16", "q8_0", "q4_0", "q5_0", "q4_k", "q6_k", "q4_k_m", "mxfp4"];

/** The float dtype the synthetic weights are generated in for `dtype` (bf16 under a quantized one). */
export function baseDtypeOf(dtype: GgufWeightDType): DType {
  return isQuantDType(dtype) ? "bfloat16" : dtype;
}
/** Qwen's <|endoftext|> id; smaller vocabularies (test models) put it last. */
const QWEN_EOS_ID = 151643;

/** One GGUF tensor: its name, shape and format, and the HF tensors it is made of (stacked when several). */
export interface GgufTensorSource extends GgufTensorSpec {
  parts: string[];
}

export interface QwenGgufPlan {
  config: Config;
  metadata: GgufMetadata;
  tensors: GgufTensorSource[];
}

const u32 = (value: number): GgufValue => ({ type: "uint32", value });
const f32 = (value: number): GgufValue => ({ type: "float32", value });
const str = (value: string): GgufValue => ({ type: "string", value });

/** The minimal byte-level vocabulary described above, as tokenizer.* metadata. */
export function byteLevelVocab(vocabSize: number): [string, GgufValue][] {
  if (vocabSize <= 256) throw new Error(`the synthetic vocabulary needs more than 256 ids, got ${vocabSize}`);
  const EOS_ID = Math.min(QWEN_EOS_ID, vocabSize - 1);
  const tokens = byteLevelChars().slice();
  const types = new Int32Array(vocabSize).fill(1);
  for (let i = 256; i < vocabSize; i++) tokens.push(i === EOS_ID ? "<|endoftext|>" : `[PAD${i}]`);
  types[EOS_ID] = 3;
  return [
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.pre", str("qwen2")],
    ["tokenizer.ggml.tokens", { type: "array", value: { type: "string", values: tokens } }],
    ["tokenizer.ggml.token_type", { type: "array", value: { type: "int32", values: types } }],
    ["tokenizer.ggml.merges", { type: "array", value: { type: "string", values: [] } }],
    ["tokenizer.ggml.eos_token_id", u32(EOS_ID)],
    ["tokenizer.ggml.bos_token_id", u32(EOS_ID)],
    ["tokenizer.ggml.padding_token_id", u32(EOS_ID)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: false }],
  ];
}

/** The GGUF metadata and tensor list of a qwen2_moe config (HF names → gguf-py names). */
export function qwen2MoeGgufPlan(cfg: Config, dtype: GgufWeightDType, name = QWEN15_MOE_NAME): QwenGgufPlan {
  if (FILE_TYPE[dtype] === undefined) throw new Error(`the synthetic GGUF is written in float32, bfloat16, float16 or ${Object.keys(FILE_TYPE).filter((k) => isQuantDType(k)).join(", ")}, not ${dtype}`);
  const wide = FORMAT[baseDtypeOf(dtype)]!;
  const h = intField(cfg, ["hidden_size"]);
  const layers = intField(cfg, ["num_hidden_layers"]);
  const experts = intField(cfg, ["num_experts"]);
  const rope = (cfg.rope_parameters as { rope_theta?: number } | undefined)?.rope_theta ?? (cfg.rope_theta as number | undefined) ?? 1e6;
  const arch = "qwen2moe";
  const metadata: GgufMetadata = new Map<string, GgufValue>([
    ["general.architecture", str(arch)],
    ["general.name", str(name)],
    [`${arch}.block_count`, u32(layers)],
    [`${arch}.context_length`, u32(intField(cfg, ["max_position_embeddings"]))],
    [`${arch}.embedding_length`, u32(h)],
    [`${arch}.feed_forward_length`, u32(intField(cfg, ["intermediate_size"]))],
    [`${arch}.attention.head_count`, u32(intField(cfg, ["num_attention_heads"]))],
    [`${arch}.attention.head_count_kv`, u32(intField(cfg, ["num_key_value_heads"]))],
    [`${arch}.rope.freq_base`, f32(rope)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(cfg.rms_norm_eps as number)],
    [`${arch}.expert_count`, u32(experts)],
    [`${arch}.expert_used_count`, u32(intField(cfg, ["num_experts_per_tok"]))],
    [`${arch}.expert_feed_forward_length`, u32(intField(cfg, ["moe_intermediate_size"]))],
    [`${arch}.expert_shared_feed_forward_length`, u32(intField(cfg, ["shared_expert_intermediate_size"]))],
    ["general.file_type", u32(FILE_TYPE[dtype]!)],
    ...byteLevelVocab(intField(cfg, ["vocab_size"])),
  ]);

  const hf = new Map(qwen2MoeTensors(cfg).map((t) => [t.name, t.shape]));
  const tensors: GgufTensorSource[] = [];
  const info = { numLayers: layers, numExperts: experts };
  /** A matrix's format: the float one, or the block format moekit's quantize-at-load picks for its role. */
  const matFormat = (role: MatrixRole, layer: number, cols: number) => (isQuantDType(dtype) ? (formatFor(dtype, role, layer, cols, info) ?? wide) : wide);
  const one = (gguf: string, from: string, format: string) => {
    const shape = hf.get(from);
    if (!shape) throw new Error(`synthetic qwen2_moe has no tensor '${from}'`);
    tensors.push({ name: gguf, shape, format, parts: [from] });
  };
  // 1-D tensors, biases and routers stay float32, as convert_hf_to_gguf.py keeps them.
  const mat = (gguf: string, from: string, role: MatrixRole, layer: number) => {
    const shape = hf.get(from) ?? [];
    one(gguf, from, shape.length <= 1 ? "float32" : matFormat(role, layer, shape[shape.length - 1]!));
  };
  one("token_embd.weight", "model.embed_tokens.weight", wide);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    const b = `blk.${l}`;
    one(`${b}.attn_norm.weight`, `${p}.input_layernorm.weight`, "float32");
    for (const x of ["q", "k", "v"] as const) {
      mat(`${b}.attn_${x}.weight`, `${p}.self_attn.${x}_proj.weight`, `attn_${x}`, l);
      one(`${b}.attn_${x}.bias`, `${p}.self_attn.${x}_proj.bias`, "float32");
    }
    mat(`${b}.attn_output.weight`, `${p}.self_attn.o_proj.weight`, "attn_output", l);
    one(`${b}.ffn_norm.weight`, `${p}.post_attention_layernorm.weight`, "float32");
    one(`${b}.ffn_gate_inp.weight`, `${p}.mlp.gate.weight`, "float32");
    for (const [g, w] of [["gate", "gate_proj"], ["up", "up_proj"], ["down", "down_proj"]] as const) {
      const parts = Array.from({ length: experts }, (_, e) => `${p}.mlp.experts.${e}.${w}.weight`);
      const shape = hf.get(parts[0]!)!;
      const format = matFormat(g === "down" ? "exps_down" : "exps_gate_up", l, shape[shape.length - 1]!);
      tensors.push({ name: `${b}.ffn_${g}_exps.weight`, shape: [experts, ...shape], format, parts });
    }
    one(`${b}.ffn_gate_inp_shexp.weight`, `${p}.mlp.shared_expert_gate.weight`, "float32");
    mat(`${b}.ffn_gate_shexp.weight`, `${p}.mlp.shared_expert.gate_proj.weight`, "ffn_gate_up", l);
    mat(`${b}.ffn_up_shexp.weight`, `${p}.mlp.shared_expert.up_proj.weight`, "ffn_gate_up", l);
    mat(`${b}.ffn_down_shexp.weight`, `${p}.mlp.shared_expert.down_proj.weight`, "ffn_down", l);
  }
  one("output_norm.weight", "model.norm.weight", "float32");
  mat("output.weight", "lm_head.weight", "output", -1);
  return { config: cfg, metadata, tensors };
}

/** The bytes of one planned tensor: its HF tensors from the provider, stacked, in the planned format. */
export async function qwenGgufTensorBytes(provider: SyntheticProvider, t: GgufTensorSource): Promise<Uint8Array> {
  if (isDType(t.format) && isBlockFormat(t.format)) return quantizedParts(provider, t, t.format as QuantFormat);
  const parts = await Promise.all(t.parts.map((n) => provider.tensor(n)));
  const n = numel(t.shape);
  const stored = provider.dtype;
  if (stored === "float32" || t.format !== "float32") {
    const width = stored === "float32" ? 4 : 2;
    const out = new Uint8Array(n * width);
    let at = 0;
    for (const p of parts) {
      const s = p.storage as ArrayBufferView;
      out.set(new Uint8Array(s.buffer, s.byteOffset, s.byteLength), at);
      at += s.byteLength;
    }
    return out;
  }
  const bits = new Uint16Array(n);
  let at = 0;
  for (const p of parts) {
    bits.set(p.storage as Uint16Array, at);
    at += (p.storage as Uint16Array).length;
  }
  const wide = widenToF32(bits, stored);
  return new Uint8Array(wide.buffer, wide.byteOffset, wide.byteLength);
}

/** Each part quantized on its own (rows are independent, so this equals quantizing the stack), concatenated. */
async function quantizedParts(provider: SyntheticProvider, t: GgufTensorSource, format: QuantFormat): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (const name of t.parts) {
    const p = await provider.tensor(name);
    const cols = p.shape[p.shape.length - 1]!;
    const values = p.dtype === "float32" ? (p.storage as Float32Array) : widenToF32(p.storage as Uint16Array, p.dtype);
    chunks.push(quantizeRows(values, values.length / cols, cols, format));
  }
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writes the synthetic Qwen1.5-MoE-A2.7B (`layers` layers, `dtype`, `seed`) as a GGUF file (Node). */
export async function writeQwenSyntheticGguf(path: string, layers: number, dtype: GgufWeightDType = "bfloat16", seed = 0, cfg?: Config): Promise<QwenGgufPlan> {
  const base = baseDtypeOf(dtype);
  const config = cfg ?? { ...qwen15MoeConfig(layers), dtype: base };
  const plan = qwen2MoeGgufPlan(config, dtype);
  const provider = new SyntheticProvider(qwen2MoeTensors(config), base, seed);
  const { writeGgufFile } = await import("../loading/gguf/file-writer.js");
  await writeGgufFile(path, plan.metadata, plan.tensors, (t) => qwenGgufTensorBytes(provider, t as GgufTensorSource));
  return plan;
}
