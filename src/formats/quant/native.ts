/**
 * The native addon's `quant` object (native/src/quant/addon_quant.cc): widening, activation preparation
 * and the quantized GEMV of every block format, per kernel set. Tests and bench/quant use it directly
 * until the cpu backend's products take quantized weights. Node-only: reached through the cpu backend's
 * lazy loader.
 */
import { loadNative } from "../../backends/cpu/native.js";

export interface NativeQuant {
  /** Kernel sets this CPU runs ("scalar", "avx2", "avx512vnni"), best last. */
  isas(): string[];
  /** The kernel set used when none is named (MOEKIT_QUANT_ISA overrides). */
  best(): string;
  /** rows × cols values of `code`'s blocks widened into out: float32, or bfloat16 bits for a Uint16Array. */
  widen(code: number, bytes: Uint8Array, rows: number, cols: number, out: Float32Array | Uint16Array, isa?: string): void;
  /** Bytes of one prepared activation row of `cols` values for `code`'s GEMV. */
  activationBytes(code: number, cols: number): number;
  /** Prepares x[cols] for `code`'s dot products (layout: native/src/quant/quant.h, ActKind). */
  quantizeActivation(code: number, x: Float32Array, cols: number, out: Uint8Array): void;
  /** y[m][n] = row n of w [n, k] · x[m] for m < rows of x, with int8 activations (fp8: float32). */
  gemv(code: number, w: Uint8Array, n: number, k: number, x: Float32Array, m: number, y: Float32Array, isa?: string): void;
}

export function nativeQuant(): NativeQuant {
  const q = (loadNative() as unknown as { quant?: NativeQuant }).quant;
  if (!q) throw new Error("the native addon has no quant kernels: rebuild it with `npm run build:native`");
  return q;
}
