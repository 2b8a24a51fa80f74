/**
 * Shape ops and small reductions: block copies (slice, concat, repeat_interleave), clamp, argmax.
 *
 * `blockCopy` moves a block viewed as [outer, len, inner] elements (one thread per element) from src
 *   (axis length srcAxis) to dst (axis length dstAxis): dst[o, dstStart + l, c] =
 *   src[o, srcStart + ⌊l / div⌋, c]. slice: div = 1, dstStart = 0; concat: one copy per part into its
 *   range of dst; repeat: div = times. Elements are copied bit for bit as u32 (f32, i32) or as f16.
 * `clamp`: x f32 [n] → out f32 [n], out = min(max(x, lo), hi).
 * `argmax`: x f32 [R, N] → out int32 [R]; one 64-thread workgroup per row; ties go to the lowest index
 *   and NaN loses to any number (as the reference's scan).
 */
import { FLAT_ID_WGSL } from "./common.wgsl.js";

/** Element word of a block copy: 4-byte words (f32, i32) or f16 (shader-f16 only). */
export type CopyElem = "u32" | "f16";

export function blockCopyWgsl(elem: CopyElem): string {
  return /* wgsl */ `${elem === "f16" ? "enable f16;\n" : ""}
struct P { n: u32, len: u32, inner: u32, srcAxis: u32, srcStart: u32, dstAxis: u32, dstStart: u32, div: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<${elem}>;
@group(0) @binding(2) var<storage, read_write> dst: array<${elem}>;
${FLAT_ID_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.n) { return; }
  let block = p.len * p.inner;
  let o = i / block;
  let rem = i % block;
  let l = rem / p.inner;
  let c = rem % p.inner;
  dst[(o * p.dstAxis + p.dstStart + l) * p.inner + c] = src[(o * p.srcAxis + p.srcStart + l / p.div) * p.inner + c];
}
`;
}

export const CLAMP_WGSL = /* wgsl */ `
struct P { n: u32, lo: f32, hi: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${FLAT_ID_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.n) { return; }
  out[i] = min(max(x[i], p.lo), p.hi);
}
`;

export const ARGMAX_WGSL = /* wgsl */ `
struct P { rows: u32, n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
var<workgroup> bv: array<f32, 64>;
var<workgroup> bi: array<u32, 64>;
${FLAT_ID_WGSL}
fn isNan_(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
// (v, i) beats (w, j): larger, or equal with the lower index, or w is NaN and v is not (or both NaN, lower index).
fn beats_(v: f32, i: u32, w: f32, j: u32) -> bool {
  let vn = isNan_(v);
  let wn = isNan_(w);
  if (vn != wn) { return wn; }
  if (vn || v == w) { return i < j; }
  return v > w;
}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = flat_(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.n;
  var best = 0xffffffffu;
  var bestV = 0.0;
  for (var i = lid; i < p.n; i += 64u) {
    let v = x[base + i];
    if (best == 0xffffffffu || beats_(v, i, bestV, best)) { best = i; bestV = v; }
  }
  bv[lid] = bestV;
  bi[lid] = best;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s && bi[lid + s] != 0xffffffffu && (bi[lid] == 0xffffffffu || beats_(bv[lid + s], bi[lid + s], bv[lid], bi[lid]))) {
      bv[lid] = bv[lid + s];
      bi[lid] = bi[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) { out[row] = i32(bi[0]); }
}
`;
