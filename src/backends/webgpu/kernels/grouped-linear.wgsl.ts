/**
 * Tiled GEMM for `linear` and `groupedLinear`: y[s, n] = Σ_k x[row(s), k] · w[e(s), n, k] (+ bias[e(s), n]).
 *
 * Shapes: x float32 [R, K]; w [E, N, K] (f32, or f16 with shader-f16; a plain [N, K] weight is E = 1);
 * offsets int32 [E + 1] (grouped only); rowIndex int32 [S] (gathered rows only); bias float32 [E, N];
 * y float32 [S, N].
 *
 * Tiles of 64 rows × 64 columns, BK = 16, 16 × 16 threads each computing 4 × 4 outputs.
 * - dense (`linear`): tile row block = workgroup_id.x over rows [0, M), expert fixed by the uniform.
 * - grouped (`groupedLinear`): the grid is sized for the worst case, ⌈S / 64⌉ + min(E, S) row tiles;
 *   each workgroup walks the offsets buffer on the GPU to find which expert segment (and which 64-row
 *   slice of it) its tile id falls in, and exits early when the id is past the last tile. No expert
 *   counts ever come back to the host. row(s) = ⌊rowIndex[s] / rowsPerInput⌋ with a gather, else s.
 */
import { enableF16, type WeightType } from "./common.wgsl.js";

export const TILE_M = 64;
export const TILE_N = 64;

export interface GemmVariant {
  w: WeightType;
  grouped: boolean;
  gather: boolean;
  bias: boolean;
}

export function gemmKey(v: GemmVariant): string {
  return `gemm.${v.w}.${v.grouped ? "grouped" : "dense"}${v.gather ? ".gather" : ""}${v.bias ? ".bias" : ""}`;
}

export function gemmWgsl(v: GemmVariant): string {
  const locate = v.grouped
    ? `
  if (lid == 0u) {
    var t = wid.x;
    var info = vec4<u32>(0u, 0u, 0u, 0u);
    for (var e = 0u; e < p.experts; e++) {
      let lo = u32(offsets[e]);
      let hi = max(u32(offsets[e + 1u]), lo);
      let nt = (hi - lo + BM - 1u) / BM;
      if (t < nt) {
        info = vec4<u32>(e, lo + t * BM, min(lo + (t + 1u) * BM, hi), 1u);
        break;
      }
      t -= nt;
    }
    tile = info;
  }
  let info = workgroupUniformLoad(&tile);
  if (info.w == 0u) { return; }`
    : `
  let info = vec4<u32>(p.expert, wid.x * BM, min(wid.x * BM + BM, p.m), 1u);`;
  return /* wgsl */ `${enableF16(v.w)}
const BM = 64u;
const BN = 64u;
const BK = 16u;
struct P { m: u32, n: u32, k: u32, experts: u32, expert: u32, rpi: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<${v.w}>;
@group(0) @binding(3) var<storage, read> offsets: array<i32>;
@group(0) @binding(4) var<storage, read> rowIndex: array<i32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;
var<workgroup> tile: vec4<u32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${locate}
  let e = info.x;
  let r0 = info.y;
  let r1 = info.z;
  let n0 = wid.y * BN;
  let wbase = e * p.n * p.k;
  let kk = lid % 16u;
  var xrow: array<i32, 4>;
  for (var q = 0u; q < 4u; q++) {
    let sr = r0 + lid / 16u + 16u * q;
    xrow[q] = -1;
    if (sr < r1) { xrow[q] = ${v.gather ? "rowIndex[sr] / i32(p.rpi)" : "i32(sr)"}; }
  }
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    let kx = k0 + kk;
    for (var q = 0u; q < 4u; q++) {
      let m = lid / 16u + 16u * q;
      var av = 0.0;
      if (xrow[q] >= 0 && kx < p.k) { av = x[u32(xrow[q]) * p.k + kx]; }
      As[kk * BM + m] = av;
      let n = n0 + m;
      var bv = 0.0;
      if (n < p.n && kx < p.k) { bv = f32(w[wbase + n * p.k + kx]); }
      Bs[kk * BN + m] = bv;
    }
    workgroupBarrier();
    for (var c = 0u; c < BK; c++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = As[c * BM + l3.y + 16u * i];
        b[i] = Bs[c * BN + l3.x + 16u * i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] += a[i] * b[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let sr = r0 + l3.y + 16u * i;
    if (sr >= r1) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + l3.x + 16u * j;
      if (n < p.n) { y[sr * p.n + n] = acc[i * 4u + j]${v.bias ? " + bias[e * p.n + n]" : ""}; }
    }
  }
}
`;
}
