/**
 * Block-format weights read inside the product kernels (gathered-linear / grouped-linear): the weight buffer
 * holds the blocks exactly as moekit stores them on the host (src/formats/table.ts, ggml's layouts), bound as
 * array<u32>, and `wq_(rb, k)` widens the one value at column k of the row starting at byte rb — inside the
 * GEMV lanes and the GEMM's weight-tile loads, so no widened copy of a weight ever exists in GPU memory.
 * Each value is (integer code) · (its block's scale) in float32 as the host widening computes it
 * (src/formats/quant/*); fp16 scales are decoded bit by bit (subnormals included).
 */
import { formatInfo } from "../../../formats/table.js";

/** The block formats the webgpu products read. */
export const QUANT_WEIGHTS = ["q8_0", "q4_0", "q5_0", "q4_k", "q6_k", "mxfp4", "fp8_e4m3_b128"] as const;
export type QuantWeight = (typeof QUANT_WEIGHTS)[number];

export function isQuantWeight(name: string): name is QuantWeight {
  return (QUANT_WEIGHTS as readonly string[]).includes(name);
}

/** Bytes and values of one row of `k` values: the WGSL expression of the row stride from the uniform's k. */
function rowBytesWgsl(f: QuantWeight): string {
  const { blockElems, blockBytes } = formatInfo(f);
  return `(p.k / ${blockElems}u) * ${blockBytes}u`;
}

const BYTES = /* wgsl */ `
fn byte_(a: u32) -> u32 { return (w[a >> 2u] >> ((a & 3u) * 8u)) & 0xffu; }
fn i8_(a: u32) -> f32 { return f32(bitcast<i32>(byte_(a) << 24u) >> 24u); }
// fp16 at byte a (little-endian), exactly (subnormals, infinities).
fn f16_(a: u32) -> f32 {
  let h = byte_(a) | (byte_(a + 1u) << 8u);
  let e = (h >> 10u) & 31u;
  let m = h & 1023u;
  var mag: f32;
  if (e == 0u) { mag = f32(m) * 5.9604644775390625e-8; }
  else if (e == 31u) { mag = bitcast<f32>(0x7f800000u | (m << 13u)); }
  else { mag = bitcast<f32>(((e + 112u) << 23u) | (m << 13u)); }
  return select(mag, -mag, (h & 0x8000u) != 0u);
}
// The nibble of value j of a 32-value block whose 16 code bytes start at a (j low, j + 16 high).
fn nib_(a: u32, j: u32) -> u32 {
  let b = byte_(a + (j & 15u));
  return select(b & 15u, b >> 4u, j >= 16u);
}
`;

const DECODE: Record<QuantWeight, string> = {
  q8_0: /* wgsl */ `
fn wq_(rb: u32, k: u32) -> f32 {
  let a = rb + (k / 32u) * 34u;
  return i8_(a + 2u + (k % 32u)) * f16_(a);
}`,
  q4_0: /* wgsl */ `
fn wq_(rb: u32, k: u32) -> f32 {
  let a = rb + (k / 32u) * 18u;
  return f32(i32(nib_(a + 2u, k % 32u)) - 8) * f16_(a);
}`,
  q5_0: /* wgsl */ `
fn wq_(rb: u32, k: u32) -> f32 {
  let a = rb + (k / 32u) * 22u;
  let j = k % 32u;
  let hbit = (byte_(a + 2u + j / 8u) >> (j % 8u)) & 1u;
  return f32(i32(nib_(a + 6u, j) | (hbit << 4u)) - 16) * f16_(a);
}`,
  mxfp4: /* wgsl */ `
fn wq_(rb: u32, k: u32) -> f32 {
  let a = rb + (k / 32u) * 17u;
  let e = byte_(a);
  // ggml's GGML_E8M0_TO_FP32_HALF: 2^(e - 128), the e2m1 codes doubled.
  let d = select(bitcast<f32>((e - 1u) << 23u), bitcast<f32>(0x00200000u << e), e < 2u);
  let c = nib_(a + 1u, k % 32u);
  let kv = array<f32, 8>(0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0);
  let v = kv[c & 7u];
  return select(v, -v, c >= 8u) * d;
}`,
  q4_k: /* wgsl */ `
// The 6-bit scale and min of sub-block j (0..7) of the super-block at byte a (the int8 GEMV uses it too).
fn q4k_scale_min_(a: u32, j: u32) -> vec2<u32> {
  if (j < 4u) {
    return vec2<u32>(byte_(a + 4u + j) & 63u, byte_(a + 8u + j) & 63u);
  }
  let lo = byte_(a + 8u + j);
  return vec2<u32>((lo & 15u) | ((byte_(a + j) >> 6u) << 4u), (lo >> 4u) | ((byte_(a + 4u + j) >> 6u) << 4u));
}
fn wq_(rb: u32, k: u32) -> f32 {
  let a = rb + (k / 256u) * 144u;
  let i = k % 256u;
  let c = i / 64u;
  let hi = (i % 64u) >= 32u;
  let j = 2u * c + select(0u, 1u, hi);
  let sm = q4k_scale_min_(a, j);
  let sc = sm.x;
  let mn = sm.y;
  let v = byte_(a + 16u + 32u * c + (i % 32u));
  let q = select(v & 15u, v >> 4u, hi);
  let d0 = f16_(a) * f32(sc);
  let dm = f16_(a + 2u) * f32(mn);
  return d0 * f32(q) - dm;
}`,
  q6_k: /* wgsl */ `
fn wq_(rb: u32, k: u32) -> f32 {
  let a = rb + (k / 256u) * 210u;
  let i = k % 256u;
  let h = i / 128u;
  let quarter = (i % 128u) / 32u;
  let l = i % 32u;
  let ds = f16_(a + 208u) * i8_(a + 192u + 8u * h + l / 16u + 2u * quarter);
  let lo = byte_(a + 64u * h + l + select(0u, 32u, (quarter & 1u) == 1u));
  let q4 = select(lo & 15u, lo >> 4u, quarter >= 2u);
  let q2 = (byte_(a + 128u + 32u * h + l) >> (2u * quarter)) & 3u;
  return ds * f32(i32(q4 | (q2 << 4u)) - 32);
}`,
  fp8_e4m3_b128: /* wgsl */ `
fn wq_(rb: u32, k: u32) -> f32 {
  let a = rb + (k / 128u) * 132u;
  let s = bitcast<f32>(w[a >> 2u]);
  let c = byte_(a + 4u + (k % 128u));
  let e = (c >> 3u) & 15u;
  let m = c & 7u;
  let mag = select(bitcast<f32>(((e + 120u) << 23u) | (m << 20u)), f32(m) * 0.001953125, e == 0u);
  return select(mag, -mag, (c & 0x80u) != 0u) * s;
}`,
};

/** The WGSL helpers of `f` (they read the kernel's `w: array<u32>` and uniform `p.k`) and its row stride expression. */
export function quantWgsl(f: QuantWeight): { functions: string; rowBytes: string } {
  return { functions: BYTES + DECODE[f], rowBytes: rowBytesWgsl(f) };
}
