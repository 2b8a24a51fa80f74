/**
 * Packed int8 dot products for the quantized GEMV (WGSL language feature `packed_4x8_integer_dot_product`):
 * the input rows are quantized to int8 per block as the cpu backend does (native/src/quant/dispatch.cc
 * quantize_block: d = max|x| / 127 in float32, q = clamp(round-to-nearest-even(x · (1 / d)), ±127); a block
 * holding a non-finite value gets d = NaN and zero codes, so its products come out NaN as in float), then
 * each weight block's integer codes meet the input codes four at a time in dot4I8Packed and the integer
 * sum is scaled by d_w · d_x (the K-quants' sub-block scales and mins applied in integers, as the cpu does).
 *
 * Quantized input row layout (u32 words, row stride k/4 + k/B + k/16): the codes packed four per word in
 * value order, then the float32 scales of the k/B blocks (B = 32, or 256 for q4_k / q6_k as ggml's q8_K),
 * then the int32 sums of the codes of each 16 values (for the formats whose codes carry an offset or a min).
 */
import type { QuantWeight } from "./quant-weights.wgsl.js";

/** The block formats with integer codes that the int8 GEMV reads. */
export const INT8_DOT_WEIGHTS = ["q8_0", "q4_0", "q5_0", "q4_k", "q6_k", "mxfp4"] as const;
export type Int8DotWeight = (typeof INT8_DOT_WEIGHTS)[number];

export function isInt8DotWeight(name: string): name is Int8DotWeight {
  return (INT8_DOT_WEIGHTS as readonly string[]).includes(name);
}

/** Values per input scale: 256 for the K-quants (their super-block), else 32. */
export function inputBlock(f: Int8DotWeight): 32 | 256 {
  return f === "q4_k" || f === "q6_k" ? 256 : 32;
}

/** u32 words of one quantized input row of k values (k a multiple of `block`). */
export function inputRowWords(k: number, block: 32 | 256): number {
  return k / 4 + k / block + k / 16;
}

/** Values quantized by one workgroup of the input kernel. */
export const QUANT_INPUT_SPAN = 256;

/**
 * Input quantizer: rows [rows, k] float32 → the layout above. One workgroup per 256 values of a row (one
 * value per thread): the block maxima by a tree in workgroup memory over |x|'s bits (non-finite as all
 * ones, so max is exact and NaN-free), then codes, packed words, 16-value sums and scales.
 */
export function quantInputWgsl(block: 32 | 256): string {
  return /* wgsl */ `
struct P { rows: u32, k: u32, groups: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> q: array<u32>;
var<workgroup> mag: array<u32, ${QUANT_INPUT_SPAN}>;
var<workgroup> code: array<i32, ${QUANT_INPUT_SPAN}>;
const B = ${block}u;
@compute @workgroup_size(${QUANT_INPUT_SPAN})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let id = wid.y * nwg.x + wid.x;
  let row = id / p.groups;
  if (row >= p.rows) { return; }
  let k = (id % p.groups) * ${QUANT_INPUT_SPAN}u + lid;
  let live = k < p.k;
  var v = 0.0;
  if (live) { v = x[row * p.k + k]; }
  let bits = bitcast<u32>(v) & 0x7fffffffu;
  mag[lid] = select(bits, 0xffffffffu, bits >= 0x7f800000u);
  workgroupBarrier();
  for (var off = B / 2u; off > 0u; off >>= 1u) {
    if (lid % B < off) { mag[lid] = max(mag[lid], mag[lid + off]); }
    workgroupBarrier();
  }
  let m = mag[lid - lid % B];
  let finite = m != 0xffffffffu;
  let d = bitcast<f32>(select(0u, m, finite)) / 127.0;
  let inv = select(0.0, 1.0 / d, d > 0.0);
  code[lid] = select(0, i32(clamp(round(v * inv), -127.0, 127.0)), finite);
  workgroupBarrier();
  if (!live) { return; }
  let base = row * (p.k / 4u + p.k / B + p.k / 16u);
  if (lid % 4u == 0u) {
    q[base + k / 4u] = pack4xI8(vec4<i32>(code[lid], code[lid + 1u], code[lid + 2u], code[lid + 3u]));
  }
  if (lid % 16u == 0u) {
    var s = 0;
    for (var i = 0u; i < 16u; i++) { s += code[lid + i]; }
    q[base + p.k / 4u + p.k / B + k / 16u] = bitcast<u32>(s);
  }
  if (lid % B == 0u) {
    // m & 0x7fc00000 is a quiet NaN exactly when m is all ones (a runtime value, not a constant NaN).
    q[base + p.k / 4u + k / B] = select(m & 0x7fc00000u, bitcast<u32>(d), finite);
  }
}
`;
}

