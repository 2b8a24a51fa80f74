/**
 * Float bit conversions (bfloat16, float16) and the historical dtype names. The formats themselves (names,
 * codes, block layouts, storage) are in src/formats/table.ts.
 */
import { formatInfo, type DType, type HostStorage } from "./formats/table.js";
import { widen } from "./formats/widen.js";

export type { DType, HostStorage } from "./formats/table.js";
export { isFloat } from "./formats/table.js";

/** Bytes per element of an element format (block formats: see storageBytes). */
export function bytesPerElement(dtype: DType): number {
  const f = formatInfo(dtype);
  return f.blockBytes / f.blockElems;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function toBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** dst[at + i] = bfloat16 bits of src[i] (toBf16Bits' rounding, read off the float32 bits directly). */
export function bf16BitsInto(src: Float32Array, dst: Uint16Array, at: number): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    dst[at + i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
}

export function bf16BitsToNumber(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** float32 → IEEE half bits, round to nearest even, overflow to ±inf. */
export function toF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  e = h >>> 10;
  return sign | h;
}

export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Widen any float storage to a new Float32Array. */
export function widenToF32(storage: HostStorage, dtype: DType): Float32Array {
  return widen(storage, dtype);
}

/** Narrow float32 values into the storage of an element dtype (a copy for float32 / int32). */
export function narrowFromF32(values: ArrayLike<number>, dtype: DType): HostStorage {
  if (dtype === "float32") return Float32Array.from(values);
  if (dtype === "int32") return Int32Array.from(values);
  if (formatInfo(dtype).kind === "block") throw new Error(`narrowFromF32: ${dtype} is a block format; quantize it instead`);
  const out = new Uint16Array(values.length);
  const conv = dtype === "bfloat16" ? toBf16Bits : toF16Bits;
  for (let i = 0; i < values.length; i++) out[i] = conv(values[i]!);
  return out;
}
