/**
 * Model-layer kernels around the experts: embedding lookup, RMSNorm / LayerNorm, rotary embeddings.
 * Everything computes in float32; weights (the embedding table, norm weights) may be f32 or f16.
 *
 * `embedding`: table [V, H] (f32 | f16), ids int32 [T] → out f32 [T, H]; one thread per output
 *   element. One dispatch per chunk of the table (rows [n0, n1), see runtime.ts ChunkedLayout) writes
 *   the rows of the ids in it; ids outside [0, V) keep the fresh output's zeros (device code cannot
 *   throw; the host checks host ids).
 * `norm`: x f32 [R, D], weight [D] (f32 | f16, optional), bias f32 [D] (LayerNorm, optional) →
 *   out f32 [R, D]; one 64-thread workgroup per row, tree reductions in workgroup memory.
 *   RMS: y = x · (mean(x²) + eps)^-½ · w. Layer: y = (x − mean) · (var + eps)^-½ · w + b (biased var).
 * `rope`: x f32 [T, Hn, D] (leading dims flattened into T), cos / sin f32 [T, R/2] → out f32 [T, Hn, D];
 *   one thread per output element; features ≥ R pass through. halfSplit pairs (i, i + R/2), interleaved
 *   pairs (2i, 2i + 1); a pair (a, b) with angle (c, s) → (a·c − b·s, b·c + a·s).
 */
import { enableF16, FLAT_ID_WGSL, type WeightType } from "./common.wgsl.js";
import { quantWgsl, type QuantWeight } from "./quant-weights.wgsl.js";

export function embeddingWgsl(w: WeightType): string {
  return /* wgsl */ `${enableF16(w)}
struct P { n: u32, h: u32, n0: u32, n1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> table: array<${w}>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${FLAT_ID_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.n) { return; }
  let id = ids[i / p.h];
  if (id >= i32(p.n0) && id < i32(p.n1)) { out[i] = f32(table[(u32(id) - p.n0) * p.h + i % p.h]); }
}
`;
}

/**
 * The embedding gather of a block-format table (GGUF token_embd in q8_0 / q4_0 / q4_k / q6_k ...): the chunk's
 * blocks bound as array<u32> as stored, and only the gathered rows' values widened, by the products' decoders
 * (quant-weights.wgsl.ts) — the table is never widened in GPU memory.
 */
export function embeddingBlocksWgsl(f: QuantWeight): string {
  const q = quantWgsl(f);
  return /* wgsl */ `
struct P { n: u32, k: u32, n0: u32, n1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${q.functions}
${FLAT_ID_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.n) { return; }
  let id = ids[i / p.k];
  if (id >= i32(p.n0) && id < i32(p.n1)) { out[i] = wq_((u32(id) - p.n0) * ${q.rowBytes}, i % p.k); }
}
`;
}

/** `weight`: the norm weight's element type, or "none" (RMSNorm without weight). */
export function normWgsl(kind: "rms" | "layer", weight: WeightType | "none", bias: boolean): string {
  const wt: WeightType = weight === "none" ? "f32" : weight;
  const scaleBy = weight === "none" ? "" : " * f32(w[i])";
  const shift = bias ? " + b[i]" : "";
  const center = kind === "layer" ? "mean" : "0.0";
  return /* wgsl */ `${enableF16(wt)}
struct P { rows: u32, d: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<${wt}>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
var<workgroup> red: array<f32, 64>;
${FLAT_ID_WGSL}
fn sum64_(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = flat_(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.d;
  let fd = f32(p.d);
  var mean = 0.0;
  ${
    kind === "layer"
      ? `var s1 = 0.0;
  for (var i = lid; i < p.d; i += 64u) { s1 += x[base + i]; }
  mean = sum64_(lid, s1) / fd;`
      : ""
  }
  var s2 = 0.0;
  for (var i = lid; i < p.d; i += 64u) { let c = x[base + i] - ${center}; s2 += c * c; }
  let inv = inverseSqrt(sum64_(lid, s2) / fd + p.eps);
  for (var i = lid; i < p.d; i += 64u) { out[base + i] = (x[base + i] - ${center}) * inv${scaleBy}${shift}; }
}
`;
}

export const ROPE_STYLES = { halfSplit: 0, interleaved: 1 } as const;

export const ROPE_WGSL = /* wgsl */ `
struct P { n: u32, heads: u32, d: u32, half: u32, style: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cosT: array<f32>;
@group(0) @binding(3) var<storage, read> sinT: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
${FLAT_ID_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.n) { return; }
  let f = i % p.d;
  if (f >= 2u * p.half) { out[i] = x[i]; return; }
  let tok = i / (p.d * p.heads);
  let base = i - f;
  var pair: u32;
  var second: bool;
  var ia: u32;
  var ib: u32;
  if (p.style == 0u) {
    second = f >= p.half;
    pair = select(f, f - p.half, second);
    ia = base + pair;
    ib = base + pair + p.half;
  } else {
    second = (f & 1u) == 1u;
    pair = f / 2u;
    ia = base + 2u * pair;
    ib = ia + 1u;
  }
  let c = cosT[tok * p.half + pair];
  let s = sinT[tok * p.half + pair];
  let a = x[ia];
  let b = x[ib];
  out[i] = select(a * c - b * s, b * c + a * s, second);
}
`;