/** Helpers of the int8 GEMV over the quantized input `x: array<u32>` and the block weights `w: array<u32>`. */
function inputHelpers(block: 32 | 256): string {
  return /* wgsl */ `
// Word t (0..7) of the 32 input codes of unit u (values 32u .. 32u + 31) of the row at xo.
fn xw_(xo: u32, u: u32, t: u32) -> u32 { return x[xo + 8u * u + t]; }
fn xd_(xo: u32, b: u32) -> f32 { return bitcast<f32>(x[xo + p.k / 4u + b]); }
// Sum of the input codes of the 16 values starting at 16g.
fn xs_(xo: u32, g: u32) -> i32 { return bitcast<i32>(x[xo + p.k / 4u + p.k / ${block}u + g]); }
// Weight bytes a .. a + 3 as one little-endian word, at any alignment.
fn w4_(a: u32) -> u32 {
  let i = a >> 2u;
  let s = (a & 3u) * 8u;
  if (s == 0u) { return w[i]; }
  return (w[i] >> s) | (w[i + 1u] << (32u - s));
}
// Bits 0..3 of n spread to bit 0 of each byte.
fn spread_(n: u32) -> u32 { return ((n & 15u) * 0x00204081u) & 0x01010101u; }
`;
}

/**
 * unit_(rb, u, xo): Σ over the 32 values of unit u of the weight row at byte rb times the input row at
 * word xo, in float32 from integer block sums.
 */
