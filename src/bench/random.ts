/** Seeded pseudo-random fills (mulberry32), fast enough for gigabytes of synthetic weights. */
import type { DType, HostStorage } from "../dtype.js";
import { narrowFromF32, widenToF32 } from "../dtype.js";
import { alignedFloat32, alignedUint16 } from "../formats/aligned.js";
import { seededRng } from "../generation/rng.js";

/** A 32-bit seed from a string (FNV-1a), so each tensor name gets its own stream. */
export function seedOf(text: string, base = 0): number {
  let h = (0x811c9dc5 ^ base) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Uniform values in [-scale, scale) into a new Float32Array (or the first n values of `out`). */
export function uniformF32(n: number, seed: number, scale: number, out: Float32Array = new Float32Array(n)): Float32Array {
  let a = seed >>> 0;
  const k = (2 * scale) / 4294967296;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) * k - scale;
  }
  return out;
}

const tables = new Map<string, Uint16Array>();

/** 65536 evenly spaced values across [-scale, scale), as 16-bit float words: one per 16 random bits. */
function levels(scale: number, dtype: "bfloat16" | "float16"): Uint16Array {
  const key = `${dtype}:${scale}`;
  let t = tables.get(key);
  if (!t) {
    const v = Float32Array.from({ length: 65536 }, (_, j) => ((j + 0.5) / 32768 - 1) * scale);
    t = narrowFromF32(v, dtype) as Uint16Array;
    tables.set(key, t);
  }
  return t;
}

/** 16-bit float words uniform over 65536 levels in [-scale, scale): two values per 32-bit draw (a float32 `out`: the words widened). */
function uniform16<T extends Uint16Array | Float32Array>(n: number, seed: number, scale: number, dtype: "bfloat16" | "float16", out: T, table: ArrayLike<number> = levels(scale, dtype)): T {
  let a = seed >>> 0;
  for (let i = 0; i < n; i += 2) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    t ^= t >>> 14;
    out[i] = table[t & 0xffff]!;
    if (i + 1 < n) out[i + 1] = table[(t >>> 16) & 0xffff]!;
  }
  return out;
}

/**
 * Uniform values in a storage dtype: float32 continuous; 16-bit floats quantized to 65536 levels (each
 * rounded to the dtype), which keeps generating gigabytes of weights at memory speed.
 */
export function uniformStorage(n: number, seed: number, scale: number, dtype: DType): HostStorage {
  if (dtype === "float32") return uniformF32(n, seed, scale, alignedFloat32(n));
  if (dtype === "bfloat16" || dtype === "float16") return uniform16(n, seed, scale, dtype, alignedUint16(n));
  throw new Error(`synthetic weights cannot be ${dtype}`);
}

const widenedTables = new Map<string, Float32Array>();

/**
 * uniformStorage(n, seed, scale, dtype) widened to float32, written into the first n values of `out` (no other
 * allocation: a synthetic weight quantized as it is generated leaves no float garbage behind).
 */
export function uniformWidened(n: number, seed: number, scale: number, dtype: DType, out: Float32Array): Float32Array {
  if (out.length < n) throw new Error(`uniformWidened: ${n} values do not fit a buffer of ${out.length}`);
  if (dtype === "float32") return uniformF32(n, seed, scale, out).subarray(0, n);
  if (dtype !== "bfloat16" && dtype !== "float16") throw new Error(`synthetic weights cannot be ${dtype}`);
  const key = `${dtype}:${scale}`;
  let table = widenedTables.get(key);
  if (!table) widenedTables.set(key, (table = widenToF32(levels(scale, dtype), dtype)));
  return uniform16(n, seed, scale, dtype, out, table).subarray(0, n);
}

export function onesStorage(n: number, dtype: DType): HostStorage {
  if (dtype === "float32") return new Float32Array(n).fill(1);
  return narrowFromF32(new Float32Array(n).fill(1), dtype);
}

/** mulberry32 as a stream of uniform numbers in [0, 1): the small seeded generator tests and benchmarks
 * share (the one generation samples with). */
export const rng: (seed: number) => () => number = seededRng;

/** n values uniform in [-scale, scale) drawn from the stream r. */
export function randomFloats(r: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** [tokens, k] distinct expert ids per token, each draw uniform over the experts not yet picked, from the stream r. */
export function randomTopk(r: () => number, tokens: number, experts: number, k: number): Int32Array {
  const ids = new Int32Array(tokens * k);
  for (let t = 0; t < tokens; t++) {
    const pool = [...Array(experts).keys()];
    for (let j = 0; j < k; j++) ids[t * k + j] = pool.splice(Math.floor(r() * pool.length), 1)[0]!;
  }
  return ids;
}
