/**
 * Tiled GEMM for `linear` and `groupedLinear`: y[s, n] = Σ_k x[row(s), k] · w[e(s), n, k] (+ bias[e(s), n]).
 *
 * Shapes: x float32 [R, K]; w one chunk of an [E, N, K] stack (f32, or f16 with shader-f16; a plain
 * [N, K] weight is E = 1): experts [e0, e1) × rows [n0, n1), see runtime.ts ChunkedLayout (an unsplit
 * weight is one chunk); bias float32 [E, N]; y float32 [S, N]. One dispatch per chunk writes the
 * columns [n0, n1) of the rows whose expert lies in [e0, e1).
 *
 * Tiles of BM rows × 64 columns, BK = 16, 16 × 16 threads each computing TM × 4 outputs (TM = 4:
 * BM = 64 for large segments; TM = 1: BM = 16 when segments are short, as in decode and small batches).
 * Weights are read as f32 or f16 and accumulated in f32.
 * - dense (`linear`): row tile = workgroup_id.x over rows [0, M), expert fixed by the uniform.
 * - grouped (`groupedLinear`): workgroup_id.x indexes a tile table (expert, first row, end row) that
 *   `TILES_WGSL` builds on the GPU from the sorted offsets, and that kernel also writes the indirect
 *   dispatch arguments (tile count × column tiles × 1): the grid is exactly the work, and no expert
 *   counts ever come back to the host. row(s) = ⌊rowIndex[s] / rowsPerInput⌋ with a gather, else s.
 */
import { enableF16, type WeightType } from "./common.wgsl.js";
import { quantWgsl, type QuantWeight } from "./quant-weights.wgsl.js";

export const TILE_N = 64;

export interface GemmVariant {
  /** Float weights, or a block format widened value by value as the weight tile loads (quant-weights.wgsl.ts; vec4 off). */
  w: WeightType | QuantWeight;
  grouped: boolean;
  gather: boolean;
  bias: boolean;
  /** Rows per thread: 4 (BM = 64) or 1 (BM = 16). */
  tm: 1 | 4;
  /** vec4 loads of x and w (K % 4 = 0): one load per thread per operand tile. */
  vec4: boolean;
}

/** Row-tile height of a variant. */
export function tileM(v: Pick<GemmVariant, "tm">): number {
  return 16 * v.tm;
}

export function gemmKey(v: GemmVariant): string {
  return `gemm.${v.w}.${v.grouped ? "grouped" : "dense"}.tm${v.tm}${v.vec4 ? ".v4" : ""}${v.gather ? ".gather" : ""}${v.bias ? ".bias" : ""}`;
}

/** Uniform block of the GEMM (same order as gemmParams in backend.ts). */
const GEMM_PARAMS = `struct P { m: u32, n: u32, k: u32, expert: u32, rpi: u32, e0: u32, n0: u32, n1: u32 }`;

/** Operand tiles by scalar loads: thread (kk = lid % 16) loads column k0 + kk of TM x rows and 4 w rows. */
function scalarLoads(v: GemmVariant): string {
  return `var xrow: array<i32, ${v.tm}>;
  for (var q = 0u; q < TM; q++) {
    let sr = r0 + lid / 16u + 16u * q;
    xrow[q] = -1;
    if (sr < r1) { xrow[q] = ${v.gather ? "rowIndex[sr] / i32(p.rpi)" : "i32(sr)"}; }
  }
  var acc: array<f32, ${4 * v.tm}>;
  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    let kx = k0 + kk;
    for (var q = 0u; q < TM; q++) {
      let m = lid / 16u + 16u * q;
      var av = 0.0;
      if (xrow[q] >= 0 && kx < p.k) { av = x[u32(xrow[q]) * p.k + kx]; }
      As[kk * BM + m] = av;
    }
    for (var q = 0u; q < 4u; q++) {
      let c = lid / 16u + 16u * q;
      let nc = c0 + c;
      var bv = 0.0;
      if (nc < rows && kx < p.k) { bv = ${v.w === "f32" || v.w === "f16" ? "f32(w[wbase + nc * p.k + kx])" : `wq_(((e - p.e0) * rows + nc) * ${quantWgsl(v.w).rowBytes}, kx)`}; }
      Bs[kk * BN + c] = bv;
    }
`;
}

/**
 * Operand tiles by vec4 loads (K % 4 = 0): thread lid loads k0 + 4·(lid % 4) .. + 3 of tile row lid / 4
 * (64 rows × 16 k = 256 vec4 per operand; the BM = 16 x tile uses the first 64 threads).
 */
