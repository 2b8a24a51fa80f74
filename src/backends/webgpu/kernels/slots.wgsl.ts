/**
 * Slot bookkeeping kernels, one thread per output element (256 per workgroup), float32 throughout.
 *
 * `combineSlots`: y [R, H], weights [T, K], slotRow int32 [T·K] (optional) → out [T, H];
 *   out[t, c] = Σ_{k < K} y[row(t, k), c] · weights[t, k], summed in slot order; row = slotRow[t·K + k]
 *   when `mapped`, else t·K + k.
 * `gatherRows`: x [R, H], rows int32 [n] → out [n, H].
 * `accumulateRows` (in place): out [T, H] += y [n, H] · weights [n] at rows int32 [n], i in order; one
 *   thread per column so repeated rows accumulate in order.
 * Out-of-range rows read zeros / are skipped (device code cannot throw).
 */
import { FLAT_ID_WGSL } from "./common.wgsl.js";

const HEAD = /* wgsl */ `
${FLAT_ID_WGSL}
`;

export function combineWgsl(mapped: boolean): string {
  return /* wgsl */ `
struct P { t: u32, h: u32, k: u32, rows: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> slotRow: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
${HEAD}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.t * p.h) { return; }
  let t = i / p.h;
  let c = i % p.h;
  var acc = 0.0;
  for (var j = 0u; j < p.k; j++) {
    let slot = t * p.k + j;
    let row = ${mapped ? "u32(slotRow[slot])" : "slot"};
    if (row < p.rows) { acc += y[row * p.h + c] * weights[slot]; }
  }
  out[i] = acc;
}
`;
}

export const GATHER_ROWS_WGSL = /* wgsl */ `
struct P { n: u32, h: u32, rows: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${HEAD}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.n * p.h) { return; }
  let r = u32(rows[i / p.h]);
  var v = 0.0;
  if (r < p.rows) { v = x[r * p.h + i % p.h]; }
  out[i] = v;
}
`;

export const ACCUMULATE_ROWS_WGSL = /* wgsl */ `
struct P { n: u32, h: u32, t: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<i32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
${HEAD}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = flat_(wid, nwg) * 256u + lid;
  if (c >= p.h) { return; }
  for (var i = 0u; i < p.n; i++) {
    let r = u32(rows[i]);
    if (r < p.t) { out[r * p.h + c] = out[r * p.h + c] + y[i * p.h + c] * weights[i]; }
  }
}
`;
