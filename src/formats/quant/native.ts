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
  /**
   * x [rows, cols] quantized into `code`'s blocks in out (bit-identical with the TS codecs; q8_0, q4_0, q5_0,
   * q4_k, q6_k, mxfp4), split over the thread pool when `threaded`. Returns the index of the first
   * non-finite value of x (out untouched), or −1. Older builds lack it.
   */
  quantize?(code: number, x: Float32Array, rows: number, cols: number, out: Uint8Array, threaded?: boolean): number;
}

let probed: NativeQuant | null | undefined;

/**
 * The addon's quant object when it can quantize (Node with the addon built), else undefined: the browser and
 * an unbuilt checkout use the TS codecs. MOEKIT_QUANTIZE=ts forces those.
 */
export function nativeQuantizer(): NativeQuant | undefined {
  if (probed === undefined) {
    const proc = (globalThis as { process?: { versions?: { node?: string }; env?: Record<string, string | undefined> } }).process;
    probed = null;
    if (proc?.versions?.node && proc.env?.MOEKIT_QUANTIZE !== "ts") {
      try {
        const q = nativeQuant();
        if (typeof q.quantize === "function") probed = q;
      } catch {
        // no addon: the TS codecs
      }
    }
  }
  return probed ?? undefined;
}

export function nativeQuant(): NativeQuant {
  const q = (loadNative() as unknown as { quant?: NativeQuant }).quant;
  if (!q) throw new Error("the native addon has no quant kernels: rebuild it with `npm run build:native`");
  return q;
}
