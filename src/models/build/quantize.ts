/**
 * Quantize at load: which block format each weight matrix of a float checkpoint gets for a load dtype, and
 * the host quantization of one tensor (read, quantized, the float copy dropped: tensor by tensor).
 *
 * The mixes follow llama.cpp's llama-quant.cpp (llama_tensor_get_type) for the formats moekit has:
 * - embeddings, routers, norms, biases and every 1-d tensor stay float;
 * - a single-format dtype (q8_0, q4_0, q5_0, q4_k, q6_k, fp8_e4m3_b128) puts every other matrix in it, except
 *   the (untied) lm head, which llama.cpp keeps in q6_k (q8_0 for q8_0 and when its rows are not whole
 *   256-blocks); fp8 keeps the lm head float, as the published FP8 checkpoints do;
 * - mxfp4 (llama.cpp's MXFP4_MOE): routed experts in mxfp4, the other matrices and the lm head in q8_0;
 * - q4_k_m: q4_k, with q6_k for attention v and every ffn down projection of the layers `useMoreBits` picks
 *   (q8_0 for attention k / v in 8-expert models, where llama.cpp also gives attention output q5_k: q6_k here);
 * - a row (in-features) that is not whole blocks falls back as llama.cpp does: q4_k → q5_0, q6_k → q8_0; when
 *   even 32 does not divide it, the matrix stays float.
 */
import { alignedBytes } from "../../formats/aligned.js";
import { quantizeRows, type QuantFormat } from "../../formats/quant/index.js";
import { weightRows } from "../../formats/rows.js";
import { strideOf, type SegmentedStorage } from "../../formats/segments.js";
import { formatInfo, rowBytes } from "../../formats/table.js";
import { mappedRange } from "../../loading/mapped-views.js";
import { shapeString, Tensor } from "../../tensor.js";

/** The dtypes a float checkpoint can be quantized to at load (the block formats, and llama.cpp's q4_k_m mix). */
export const QUANT_DTYPES = ["q8_0", "q4_0", "q5_0", "q4_k", "q6_k", "mxfp4", "fp8_e4m3_b128", "q4_k_m"] as const;
export type QuantDType = (typeof QUANT_DTYPES)[number];

export function isQuantDType(name: unknown): name is QuantDType {
  return typeof name === "string" && (QUANT_DTYPES as readonly string[]).includes(name);
}

/** What a matrix is in the model, as llama.cpp's tensor categories name it. */
export type MatrixRole = "output" | "attn_q" | "attn_k" | "attn_v" | "attn_output" | "ffn_gate_up" | "ffn_down" | "exps_gate_up" | "exps_down" | "other";

/** The role of an attention or lm-head matrix from its checkpoint key. */
export function roleOfKey(key: string): MatrixRole {
  if (key === "lm_head.weight") return "output";
  if (/\.v_proj\.weight$/.test(key)) return "attn_v";
  if (/\.k_proj\.weight$/.test(key)) return "attn_k";
  if (/\.o_proj\.weight$/.test(key)) return "attn_output";
  if (/\.q_proj\.weight$/.test(key)) return "attn_q";
  return "other";
}

/** llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between. */
export function useMoreBits(layer: number, layers: number): boolean {
  const e = Math.floor(layers / 8);
  return layer < e || layer >= Math.floor((7 * layers) / 8) || (layer - e) % 3 === 2;
}

export interface QuantModelInfo {
  numLayers: number;
  /** Routed experts per sparse layer (0 for a dense model). */
  numExperts: number;
}

const FALLBACK: Partial<Record<QuantFormat, QuantFormat>> = { q4_k: "q5_0", q6_k: "q8_0" };

/** `want`, or its fallback when rows of `cols` values are not whole blocks of it; undefined: stay float. */
export function fitRow(want: QuantFormat, cols: number): QuantFormat | undefined {
  if (cols % formatInfo(want).blockElems === 0) return want;
  const fb = FALLBACK[want];
  return fb && cols % formatInfo(fb).blockElems === 0 ? fb : undefined;
}

