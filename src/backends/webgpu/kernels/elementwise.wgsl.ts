/**
 * Elementwise kernels, one thread per output element, 256 per workgroup.
 *
 * `elementwise`: out[n] = a[n] ⊕ b[bi(n)] (add, mul) | a[n] · factor (scale) | act(a[n]) (activate),
 * with a, b, out float32; bi(n) = n (same shape), n mod bn (b's shape a suffix of a's) or ⌊n / bn⌋
 * (b is [rows, 1], bn = a's last dim). Unary ops bind `a` again as `b`.
 *
 * `gate`: p float32 [S, W] → out float32 [S, I]: W = 2I ("concatenated": gate = p[:, :I], up = p[:, I:];
 * "interleaved": gate = p[:, 0::2], up = p[:, 1::2], with optional gpt_oss clamped SwiGLU) or W = I
 * ("none": out = act(p)).
 */
import { ACTIVATIONS_WGSL, FLAT_ID_WGSL } from "./common.wgsl.js";

export const OPS = { add: 0, mul: 1, scale: 2, activate: 3 } as const;
export const BROADCAST = { same: 0, suffix: 1, row: 2 } as const;

export const ELEMENTWISE_WGSL = /* wgsl */ `
struct P { n: u32, op: u32, mode: u32, bn: u32, factor: f32, act: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${ACTIVATIONS_WGSL}
${FLAT_ID_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.n) { return; }
  let x = a[i];
  switch p.op {
    case 0u, 1u: {
      var j = i;
      if (p.mode == 1u) { j = i % p.bn; } else if (p.mode == 2u) { j = i / p.bn; }
      out[i] = select(x * b[j], x + b[j], p.op == 0u);
    }
    case 2u: { out[i] = x * p.factor; }
    default: { out[i] = act_(p.act, x); }
  }
}
`;

export const GATE_KINDS = { concatenated: 0, interleaved: 1, none: 2 } as const;

export const GATE_WGSL = /* wgsl */ `
struct P { n: u32, inter: u32, width: u32, kind: u32, act: u32, clamped: u32, alpha: f32, limit: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> proj: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${ACTIVATIONS_WGSL}
${FLAT_ID_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.n) { return; }
  if (p.kind == 2u) { out[i] = act_(p.act, proj[i]); return; }
  let r = i / p.inter;
  let c = i % p.inter;
  let base = r * p.width;
  var g: f32;
  var u: f32;
  if (p.kind == 0u) {
    g = proj[base + c];
    u = proj[base + p.inter + c];
  } else {
    g = proj[base + 2u * c];
    u = proj[base + 2u * c + 1u];
  }
  if (p.clamped != 0u) {
    g = min(g, p.limit);
    u = clamp(u, -p.limit, p.limit);
    out[i] = (u + 1.0) * g * sigmoid_(p.alpha * g);
  } else {
    out[i] = act_(p.act, g) * u;
  }
}
`;

/**
 * `softmax` over the last dim: x float32 [R, N] → out float32 [R, N], one 64-thread workgroup per row.
 */
export const SOFTMAX_WGSL = /* wgsl */ `
struct P { rows: u32, n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> red: array<f32, 64>;
${FLAT_ID_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = flat_(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.n;
  var m = -3.402823e38;
  for (var i = lid; i < p.n; i += 64u) { m = max(m, x[base + i]); }
  red[lid] = m;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var i = lid; i < p.n; i += 64u) { sum += exp(x[base + i] - mx); }
  red[lid] = sum;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  for (var i = lid; i < p.n; i += 64u) { out[base + i] = exp(x[base + i] - mx) / total; }
}
`;
