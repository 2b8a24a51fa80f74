import assert from "node:assert/strict";
import { narrowFromF32 } from "../../src/dtype.js";
import type { DType } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import type { NativeWeight } from "../../src/backends/cpu/native.js";
import type { GateSpec } from "../../src/backends/backend.js";
import type { ExpertsWeights } from "../../src/experts/types.js";

/** The sizes of an attention call (the native addon's argument names). */
export type { NativeAttnDims as AttnDims } from "../../src/backends/cpu/native.js";

export { rng } from "../../src/bench/random.js";

/** A raw native weight descriptor over one buffer (format code 0 float32, 1 bfloat16, 2 float16). */
export function nativeW(data: ArrayBufferView, rows: number, cols: number, format = 0, byteOffset = 0): NativeWeight {
  return { format, rows, cols, segments: [{ data, byteOffset, rows }] };
}

/** Uniform values in [-scale, scale) stored in the given float dtype. */
export function randTensor(r: () => number, shape: number[], dtype: DType = "float32", scale = 1): Tensor {
  let n = 1;
  for (const d of shape) n *= d;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * scale;
  return Tensor.from(narrowFromF32(v, dtype) as Float32Array | Uint16Array, shape, dtype);
}

export function randInts(r: () => number, n: number, hi: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(r() * hi));
}

/** Asserts shape equality and max|a − b| ≤ tol · max(max|b|, floor). */
export async function assertClose(a: Tensor, b: Tensor, tol: number, what: string, floor = 1e-30): Promise<void> {
  assert.deepEqual([...a.shape], [...b.shape], `${what}: shape`);
  const av = await a.data();
  const bv = await b.data();
  assert.equal(av.length, bv.length, `${what}: length`);
  let maxRef = 0;
  for (let i = 0; i < bv.length; i++) maxRef = Math.max(maxRef, Math.abs(bv[i]!));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < bv.length; i++) {
    const d = Math.abs(av[i]! - bv[i]!);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  const bound = tol * Math.max(maxRef, floor);
  assert.ok(worst <= bound || (bv.length > 0 && maxRef === 0 && worst === 0), `${what}: max error ${worst} at ${at} (got ${av[at]}, want ${bv[at]}) > ${bound} (max|ref| ${maxRef})`);
}

let shared: CpuBackend | undefined;
export function cpu(): CpuBackend {
  shared ??= new CpuBackend();
  return shared;
}

/**
 * Thread counts to sweep: 1..4, or the list in MOEKIT_TEST_THREADS ("1,3" in the AddressSanitizer run:
 * the serial schedule and an uneven split over the pool, at half the cost).
 */
export function threadCounts(): number[] {
  const env = process.env.MOEKIT_TEST_THREADS;
  if (env === undefined || env === "") return [1, 2, 3, 4];
  const list = env.split(",").map(Number);
  if (list.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new Error(`MOEKIT_TEST_THREADS must list thread counts (1..64), got '${env}'`);
  return list;
}

/** Every (isa, threads) configuration to sweep: each supported instruction set × threadCounts(). */
export function configs(): { isa: string; threads: number }[] {
  const out: { isa: string; threads: number }[] = [];
  for (const isa of cpu().supportedIsas()) for (const threads of threadCounts()) out.push({ isa, threads });
  return out;
}

/** Random experts weights (gated or not, optional biases) stored in `dtype`. */
export function randomExpertsWeights(r: () => number, e: number, h: number, i: number, gate: GateSpec, dtype: DType, biases: boolean): ExpertsWeights {
  const width = gate.kind === "none" ? i : 2 * i;
  const proj = randTensor(r, [e, width, h], dtype, 0.3);
  return {
    numExperts: e,
    hiddenSize: h,
    intermediateSize: i,
    ...(gate.kind === "none" ? { up: proj } : { gateUp: proj }),
    down: randTensor(r, [e, h, i], dtype, 0.3),
    ...(biases ? { gateUpBias: randTensor(r, [e, width], dtype, 0.1), downBias: randTensor(r, [e, h], dtype, 0.1) } : {}),
    gate,
  };
}
