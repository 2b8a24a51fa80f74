/**
 * Host widening of every format to float32: the oracle the native and WGSL widening is tested against.
 * Element formats convert value by value; a block format registers one function that widens whole
 * blocks (see BLOCK_WIDEN).
 */
import { f16BitsToNumber } from "../dtype.js";
import { widenFp8 } from "./quant/fp8.js";
import { widenQ4_0, widenQ5_0, widenQ8_0 } from "./quant/legacy.js";
import { widenMxfp4 } from "./quant/mxfp4.js";
import { widenQ4_K } from "./quant/q4_k.js";
import { widenQ6_K } from "./quant/q6_k.js";
import { formatInfo, type DType, type HostStorage } from "./table.js";

/** Widens `blocks` blocks starting at bytes[offset] into out[outOffset ..]. */
export type BlockWiden = (bytes: Uint8Array, offset: number, blocks: number, out: Float32Array, outOffset: number) => void;

/** The host widening of each block format, by name (the codecs live in src/formats/quant/). */
export const BLOCK_WIDEN: Partial<Record<DType, BlockWiden>> = {
  q8_0: widenQ8_0,
  q4_0: widenQ4_0,
  q5_0: widenQ5_0,
  q4_k: widenQ4_K,
  q6_k: widenQ6_K,
  mxfp4: widenMxfp4,
  fp8_e4m3_b128: widenFp8,
};

function bytesOf(s: HostStorage): Uint8Array {
  return s instanceof Uint8Array ? s : new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
}

/**
 * Values [start, start + count) of a host storage of `dtype`, widened to a new Float32Array
 * (for float32, a copy). For block formats start and count must be whole blocks.
 */
export function widen(storage: HostStorage, dtype: DType, start = 0, count?: number): Float32Array {
  const f = formatInfo(dtype);
  if (f.kind === "block") {
    const total = (storage.byteLength / f.blockBytes) * f.blockElems;
    const n = count ?? total - start;
    if (start % f.blockElems !== 0 || n % f.blockElems !== 0) throw new Error(`widen: ${dtype} values are read in whole blocks of ${f.blockElems}`);
    if (start < 0 || start + n > total) throw new Error(`widen: values [${start}, ${start + n}) outside the ${total} stored`);
    const fn = BLOCK_WIDEN[dtype];
    if (!fn) throw new Error(`widen: no host widening for ${dtype}`);
    const out = new Float32Array(n);
    fn(bytesOf(storage), (start / f.blockElems) * f.blockBytes, n / f.blockElems, out, 0);
    return out;
  }
  const n = count ?? storage.length - start;
  if (start < 0 || n < 0 || start + n > storage.length) throw new Error(`widen: values [${start}, ${start + n}) outside the ${storage.length} stored`);
  const src = storage.subarray(start, start + n);
  if (dtype === "float32" || dtype === "int32") return Float32Array.from(src as Float32Array);
  const out = new Float32Array(n);
  if (dtype === "bfloat16") {
    const o32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) o32[i] = src[i]! << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = f16BitsToNumber(src[i]!);
  }
  return out;
}