/** The format of a matrix of `role` in layer `layer` (−1 outside the layers) whose rows hold `cols` values; undefined: keep it float. */
export function formatFor(dtype: QuantDType, role: MatrixRole, layer: number, cols: number, m: QuantModelInfo): QuantFormat | undefined {
  if (role === "output") {
    if (dtype === "fp8_e4m3_b128") return undefined;
    if (dtype === "q8_0" || dtype === "mxfp4") return fitRow("q8_0", cols);
    return cols % 256 === 0 ? "q6_k" : fitRow("q8_0", cols);
  }
  if (dtype === "mxfp4") return fitRow(role === "exps_gate_up" || role === "exps_down" ? "mxfp4" : "q8_0", cols);
  if (dtype !== "q4_k_m") return fitRow(dtype, cols);
  const eight = m.numExperts === 8;
  let want: QuantFormat = "q4_k";
  if (role === "attn_v") want = eight ? "q8_0" : useMoreBits(layer, m.numLayers) ? "q6_k" : "q4_k";
  else if (role === "attn_k" && eight) want = "q8_0";
  else if (role === "attn_output" && eight) want = "q6_k";
  else if ((role === "ffn_down" || role === "exps_down") && layer >= 0 && useMoreBits(layer, m.numLayers)) want = "q6_k";
  return fitRow(want, cols);
}

/** The layer index in a checkpoint key (`model.layers.N.…`), −1 when there is none. */
export function layerOfKey(key: string): number {
  const m = /(?:^|\.)layers\.(\d+)\./.exec(key);
  return m ? Number(m[1]) : -1;
}

/**
 * A host float tensor [..., cols] quantized into `format` row by row (leading dims flattened). `what` names the
 * tensor in errors (a non-finite value, a row that is not whole blocks).
 */
export function quantizeTensor(t: Tensor, format: QuantFormat, what: string): Tensor {
  if (!t.isHost) throw new Error(`quantize ${what}: the tensor is not in host memory`);
  if (t.dtype === "int32" || formatInfo(t.dtype).kind === "block") throw new Error(`quantize ${what}: ${t.dtype} is not a float element format`);
  if (t.rank < 2) throw new Error(`quantize ${what}: only matrices are quantized, got shape ${shapeString(t.shape)}`);
  const cols = t.shape[t.rank - 1]!;
  const rows = t.size / Math.max(1, cols);
  let out: Uint8Array;
  try {
    out = quantizeInParts(t, rows, cols, format);
  } catch (e) {
    throw new Error(`quantize ${what} ${shapeString(t.shape)} to ${format}: ${(e as Error).message}`);
  }
  dropMappedPages(t);
  return new Tensor([...t.shape], format, out);
}

/**
 * Rows quantized in parts of ~32 MiB of float32, so the widened copy of a large stack never exists whole (fp8's
 * 128×128 scale blocks span rows: it goes whole).
 */
export function quantizeInParts(t: Tensor, rows: number, cols: number, format: QuantFormat, partRows = Math.floor((32 << 20) / (4 * Math.max(1, cols)))): Uint8Array {
  const part = format === "fp8_e4m3_b128" ? rows : Math.max(1, partRows);
  if (part >= rows) return quantizeRows(weightRows(t, 0, rows), rows, cols, format);
  const first = quantizeRows(weightRows(t, 0, part), part, cols, format);
  const rb = first.length / part;
  const out = alignedBytes(rb * rows);
  out.set(first, 0);
  for (let r0 = part; r0 < rows; r0 += part) {
    const n = Math.min(part, rows - r0);
    out.set(quantizeRows(weightRows(t, r0, n), n, cols, format, { firstRow: r0 }), r0 * rb);
  }
  return out;
}

/**
 * The float source's pages leave this process once it is quantized (clean file pages: the page cache keeps them,
 * a later read faults them back), so quantizing a mapped checkpoint does not leave the whole float model resident
 * beside the quantized one.
 */
function dropMappedPages(t: Tensor): void {
  const cols = t.shape[t.rank - 1]!;
  const rb = rowBytes(t.dtype, cols);
  const ranges = t.isView
    ? (t.storage as SegmentedStorage).segments.map((g) => ({ data: g.data, at: g.byteOffset, length: g.rows * strideOf(g, rb) }))
    : [{ data: t.storage as ArrayBufferView, at: 0, length: (t.storage as ArrayBufferView).byteLength }];
  for (const { data, at, length } of ranges) {
    const r = mappedRange(data, at, length);
    if (r) r.file.advise(r.offset, r.length, "dontneed");
  }
}