function vec4Loads(v: GemmVariant): string {
  return `let k4 = p.k / 4u;
  let tr = lid / 4u;
  let kq = lid % 4u;
  let sr = r0 + tr;
  var xr = -1;
  if (tr < BM && sr < r1) { xr = ${v.gather ? "rowIndex[sr] / i32(p.rpi)" : "i32(sr)"}; }
  let wn = c0 + tr;
  var acc: array<f32, ${4 * v.tm}>;
  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    let kv = k0 / 4u + kq;
    var av = vec4<f32>(0.0);
    if (xr >= 0 && kv < k4) { av = x[u32(xr) * k4 + kv]; }
    if (tr < BM) {
      As[(4u * kq) * BM + tr] = av.x;
      As[(4u * kq + 1u) * BM + tr] = av.y;
      As[(4u * kq + 2u) * BM + tr] = av.z;
      As[(4u * kq + 3u) * BM + tr] = av.w;
    }
    var bv = vec4<f32>(0.0);
    if (wn < rows && kv < k4) { bv = vec4<f32>(w[wbase / 4u + wn * k4 + kv]); }
    Bs[(4u * kq) * BN + tr] = bv.x;
    Bs[(4u * kq + 1u) * BN + tr] = bv.y;
    Bs[(4u * kq + 2u) * BN + tr] = bv.z;
    Bs[(4u * kq + 3u) * BN + tr] = bv.w;
`;
}

export function gemmWgsl(v: GemmVariant): string {
  const tm = v.tm;
  const locate = v.grouped
    ? `
  let info = tiles[p.expert + wid.x];`
    : `
  let info = vec4<u32>(p.expert, wid.x * BM, min(wid.x * BM + BM, p.m), 1u);`;
  const q = v.w === "f32" || v.w === "f16" ? undefined : quantWgsl(v.w);
  if (q && v.vec4) throw new Error(`gemm: ${v.w} weights are read without vec4 loads`);
  return /* wgsl */ `${v.w === "f16" ? enableF16(v.w) : ""}
const TM = ${tm}u;
const BM = ${16 * tm}u;
const BN = 64u;
const BK = 16u;
${GEMM_PARAMS}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<${v.vec4 ? "vec4<f32>" : "f32"}>;
@group(0) @binding(2) var<storage, read> w: array<${q ? "u32" : v.vec4 ? `vec4<${v.w}>` : v.w}>;
@group(0) @binding(3) var<storage, read> tiles: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> rowIndex: array<i32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
var<workgroup> As: array<f32, ${16 * 16 * tm}>;
var<workgroup> Bs: array<f32, 1024>;
${q ? q.functions : ""}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${locate}
  let e = info.x;
  let r0 = info.y;
  let r1 = info.z;
  let rows = p.n1 - p.n0;
  let c0 = wid.y * BN;
  let wbase = (e - p.e0) * rows * p.k;
  let kk = lid % 16u;
${v.vec4 ? vec4Loads(v) : scalarLoads(v)}    workgroupBarrier();
    for (var c = 0u; c < BK; c++) {
      var a: array<f32, ${tm}>;
      var b: array<f32, 4>;
      for (var i = 0u; i < TM; i++) { a[i] = As[c * BM + l3.y + 16u * i]; }
      for (var j = 0u; j < 4u; j++) { b[j] = Bs[c * BN + l3.x + 16u * j]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] += a[i] * b[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TM; i++) {
    let sr = r0 + l3.y + 16u * i;
    if (sr >= r1) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let nc = c0 + l3.x + 16u * j;
      if (nc < rows) {
        let n = p.n0 + nc;
        y[sr * p.n + n] = acc[i * 4u + j]${v.bias ? " + bias[e * p.n + n]" : ""};
      }
    }
  }
}
`;
}

/**
 * The tile table and indirect arguments of one grouped GEMM dispatch (one weight chunk): for experts
 * [e0, e1), segment [offsets[e], offsets[e + 1]) cut into tiles of BM rows; tiles[base + i] =
 * (e, first row, end row, 0); args[3·slot ..] = (tile count, column tiles, 1). One thread: E + tiles
 * steps, negligible next to the GEMM. At most `maxTiles` tiles (⌈S / BM⌉ + min(E, S) bounds them).
 */
export const TILES_WGSL = /* wgsl */ `
struct P { e0: u32, e1: u32, bm: u32, colTiles: u32, maxTiles: u32, base: u32, slot: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> offsets: array<i32>;
@group(0) @binding(2) var<storage, read_write> tiles: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> args: array<u32>;
@compute @workgroup_size(1)
fn main() {
  var count = 0u;
  for (var e = p.e0; e < p.e1; e++) {
    let lo = u32(max(offsets[e], 0));
    let hi = max(u32(max(offsets[e + 1u], 0)), lo);
    for (var r = lo; r < hi && count < p.maxTiles; r += p.bm) {
      tiles[p.base + count] = vec4<u32>(e, r, min(r + p.bm, hi), 0u);
      count++;
    }
  }
  args[3u * p.slot] = count;
  args[3u * p.slot + 1u] = p.colTiles;
  args[3u * p.slot + 2u] = 1u;
}
`;
