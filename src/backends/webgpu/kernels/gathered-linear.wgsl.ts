/**
 * Matrix-vector products, bandwidth-bound: `gatheredLinear` (batched_mm, the decode path), `linear`
 * with few rows (decode projections, the LM head) and `groupedLinear` when segments are a few rows
 * long (grouped_mm at decode: a 16-row GEMM tile would compute mostly padding):
 *   y[s, n] = Σ_k x[row(s), k] · w[e(s), n, k] (+ bias[e(s), n])
 * with e(s) = ids[s] (gathered), the uniform's expert (dense), or the segment of offsets int32 [E + 1]
 * holding s (segments: a binary search on the GPU, no counts read back); row(s) = ⌊s / rowsPerInput⌋,
 * or ⌊rowIndex[s] / rowsPerInput⌋ with a row gather (segments). Weights are read in place.
 *
 * Shapes: x float32 [S / rowsPerInput, K]; w one chunk of an [E, N, K] stack (experts [e0, e1) × rows
 * [n0, n1), see runtime.ts ChunkedLayout); ids int32 [S]; bias float32 [E, N]; y float32 [S, N].
 * One dispatch per chunk; a workgroup whose slot's expert lies outside the chunk returns at once (its
 * expert is read by one thread and shared with workgroupUniformLoad). Ids outside [0, E) are in no
 * chunk: their rows keep the zeros of the fresh output.
 *
 * A workgroup of 256 threads computes 32 output rows of one slot, 8 lanes per row striding over K
 * (each lane reads vec4 of f32 or f16 weights when K % 4 = 0, so a row's 8 lanes read 128 or 64
 * contiguous bytes), then a 3-step reduction in workgroup memory. Accumulation in f32. Workgroups are
 * linearised slot-major (s, row block).
 */
import { enableF16, FLAT_ID_WGSL, type WeightType } from "./common.wgsl.js";
import { inputBlock, int8DotWgsl, isInt8DotWeight } from "./int8-dot.wgsl.js";
import { quantWgsl, type QuantWeight } from "./quant-weights.wgsl.js";

export const MV_ROWS = 32;
const LANES = 8;

export interface MatvecVariant {
  /** Float weights, or a block format widened value by value in the lanes (quant-weights.wgsl.ts; vec4 off). */
  w: WeightType | QuantWeight;
  /** How a slot finds its expert. */
  mode: "dense" | "gathered" | "segments";
  /** Input rows through rowIndex (segments mode). */
  gather?: boolean;
  bias: boolean;
  /** vec4 loads (K % 4 = 0). */
  vec4: boolean;
  /** x holds the int8-quantized input rows (int8-dot.wgsl.ts) and the lanes sum dot4I8Packed per 32-value unit. */
  int8?: boolean;
}

export function matvecKey(v: MatvecVariant): string {
  return `matvec.${v.w}.${v.mode}${v.gather ? ".gather" : ""}${v.vec4 ? ".v4" : ""}${v.int8 ? ".i8" : ""}${v.bias ? ".bias" : ""}`;
}

export function gatheredWgsl(v: MatvecVariant): string {
  const q = v.w === "f32" || v.w === "f16" ? undefined : quantWgsl(v.w);
  if (q && v.vec4) throw new Error(`matvec: ${v.w} weights are read without vec4 loads`);
  if (v.int8 && !isInt8DotWeight(v.w)) throw new Error(`matvec: int8 dot products need integer-code block weights, not ${v.w}`);
  const xs = v.int8 ? "u32" : v.vec4 ? "vec4<f32>" : "f32";
  const ws = q ? "u32" : v.vec4 ? `vec4<${v.w}>` : v.w;
  const dot = v.int8
    ? `let rb = ((u32(e) - p.e0) * rows + nc) * ${q!.rowBytes};
    for (var u = lane; u < p.k / 32u; u += ${LANES}u) { acc += unit_(rb, u, xb); }`
    : q
    ? `let rb = ((u32(e) - p.e0) * rows + nc) * ${q.rowBytes};
    for (var k = lane; k < kv; k += ${LANES}u) { acc += x[xb + k] * wq_(rb, k); }`
    : v.vec4
      ? `for (var k = lane; k < kv; k += ${LANES}u) { acc += dot(x[xb + k], vec4<f32>(w[wb + k])); }`
      : `for (var k = lane; k < kv; k += ${LANES}u) { acc += x[xb + k] * f32(w[wb + k]); }`;
  return /* wgsl */ `${v.w === "f16" ? enableF16(v.w) : ""}
struct P { s: u32, n: u32, k: u32, expert: u32, rpi: u32, blocks: u32, e0: u32, e1: u32, n0: u32, n1: u32, experts: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<${xs}>;
@group(0) @binding(2) var<storage, read> w: array<${ws}>;
@group(0) @binding(3) var<storage, read> ids: array<i32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> rowIndex: array<i32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
var<workgroup> red: array<f32, 256>;
var<workgroup> slotExpert: i32;
${FLAT_ID_WGSL}${q ? q.functions : ""}${v.int8 ? int8DotWgsl(v.w as QuantWeight) : ""}
// The expert whose segment [ids[e], ids[e + 1]) holds slot s (segments mode: ids = offsets [E + 1]).
fn segment_(s: u32) -> i32 {
  var lo = 0u;
  var hi = p.experts;
  while (lo < hi) {
    let mid = (lo + hi + 1u) / 2u;
    if (u32(ids[mid]) <= s) { lo = mid; } else { hi = mid - 1u; }
  }
  if (u32(ids[lo]) > s) { return -1; }
  return i32(lo);
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let id = flat_(wid, nwg);
  let s = id / p.blocks;
  if (s >= p.s) { return; }
  let r = lid / ${LANES}u;
  let lane = lid % ${LANES}u;
  let nc = (id % p.blocks) * ${MV_ROWS}u + r;
  let rows = p.n1 - p.n0;
  // The slot's expert, made workgroup-uniform: a workgroup whose slot is not in this chunk leaves at once.
  if (lid == 0u) { slotExpert = ${v.mode === "gathered" ? "ids[s]" : v.mode === "segments" ? "segment_(s)" : "i32(p.expert)"}; }
  let e = workgroupUniformLoad(&slotExpert);
  if (e < i32(p.e0) || e >= i32(p.e1)) { return; }
  let ok = nc < rows;
  let kv = ${v.int8 ? inputRowStride(v.w as QuantWeight) : v.vec4 ? "p.k / 4u" : "p.k"};
  var acc = 0.0;
  if (ok) {
    let xb = (${v.gather ? "u32(rowIndex[s])" : "s"} / p.rpi) * kv;
    ${q ? "" : "let wb = ((u32(e) - p.e0) * rows + nc) * kv;"}
    ${dot}
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var off = ${LANES / 2}u; off > 0u; off >>= 1u) {
    if (lane < off) { red[lid] = red[lid] + red[lid + off]; }
    workgroupBarrier();
  }
  if (lane == 0u && ok) {
    let n = p.n0 + nc;
    y[s * p.n + n] = red[lid]${v.bias ? " + bias[u32(e) * p.n + n]" : ""};
  }
}
`;
}

/** The WGSL row stride (u32 words) of the quantized input rows of an int8 variant. */
function inputRowStride(f: QuantWeight): string {
  if (!isInt8DotWeight(f)) throw new Error(`matvec: ${f} has no int8 input layout`);
  const b = inputBlock(f);
  // as inputRowWords(k, b) on the host
  return `(p.k / 4u + p.k / ${b}u + p.k / 16u)`;
}
