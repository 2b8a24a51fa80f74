/**
 * `cast`: x [n] (physical f32, or f16 with shader-f16) → out [n] with each value rounded to nearest even
 * into the target dtype (bfloat16 / float16 values stay exact in float32). Output is either float32
 * (`out: array<f32>`, n entries) or packed IEEE half words (`out: array<u32>`, ⌈n / 2⌉ entries, element
 * 2j in the low half of word j) — which needs no shader-f16 to write. One thread per output pair.
 */
import { enableF16, FLAT_ID_WGSL, type WeightType } from "./common.wgsl.js";

export const ROUNDING = { none: 0, bfloat16: 1, float16: 2 } as const;

export function castWgsl(input: WeightType, packedHalfOut: boolean): string {
  return /* wgsl */ `${enableF16(input)}
struct P { n: u32, rounding: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<${input}>;
@group(0) @binding(2) var<storage, read_write> out: array<${packedHalfOut ? "u32" : "f32"}>;
${FLAT_ID_WGSL}
// float32 → IEEE half bits, round to nearest even, overflow to ±inf (as dtype.toF16Bits).
fn f16bits(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  let sign = (b >> 16u) & 0x8000u;
  let ex = (b >> 23u) & 0xffu;
  var mant = b & 0x7fffffu;
  if (ex == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  let e = i32(ex) - 127 + 15;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    mant = mant | 0x800000u;
    let shift = u32(14 - e);
    var h = mant >> shift;
    let rem = mant & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u) == 1u)) { h = h + 1u; }
    return sign | h;
  }
  var h = (u32(e) << 10u) | (mant >> 13u);
  let rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) { h = h + 1u; }
  return sign | h;
}
// float32 → the nearest bfloat16, round to nearest even (NaN stays NaN).
fn roundBf16(v: f32) -> f32 {
  let b = bitcast<u32>(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) { return v; }
  return bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u);
}
fn value(i: u32) -> f32 {
  let v = f32(x[i]);
  if (p.rounding == 1u) { return roundBf16(v); }
  if (p.rounding == 2u) { return unpack2x16float(f16bits(v)).x; }
  return v;
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = flat_(wid, nwg) * 256u + lid;
  let i = 2u * j;
  if (i >= p.n) { return; }
${
  packedHalfOut
    ? `  var w = f16bits(f32(x[i]));
  if (i + 1u < p.n) { w = w | (f16bits(f32(x[i + 1u])) << 16u); }
  out[j] = w;`
    : `  out[i] = value(i);
  if (i + 1u < p.n) { out[i + 1u] = value(i + 1u); }`
}
}
`;
}
