/**
 * `moekit convert`: a Hugging Face checkpoint written as a GGUF file llama.cpp loads (Node only). The
 * metadata is the architecture's (to-metadata.ts), the tensors are planned by to-tensors.ts and each is
 * read, transformed and encoded only when the writer reaches it, so memory holds one tensor (one expert
 * stack) at a time. Matrices take the output type; vectors, routers and matrices whose rows are not
 * whole blocks stay float32, as convert_hf_to_gguf.py keeps them.
 *
 * The tokenizer comes from tokenizer-metadata.ts when the caller passes it; without one (no
 * tokenizer.json, or --no-tokenizer) the file carries a placeholder byte-level vocabulary of vocab_size
 * ids (256 byte symbols, placeholders, the last id as eos) so that llama.cpp loads it and runs it on
 * token ids.
 */
import { narrowFromF32 } from "../../dtype.js";
import { mxfp4FromGptOss, quantizeRows, type QuantFormat } from "../../formats/quant/index.js";
import { formatFor as quantFormatFor, isQuantDType, type MatrixRole, type QuantModelInfo } from "../../models/build/quantize.js";
import type { Checkpoint, Config } from "../checkpoint.js";
import type { GgufMetadata, GgufValue } from "../gguf/values.js";
import type { GgufLayout, GgufTensorSpec } from "../gguf/writer.js";
import { byteLevelChars } from "../../text/gguf/unicode.js";
import { archMetadata, ARCH_OF_MODEL_TYPE } from "./to-metadata.js";
import { planGgufTensors, type PlannedTensor } from "./to-tensors.js";

/** Output types of `moekit convert --dtype` (llama.cpp's names) → moekit formats, or the quantization mix. */
export const CONVERT_TYPES = {
  f32: "float32",
  f16: "float16",
  bf16: "bfloat16",
  q8_0: "q8_0",
  q4_0: "q4_0",
  q5_0: "q5_0",
  q4_k: "q4_k",
  q6_k: "q6_k",
  mxfp4: "mxfp4",
  q4_k_m: "q4_k_m",
} as const;
export type ConvertType = keyof typeof CONVERT_TYPES;

const str = (value: string): GgufValue => ({ type: "string", value });
const u32 = (value: number): GgufValue => ({ type: "uint32", value });

/** The placeholder vocabulary described above. */
function placeholderVocab(vocab: number): [string, GgufValue][] {
  if (vocab <= 257) throw new Error(`config.json: vocab_size ${vocab}: the placeholder vocabulary needs more than 257 ids`);
  const tokens = [...byteLevelChars(), "ĠĠ"];
  for (let i = tokens.length; i < vocab; i++) tokens.push(`[PAD${i}]`);
  tokens[vocab - 1] = "<|endoftext|>";
  const types = new Int32Array(vocab).fill(1);
  types[vocab - 1] = 3;
  return [
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.pre", str("qwen2")],
    ["tokenizer.ggml.tokens", { type: "array", value: { type: "string", values: tokens } }],
    ["tokenizer.ggml.token_type", { type: "array", value: { type: "int32", values: types } }],
    ["tokenizer.ggml.merges", { type: "array", value: { type: "string", values: ["Ġ Ġ"] } }],
    ["tokenizer.ggml.eos_token_id", u32(vocab - 1)],
    ["tokenizer.ggml.bos_token_id", u32(vocab - 1)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: false }],
  ];
}

/** `tokenizer` — the tokenizer.ggml.* entries of tokenizerMetadata(); absent: the placeholder vocabulary. */
export function ggufMetadataOf(config: Config, name: string, tokenizer?: readonly [string, GgufValue][]): GgufMetadata {
  const modelType = config.model_type as string;
  const arch = ARCH_OF_MODEL_TYPE[modelType];
  if (!arch) throw new Error(`config.json: model_type '${modelType}' cannot be converted to GGUF yet (convertible: ${Object.keys(ARCH_OF_MODEL_TYPE).join(", ")})`);
  const m: GgufMetadata = new Map<string, GgufValue>([
    ["general.architecture", str(arch)],
    ["general.name", str(name)],
  ]);
  for (const [k, v] of archMetadata(config, arch)) m.set(`${arch}.${k}`, v);
  for (const [k, v] of tokenizer ?? placeholderVocab(config.vocab_size as number)) m.set(k, v);
  return m;
}

