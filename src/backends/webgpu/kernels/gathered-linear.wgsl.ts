/**
 * `gatheredLinear` (batched_mm, the decode path): y[s, n] = Σ_k x[⌊s / rowsPerInput⌋, k] · w[ids[s], n, k]
 * (+ bias[ids[s], n]), reading each slot's expert weights in place.
 *
 * Shapes: x float32 [S / rowsPerInput, K]; w [E, N, K] (f32, or f16 with shader-f16); ids int32 [S];
 * bias float32 [E, N]; y float32 [S, N].
 *
 * A gathered matrix-vector product, bandwidth-bound: a workgroup of 256 threads computes 8 outputs
 * (8 weight rows) of one slot, 32 threads per row striding over K (coalesced), then a tree reduction.
 * Workgroups are linearised as slot-major (s, column block). Out-of-range expert ids write zeros.
 */
import { enableF16, FLAT_ID_WGSL, type WeightType } from "./common.wgsl.js";

export const ROWS_PER_GROUP = 8;

export function gatheredWgsl(w: WeightType, bias: boolean): string {
  return /* wgsl */ `${enableF16(w)}
struct P { s: u32, n: u32, k: u32, experts: u32, rpi: u32, blocks: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<${w}>;
@group(0) @binding(3) var<storage, read> ids: array<i32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
var<workgroup> red: array<f32, 256>;
${FLAT_ID_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let id = flat_(wid, nwg);
  let s = id / p.blocks;
  if (s >= p.s) { return; }
  let r = lid / 32u;
  let lane = lid % 32u;
  let n = (id % p.blocks) * 8u + r;
  let e = ids[s];
  let ok = n < p.n && e >= 0 && u32(e) < p.experts;
  var acc = 0.0;
  if (ok) {
    let xb = (s / p.rpi) * p.k;
    let wb = (u32(e) * p.n + n) * p.k;
    for (var k = lane; k < p.k; k += 32u) { acc += x[xb + k] * f32(w[wb + k]); }
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var off = 16u; off > 0u; off >>= 1u) {
    if (lane < off) { red[lid] = red[lid] + red[lid + off]; }
    workgroupBarrier();
  }
  if (lane == 0u && n < p.n) {
    var v = 0.0;
    if (ok) { v = red[lid]${bias ? " + bias[u32(e) * p.n + n]" : ""}; }
    y[s * p.n + n] = v;
  }
}
`;
}
