/** Shared by the quantized-product tests: the int8 inputs the quant GEMV / GEMM multiply, and where the int8 GEMM runs. */
import { formatInfo } from "../../src/formats/table.js";
import { quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { nativeQuant } from "../../src/formats/quant/native.js";
import { Tensor } from "../../src/tensor.js";

/** Agreement with the reference run on the same int8 inputs: float rounding only. */
export const EXACT = 2e-5;
/** Against the plain float inputs: the error int8 inputs add (measured ≤ 5.6e-3 of max |y| on uniform inputs). */
export const QUANT_TOL = 1e-2;
/** The fused layer quantizes two inputs (the hidden rows, then the gated activations): measured ≤ 2.8e-2 of max |y| (K-quants: 256-value input blocks; 20 random layers). */
export const FUSED_TOL = 5e-2;
/** The default row limit of the quant GEMV (native/src/ops.h quant_gemv_max_rows). */
export const GEMV_ROWS = 8;
/** ... for the jobs the int8 GEMM takes (quant_gemv_max_rows_int8): from two rows they run on the GEMM. */
export const GEMV_ROWS_INT8 = 1;

/** A [..., cols] tensor of uniform values in ±scale, quantized into `format`. */
export function quantTensor(r: () => number, shape: number[], format: QuantFormat, scale = 1): Tensor {
  const cols = shape[shape.length - 1]!;
  const rows = shape.reduce((a, b) => a * b, 1) / cols;
  const v = Float32Array.from({ length: rows * cols }, () => (r() * 2 - 1) * scale);
  return new Tensor(shape, format, quantizeRows(v, rows, cols, format));
}

/** The formats the int8 prefill GEMM multiplies (native/src/quant/gemm_avx512vnni.cc). */
const INT8_GEMM_FORMATS = new Set<string>(["q8_0", "q4_0", "q5_0", "mxfp4", "q4_k", "q6_k"]);

/**
 * Whether products of more rows than the GEMV's run on the int8 GEMM for this cpu instruction set (an AVX-512
 * set on a CPU with VNNI, unless MOEKIT_QUANT_ISA or MOEKIT_QUANT_GEMM=panels says otherwise), else on widened panels.
 */
export function int8GemmActive(isa: string, format: string): boolean {
  if (!INT8_GEMM_FORMATS.has(format) || process.env.MOEKIT_QUANT_GEMM === "panels") return false;
  const forced = process.env.MOEKIT_QUANT_ISA;
  if (forced) return forced === "avx512vnni" || forced === "avx512vbmi";
  return isa.startsWith("avx512") && nativeQuant().isas().includes("avx512vnni");
}

/**
 * The input blocks a product of `rows` rows quantizes: 32 values, except the K-quants' GEMV (one row, or any
 * row count where the int8 GEMM does not run), whose blocks are 256.
 */
export function inputBlock(isa: string, format: QuantFormat, rows: number): number {
  if (formatInfo(format).blockElems !== 256) return 32;
  return rows > GEMV_ROWS_INT8 && int8GemmActive(isa, format) ? 32 : 256;
}

/**
 * The values the quant GEMV / GEMM multiply: each block of x (`block` values: by default 32, 256 for the
 * K-quants, as the GEMV's; see inputBlock) as d·q, d = amax / 127, q = round-half-even(x / d); fp8 reads floats.
 */
export function int8Inputs(x: Tensor, format: QuantFormat, block = formatInfo(format).blockElems === 256 ? 256 : 32): Tensor {
  if (format === "fp8_e4m3_b128") return x;
  const v = x.storage as Float32Array;
  const out = new Float32Array(v.length);
  for (let b = 0; b < v.length; b += block) {
    let amax = 0;
    for (let i = 0; i < block; i++) amax = Math.max(amax, Math.abs(v[b + i]!));
    const d = Math.fround(amax / 127);
    const id = d > 0 ? Math.fround(1 / d) : 0;
    for (let i = 0; i < block; i++) {
      const s = Math.fround(v[b + i]! * id);
      let q = Math.round(s);
      if (q - s === 0.5 && q % 2 !== 0) q -= 1; // ties to even, as nearbyint
      out[b + i] = Math.fround(d * Math.max(-127, Math.min(127, q)));
    }
  }
  return Tensor.from(out, x.shape);
}