/** llama.cpp's tensor category of a GGUF matrix, as the quantization mixes name them. */
function roleOfGgufName(name: string): MatrixRole {
  if (name === "output.weight") return "output";
  const m = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_(?:gate|up|down)(?:_exps|_shexp)?)\.weight$/.exec(name);
  if (!m) return "other";
  const t = m[1]!;
  if (t.startsWith("attn_")) return t as MatrixRole;
  const down = t.startsWith("ffn_down");
  return t.endsWith("_exps") ? (down ? "exps_down" : "exps_gate_up") : down ? "ffn_down" : "ffn_gate_up";
}

/**
 * The format of one planned tensor: vectors and routers float32; in a float output type every matrix in it;
 * in a quantized one the format moekit's quantize-at-load gives the same matrix (src/models/build/quantize.ts:
 * llama.cpp's mixes and row fallbacks), except the token embeddings, which stay f16 as moekit keeps them
 * float; float32 where no block format fits the rows. A published MXFP4 stack (gpt-oss) stays MXFP4.
 */
function formatFor(t: PlannedTensor, type: ConvertType, model: QuantModelInfo): string {
  if (t.mxfp4) return "mxfp4";
  const want = CONVERT_TYPES[type];
  if (t.keepF32 || t.shape.length < 2) return "float32";
  if (!isQuantDType(want)) return want;
  if (t.name === "token_embd.weight") return "float16";
  const layer = /^blk\.(\d+)\./.exec(t.name);
  return quantFormatFor(want, roleOfGgufName(t.name), layer ? Number(layer[1]) : -1, t.shape[t.shape.length - 1]!, model) ?? "float32";
}

/** convert_hf_to_gguf's permutation: each head's rotary halves (i, i + d/2) become rows 2i, 2i + 1. */
function permuteRows(v: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const d = rows / heads;
  if (!Number.isInteger(d) || d % 2 !== 0) throw new Error(`q/k of ${rows} rows is not ${heads} heads of an even size`);
  const out = new Float32Array(v.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < d / 2; j++) {
      for (let s = 0; s < 2; s++) out.set(v.subarray((h * d + s * (d / 2) + j) * cols, (h * d + s * (d / 2) + j + 1) * cols), (h * d + 2 * j + s) * cols);
    }
  }
  return out;
}

/** The first or second half of the rows of every [2R, C] slice of v. */
function halfRows(v: Float32Array, shape: readonly number[], half: 0 | 1): Float32Array {
  const cols = shape[shape.length - 1]!;
  const rows = shape[shape.length - 2]!; // the half's rows
  const slices = v.length / (2 * rows * cols);
  const out = new Float32Array(slices * rows * cols);
  for (let s = 0; s < slices; s++) out.set(v.subarray((2 * s + half) * rows * cols, (2 * s + half + 1) * rows * cols), s * rows * cols);
  return out;
}

/** One half of DeepSeek's kv_b [heads·(nope + v), rank]: k_b [heads, rank, nope] (transposed) or v_b [heads, v, rank]. */
function kvBHalf(kvB: Float32Array, p: NonNullable<PlannedTensor["kvBHalf"]>): Float32Array {
  const rank = kvB.length / (p.heads * (p.nope + p.v));
  const rows = p.half === "k" ? p.nope : p.v;
  const out = new Float32Array(p.heads * rows * rank);
  for (let h = 0; h < p.heads; h++) {
    const base = h * (p.nope + p.v) * rank;
    if (p.half === "v") out.set(kvB.subarray(base + p.nope * rank, base + (p.nope + p.v) * rank), h * p.v * rank);
    else for (let j = 0; j < p.nope; j++) for (let r = 0; r < rank; r++) out[(h * rank + r) * p.nope + j] = kvB[base + j * rank + r]!;
  }
  return out;
}

/** [..., A, B] → [..., B, A] of a tensor of `shape`. */
function transposeLast2(v: Float32Array, shape: readonly number[]): Float32Array {
  const [a, b] = [shape[shape.length - 2]!, shape[shape.length - 1]!];
  const out = new Float32Array(v.length);
  for (let base = 0; base < v.length; base += a * b) {
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[base + j * a + i] = v[base + i * b + j]!;
  }
  return out;
}

/** Rows start, start + 2, … of `v` read as rows `width` values wide. */
function alternateRows(v: Float32Array, start: 0 | 1, width: number): Float32Array {
  const rows = v.length / width / 2;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(v.subarray((2 * r + start) * width, (2 * r + start + 1) * width), r * width);
  return out;
}

