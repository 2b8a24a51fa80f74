/**
 * Selective-scan kernels (float32 throughout; see SsmScanSpec in backend.ts).
 *
 * `ssmDelta`: dt [B, S, H], dtBias [H], tokenMask int32 [B, S] → δ [B, S, H] (0 at padding tokens); one
 *   thread per element.
 * `ssmScan`: x [B, S, H, P], δ [B, S, H], a [H], d [H], bIn / c [B, S, G, N] → out [B, S, H, P]; the state
 *   [B, H, P, N] is read and updated in place (the caller copies the previous state in, or leaves the
 *   fresh buffer's zeros). One thread per (batch, head, p) row, walking the sequence.
 */
import { FLAT_ID_WGSL } from "./common.wgsl.js";

export const SSM_DELTA_WGSL = /* wgsl */ `
struct P { n: u32, h: u32, softplus: u32, hasBias: u32, hasMask: u32, clampLo: u32, clampHi: u32, lo: f32, hi: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> dt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
${FLAT_ID_WGSL}
// torch's softplus (threshold 20), written to keep precision for large negative inputs
fn softplus_(v: f32) -> f32 {
  if (v > 20.0) { return v; }
  if (v < -15.0) { return exp(v); }
  return log(1.0 + exp(v));
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.n) { return; }
  if (p.hasMask != 0u && mask[i / p.h] == 0) { out[i] = 0.0; return; }
  var v = dt[i];
  if (p.hasBias != 0u) { v = v + bias[i % p.h]; }
  if (p.softplus != 0u) { v = softplus_(v); }
  if (p.clampLo != 0u) { v = max(v, p.lo); }
  if (p.clampHi != 0u) { v = min(v, p.hi); }
  out[i] = v;
}
`;

export const SSM_SCAN_WGSL = /* wgsl */ `
struct P { b: u32, s: u32, h: u32, pd: u32, g: u32, n: u32, hasD: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
@group(0) @binding(3) var<storage, read> a: array<f32>;
@group(0) @binding(4) var<storage, read> d: array<f32>;
@group(0) @binding(5) var<storage, read> bIn: array<f32>;
@group(0) @binding(6) var<storage, read> c: array<f32>;
@group(0) @binding(7) var<storage, read_write> st: array<f32>;
@group(0) @binding(8) var<storage, read_write> out: array<f32>;
${FLAT_ID_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 64u + lid;
  if (i >= p.b * p.h * p.pd) { return; }
  let pi = i % p.pd;
  let hi = (i / p.pd) % p.h;
  let bi = i / (p.pd * p.h);
  let gi = hi / (p.h / p.g);
  let sBase = i * p.n;
  for (var t = 0u; t < p.s; t++) {
    let row = (bi * p.s + t) * p.h + hi;
    let dl = delta[row];
    let decay = exp(dl * a[hi]);
    let xv = x[row * p.pd + pi];
    let dx = dl * xv;
    let gOff = ((bi * p.s + t) * p.g + gi) * p.n;
    var acc = 0.0;
    for (var ni = 0u; ni < p.n; ni++) {
      let v = decay * st[sBase + ni] + dx * bIn[gOff + ni];
      st[sBase + ni] = v;
      acc = acc + v * c[gOff + ni];
    }
    if (p.hasD != 0u) { acc = acc + d[hi] * xv; }
    out[row * p.pd + pi] = acc;
  }
}
`;
