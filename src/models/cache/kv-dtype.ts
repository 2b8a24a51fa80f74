/**
 * The format of a host KV cache's rows: float32 (exact), or bfloat16 / float16 (half the bytes that decode
 * reads per token at long context; keys and values rounded to nearest even when appended, widened back
 * to float32 in the attention kernel's products).
 */
import type { Backend } from "../../backends/backend.js";
import { bf16BitsInto, toF16Bits } from "../../dtype.js";
import { HUGE_MIN_BYTES, alignedFloat32, alignedUint16 } from "../../formats/aligned.js";

export const KV_CACHE_DTYPES = ["float32", "bfloat16", "float16"] as const;
export type KvCacheDtype = (typeof KV_CACHE_DTYPES)[number];

export function checkKvCacheDtype(v: unknown, who: string): KvCacheDtype {
  if (typeof v === "string" && (KV_CACHE_DTYPES as readonly string[]).includes(v)) return v as KvCacheDtype;
  throw new Error(`${who}: kvCacheDtype must be one of ${KV_CACHE_DTYPES.join(", ")}, got ${JSON.stringify(v)}`);
}

export function kvBytesPerValue(dtype: KvCacheDtype): number {
  return dtype === "float32" ? 4 : 2;
}

/** Rows of 16-bit values in a Uint16Array, float32 rows in a Float32Array. */
export type KvRowStorage = Float32Array | Uint16Array;

/**
 * Blocks of 4 MiB and more on huge pages where the kernel has them (src/formats/aligned.ts):
 * decode attention read a float32 cache 1.12-1.16x faster from them at 4096 and 32768 tokens, a bfloat16 one
 * ~1.01x (docs/performance.md, session 15). Smaller blocks stay plain (64-byte alignment alone measured no gain).
 */
export function allocateRows(dtype: KvCacheDtype, n: number): KvRowStorage {
  const bytes = n * kvBytesPerValue(dtype);
  if (bytes >= HUGE_MIN_BYTES) return dtype === "float32" ? alignedFloat32(n) : alignedUint16(n);
  return dtype === "float32" ? new Float32Array(n) : new Uint16Array(n);
}

/**
 * src written into dst from element `at`, rounded to dst's format (round to nearest even; NaN stays NaN); bfloat16
 * through the backend's `writeBf16` where it has one (cpu: native, split over its threads).
 */
export function writeRows(dtype: KvCacheDtype, dst: KvRowStorage, at: number, src: Float32Array, backend?: Backend): void {
  if (dtype === "float32") {
    (dst as Float32Array).set(src, at);
    return;
  }
  const out = dst as Uint16Array;
  if (dtype === "bfloat16") {
    if (backend?.writeBf16) backend.writeBf16(src, out, at);
    else bf16BitsInto(src, out, at);
    return;
  }
  for (let i = 0; i < src.length; i++) out[at + i] = toF16Bits(src[i]!);
}
