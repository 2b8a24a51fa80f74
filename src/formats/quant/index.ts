/**
 * Host quantization of float32 rows into moekit's block formats, and its inverse (widening). The
 * checkpoint converters (gpt-oss MXFP4, block-scaled FP8) turn published quantized tensors into the
 * same formats without a float round trip.
 */
import { alignedBytes } from "../aligned.js";
import { formatInfo, isDType, type DType } from "../table.js";
import { widen } from "../widen.js";
import { checkFinite, type BlockQuantize } from "./common.js";
import { quantizeFp8 } from "./fp8.js";
import { quantizeQ4_0, quantizeQ5_0, quantizeQ8_0 } from "./legacy.js";
import { quantizeMxfp4 } from "./mxfp4.js";
import { nativeQuantizer } from "./native.js";
import { quantizeQ4_K } from "./q4_k.js";
import { quantizeQ6_K } from "./q6_k.js";

export { e4m3ToFloat, floatToE4m3, fp8FromCheckpoint } from "./fp8.js";
export { mxfp4FromGptOss } from "./mxfp4.js";

const QUANTIZE = {
  q8_0: quantizeQ8_0,
  q4_0: quantizeQ4_0,
  q5_0: quantizeQ5_0,
  q4_k: quantizeQ4_K,
  q6_k: quantizeQ6_K,
  mxfp4: quantizeMxfp4,
  fp8_e4m3_b128: quantizeFp8,
} as const satisfies Partial<Record<DType, BlockQuantize>>;

/** The block formats moekit can quantize float weights into. */
export type QuantFormat = keyof typeof QUANTIZE;

export const QUANT_FORMATS = Object.keys(QUANTIZE) as QuantFormat[];

export function isQuantFormat(name: unknown): name is QuantFormat {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(QUANTIZE, name);
}

function checkShape(length: number, rows: number, cols: number, format: string, what: string, unit: string): number {
  if (!isDType(format) || !isQuantFormat(format)) throw new Error(`${what}: ${JSON.stringify(format)} is not a block format; known are ${QUANT_FORMATS.join(", ")}`);
  if (!Number.isSafeInteger(rows) || rows < 0 || !Number.isSafeInteger(cols) || cols < 0) throw new Error(`${what}: rows ${rows} and cols ${cols} must be non-negative integers`);
  const f = formatInfo(format);
  if (cols % f.blockElems !== 0) throw new Error(`${what}: ${format} stores rows in blocks of ${f.blockElems} values; a row of ${cols} is not a multiple`);
  const need = unit === "values" ? rows * cols : (rows * cols / f.blockElems) * f.blockBytes;
  if (length !== need) throw new Error(`${what}: ${length} ${unit} given; ${rows} rows of ${cols} in ${format} need ${need}`);
  return (rows * cols) / f.blockElems;
}

export interface QuantizeOptions {
  /**
   * Use the native addon's quantizer (bit-identical, ~50-100x faster) when it is available: the default in
   * Node. false: the TS codec (the browser's path, and the twin tests compare against).
   */
  native?: boolean;
  /** Native only: split large inputs over the addon's thread pool (default true). */
  threaded?: boolean;
  /** Row number of the first row in error messages (a caller quantizing a tensor in parts); default 0. */
  firstRow?: number;
}

/**
 * `values` (rows × cols float32, row-major) quantized into `format`'s blocks: rows × cols/blockElems
 * blocks, row after row. Values must be finite.
 */
export function quantizeRows(values: Float32Array, rows: number, cols: number, format: QuantFormat, opts: QuantizeOptions = {}): Uint8Array {
  const blocks = checkShape(values.length, rows, cols, format, "quantizeRows", "values");
  const f = formatInfo(format);
  const out = alignedBytes(blocks * f.blockBytes);
  const native = opts.native === false || format === "fp8_e4m3_b128" ? undefined : nativeQuantizer();
  if (native) {
    const bad = native.quantize!(f.code, values, rows, cols, out, opts.threaded ?? true);
    if (bad >= 0) checkFinite(values.subarray(bad - (bad % cols)), cols, `quantizeRows (${format})`, (opts.firstRow ?? 0) + Math.floor(bad / cols));
    return out;
  }
  checkFinite(values, cols, `quantizeRows (${format})`, opts.firstRow ?? 0);
  QUANTIZE[format](values, 0, blocks, out, 0);
  return out;
}

/** Blocks of `format` holding rows × cols values, widened to float32 (the inverse of quantizeRows up to rounding). */
export function dequantize(bytes: Uint8Array, rows: number, cols: number, format: QuantFormat): Float32Array {
  checkShape(bytes.length, rows, cols, format, "dequantize", "bytes");
  return widen(bytes, format);
}
