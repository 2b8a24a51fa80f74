/**
 * `sortByExpert` on the GPU: a stable counting sort of slot expert ids int32 [S] into E segments, in
 * four dispatches and with no readback. Slots are cut into chunks of 256 (C = ⌈S / 256⌉ chunks).
 *
 * 1. `histogram`: counts u32 [C, E] (zeroed) — per-chunk expert histogram (atomics).
 * 2. `chunkScan`: base u32 [C, E], totals u32 [E] — per expert, exclusive scan of its counts over chunks.
 * 3. `expertScan`: offsets int32 [E + 1] — exclusive scan of totals; offsets[E] = S.
 * 4. `scatter`: order int32 [S], position int32 [S] — slot s of chunk c with expert e goes to
 *    offsets[e] + base[c, e] + (slots before s in its chunk with the same expert); order[pos] = s,
 *    position[s] = pos. Stable: ties keep slot order.
 * Ids outside [0, E) are not counted and their slots are not placed (device code cannot throw).
 */
import { FLAT_ID_WGSL } from "./common.wgsl.js";

export const SORT_CHUNK = 256;

const PARAMS = /* wgsl */ `struct P { s: u32, e: u32, chunks: u32 }
@group(0) @binding(0) var<uniform> p: P;
${FLAT_ID_WGSL}`;

export const HISTOGRAM_WGSL = /* wgsl */ `${PARAMS}
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = flat_(wid, nwg);
  let s = c * 256u + lid;
  if (s >= p.s) { return; }
  let e = ids[s];
  if (e < 0 || u32(e) >= p.e) { return; }
  atomicAdd(&counts[c * p.e + u32(e)], 1u);
}
`;

export const CHUNK_SCAN_WGSL = /* wgsl */ `${PARAMS}
@group(0) @binding(1) var<storage, read> counts: array<u32>;
@group(0) @binding(2) var<storage, read_write> base: array<u32>;
@group(0) @binding(3) var<storage, read_write> totals: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = flat_(wid, nwg) * 64u + lid;
  if (e >= p.e) { return; }
  var run = 0u;
  for (var c = 0u; c < p.chunks; c++) {
    base[c * p.e + e] = run;
    run += counts[c * p.e + e];
  }
  totals[e] = run;
}
`;

export const EXPERT_SCAN_WGSL = /* wgsl */ `${PARAMS}
@group(0) @binding(1) var<storage, read> totals: array<u32>;
@group(0) @binding(2) var<storage, read_write> offsets: array<i32>;
var<workgroup> part: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  // Each thread sums a contiguous run of experts, then a serial scan of the 256 partial sums.
  let per = (p.e + 255u) / 256u;
  let lo = min(lid * per, p.e);
  let hi = min(lo + per, p.e);
  var sum = 0u;
  for (var e = lo; e < hi; e++) { sum += totals[e]; }
  part[lid] = sum;
  workgroupBarrier();
  if (lid == 0u) {
    var run = 0u;
    for (var i = 0u; i < 256u; i++) {
      let v = part[i];
      part[i] = run;
      run += v;
    }
  }
  workgroupBarrier();
  var run = part[lid];
  for (var e = lo; e < hi; e++) {
    offsets[e] = i32(run);
    run += totals[e];
  }
  if (lid == 255u) { offsets[p.e] = i32(run); }
}
`;

export const SCATTER_WGSL = /* wgsl */ `${PARAMS}
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> base: array<u32>;
@group(0) @binding(3) var<storage, read> offsets: array<i32>;
@group(0) @binding(4) var<storage, read_write> order: array<i32>;
@group(0) @binding(5) var<storage, read_write> position: array<i32>;
var<workgroup> chunk: array<i32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = flat_(wid, nwg);
  if (c >= p.chunks) { return; }
  let s = c * 256u + lid;
  var e = -1;
  if (s < p.s) { e = ids[s]; }
  chunk[lid] = e;
  workgroupBarrier();
  if (e < 0 || u32(e) >= p.e) { return; }
  var rank = 0u;
  for (var j = 0u; j < lid; j++) { rank += select(0u, 1u, chunk[j] == e); }
  let pos = u32(offsets[e]) + base[c * p.e + u32(e)] + rank;
  order[pos] = i32(s);
  position[s] = i32(pos);
}
`;