async function values(ckpt: Checkpoint, t: PlannedTensor): Promise<Float32Array> {
  const n = t.shape.reduce((a, d) => a * d, 1);
  if (t.zeros) return new Float32Array(n);
  const parts: Float32Array[] = [];
  for (const key of t.parts) parts.push((await (await ckpt.tensor(key)).data()) as Float32Array);
  let v = parts.length === 1 ? parts[0]! : new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  if (parts.length > 1) parts.reduce((at, p) => (v.set(p, at), at + p.length), 0);
  if (t.transpose) v = transposeLast2(v, ckpt.info(t.parts[0]!).shape);
  if (t.alternate) v = alternateRows(v, t.alternate.start, t.alternate.width);
  if (t.half !== undefined) v = halfRows(v, t.shape, t.half);
  if (t.permuteHeads !== undefined) v = permuteRows(v, t.shape[0]!, t.shape[1]!, t.permuteHeads);
  if (t.kvBHalf) v = kvBHalf(v, t.kvBHalf);
  if (v.length !== n) throw new Error(`internal: ${t.name} has ${v.length} values for [${t.shape.join(", ")}]`);
  return v;
}

/** A published gpt-oss MXFP4 stack in ggml's block layout (every other row where the plan alternates). */
async function mxfp4Bytes(ckpt: Checkpoint, m: NonNullable<PlannedTensor["mxfp4"]>): Promise<Uint8Array> {
  const blocks = await ckpt.bytes(m.blocks, { expect: "u8-blocks" });
  const scales = await ckpt.bytes(m.scales, { expect: "e8m0-scales" });
  const [e, rows, groups] = blocks.shape as [number, number, number];
  const all = mxfp4FromGptOss(blocks.bytes, scales.bytes, e * rows, groups * 32, `'${m.blocks}'`);
  if (m.alternate === undefined) return all;
  const rb = groups * 17;
  const out = new Uint8Array(all.length / 2);
  for (let r = 0; r < (e * rows) / 2; r++) out.set(all.subarray((2 * r + m.alternate) * rb, (2 * r + m.alternate + 1) * rb), r * rb);
  return out;
}

function encode(v: Float32Array, spec: GgufTensorSpec): Uint8Array {
  const cols = spec.shape[spec.shape.length - 1]!;
  if (spec.format === "float32") return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (spec.format !== "float16" && spec.format !== "bfloat16") return quantizeRows(v, v.length / cols, cols, spec.format as QuantFormat);
  const s = narrowFromF32(v, spec.format);
  return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
}

export interface ConvertResult {
  layout: GgufLayout;
  arch: string;
  tensors: { name: string; shape: number[]; format: string }[];
}

/**
 * Writes `ckpt` (opened from a Hugging Face directory) to `path` as a GGUF file of output type `type`,
 * with `tokenizer`'s vocabulary (tokenizerMetadata()) or the placeholder one.
 */
export async function convertToGguf(ckpt: Checkpoint, path: string, type: ConvertType, name = ckpt.name, tokenizer?: readonly [string, GgufValue][]): Promise<ConvertResult> {
  if (!Object.prototype.hasOwnProperty.call(CONVERT_TYPES, type)) throw new Error(`--dtype must be one of ${Object.keys(CONVERT_TYPES).join(", ")}, got '${type}'`);
  const metadata = ggufMetadataOf(ckpt.config, name, tokenizer);
  const arch = (metadata.get("general.architecture") as { value: string }).value;
  const plan = planGgufTensors(ckpt, arch, ckpt.config);
  const model = { numLayers: Number(ckpt.config.num_hidden_layers), numExperts: Math.max(0, ...plan.filter((t) => t.name.endsWith("_exps.weight")).map((t) => t.shape[0]!)) };
  const specs: GgufTensorSpec[] = plan.map((t) => ({ name: t.name, shape: t.shape, format: formatFor(t, type, model) }));
  const { writeGgufFile } = await import("../gguf/file-writer.js");
  const layout = await writeGgufFile(path, metadata, specs, async (spec, i) => {
    const t = plan[i]!;
    return t.mxfp4 ? mxfp4Bytes(ckpt, t.mxfp4) : encode(await values(ckpt, t), spec);
  });
  return { layout, arch, tensors: specs.map((s) => ({ name: s.name, shape: [...s.shape], format: s.format })) };
}