const UNITS: Record<Int8DotWeight, string> = {
  q8_0: /* wgsl */ `
fn unit_(rb: u32, u: u32, xo: u32) -> f32 {
  let a = rb + u * 34u;
  var s = 0;
  for (var t = 0u; t < 8u; t++) { s += dot4I8Packed(w4_(a + 2u + 4u * t), xw_(xo, u, t)); }
  return f16_(a) * xd_(xo, u) * f32(s);
}`,
  // Codes 0..15 (offset 8 removed through the input sums); byte j holds values j (low) and j + 16 (high).
  q4_0: /* wgsl */ `
fn unit_(rb: u32, u: u32, xo: u32) -> f32 {
  let a = rb + u * 18u;
  var s = 0;
  for (var t = 0u; t < 4u; t++) {
    let c = w4_(a + 2u + 4u * t);
    s += dot4I8Packed(c & 0x0f0f0f0fu, xw_(xo, u, t)) + dot4I8Packed((c >> 4u) & 0x0f0f0f0fu, xw_(xo, u, t + 4u));
  }
  s -= 8 * (xs_(xo, 2u * u) + xs_(xo, 2u * u + 1u));
  return f16_(a) * xd_(xo, u) * f32(s);
}`,
  // q4_0's nibbles with a fifth bit from the 32-bit qh (bit j for value j), offset 16.
  q5_0: /* wgsl */ `
fn unit_(rb: u32, u: u32, xo: u32) -> f32 {
  let a = rb + u * 22u;
  let qh = w4_(a + 2u);
  var s = 0;
  for (var t = 0u; t < 4u; t++) {
    let c = w4_(a + 6u + 4u * t);
    let lo = (c & 0x0f0f0f0fu) | (spread_(qh >> (4u * t)) << 4u);
    let hi = ((c >> 4u) & 0x0f0f0f0fu) | (spread_(qh >> (16u + 4u * t)) << 4u);
    s += dot4I8Packed(lo, xw_(xo, u, t)) + dot4I8Packed(hi, xw_(xo, u, t + 4u));
  }
  s -= 16 * (xs_(xo, 2u * u) + xs_(xo, 2u * u + 1u));
  return f16_(a) * xd_(xo, u) * f32(s);
}`,
  // e2m1 codes as ggml's doubled values (−12 .. 12, signed int8), the e8m0 scale halved.
  mxfp4: /* wgsl */ `
fn fp4x4_(c: u32) -> u32 {
  let kv = array<i32, 8>(0, 1, 2, 3, 4, 6, 8, 12);
  var v: vec4<i32>;
  for (var i = 0u; i < 4u; i++) {
    let n = (c >> (8u * i)) & 15u;
    v[i] = select(kv[n & 7u], -kv[n & 7u], n >= 8u);
  }
  return pack4xI8(v);
}
fn unit_(rb: u32, u: u32, xo: u32) -> f32 {
  let a = rb + u * 17u;
  let e = byte_(a);
  let d = select(bitcast<f32>((e - 1u) << 23u), bitcast<f32>(0x00200000u << e), e < 2u);
  var s = 0;
  for (var t = 0u; t < 4u; t++) {
    let c = w4_(a + 1u + 4u * t);
    s += dot4I8Packed(fp4x4_(c), xw_(xo, u, t)) + dot4I8Packed(fp4x4_(c >> 4u), xw_(xo, u, t + 4u));
  }
  return d * xd_(xo, u) * f32(s);
}`,
  // Unit u is sub-block j = u % 8 of super-block u / 8 (144 bytes, so always word-aligned): codes 0..15
  // with a 6-bit scale and min; Σ (d·sc·q − dmin·m)·x = d_x·(d·sc·Σ q·a − dmin·m·Σ a).
  q4_k: /* wgsl */ `
fn unit_(rb: u32, u: u32, xo: u32) -> f32 {
  let sb = u / 8u;
  let j = u % 8u;
  let a = rb + sb * 144u;
  let sm = q4k_scale_min_(a, j);
  let sc = sm.x;
  let mn = sm.y;
  let qa = (a + 16u + 32u * (j / 2u)) >> 2u;
  let sh = 4u * (j & 1u);
  var s = 0;
  for (var t = 0u; t < 8u; t++) { s += dot4I8Packed((w[qa + t] >> sh) & 0x0f0f0f0fu, xw_(xo, u, t)); }
  let sa = xs_(xo, 2u * u) + xs_(xo, 2u * u + 1u);
  return xd_(xo, sb) * (f16_(a) * f32(i32(sc) * s) - f16_(a + 2u) * f32(i32(mn) * sa));
}`,
  // Unit u: half h and quarter of super-block u / 8; 6-bit codes (offset 32) with an int8 scale per 16.
  q6_k: /* wgsl */ `
fn unit_(rb: u32, u: u32, xo: u32) -> f32 {
  let sb = u / 8u;
  let h = (u % 8u) / 4u;
  let quarter = u % 4u;
  let a = rb + sb * 210u;
  let ql = a + 64u * h + 32u * (quarter & 1u);
  let qh = a + 128u + 32u * h;
  let nsh = 4u * (quarter >> 1u);
  let hsh = 2u * quarter;
  var s = array<i32, 2>(0, 0);
  for (var t = 0u; t < 8u; t++) {
    let c = ((w4_(ql + 4u * t) >> nsh) & 0x0f0f0f0fu) | (((w4_(qh + 4u * t) >> hsh) & 0x03030303u) << 4u);
    s[t / 4u] += dot4I8Packed(c, xw_(xo, u, t));
  }
  let sc = a + 192u + 8u * h + 2u * quarter;
  let sumi = i32(i8_(sc)) * (s[0] - 32 * xs_(xo, 2u * u)) + i32(i8_(sc + 1u)) * (s[1] - 32 * xs_(xo, 2u * u + 1u));
  return f16_(a + 208u) * xd_(xo, sb) * f32(sumi);
}`,
};

/** The int8 GEMV helpers of `f` (they read the kernel's `x`, `w` and uniform `p.k`); the quant-weights helpers come first. */
export function int8DotWgsl(f: QuantWeight): string {
  if (!isInt8DotWeight(f)) throw new Error(`int8 dot: ${f} weights have no integer codes`);
  return inputHelpers(inputBlock(f)) + UNITS[f];
}
