/**
 * Recurrent-layer kernels (CausalConvSpec / DeltaRuleSpec in ../../backend.ts), float32 throughout.
 *
 * `causalConv`: x f32 [B, S, C], weight [C, Kw] (f32 | f16), bias f32 [C] (optional), tokenMask i32
 *   [B, S] (optional), out f32 [B, S, C], state f32 [B, Kw − 1, C] read and written in place (the caller
 *   copies the incoming window there first). One thread per (b, c) walks the tokens in order with the
 *   window in registers (Kw ≤ MAX_CONV_WIDTH); masked tokens are skipped.
 * `deltaGate`: decay = exp(scale[h] · softplus(a + bias)) for gate.a f32 [B, S, H(, Dk)]; one thread
 *   per element.
 * `deltaRule`: q, k f32 [B, S, H, Dk], v f32 [B, S, H, Dv], beta f32 [B, S, H], decay f32 [B, S, H(, Dk)],
 *   tokenMask i32 [B, S] (optional), out f32 [B, S, H, Dv], state f32 [B, H, Dk, Dv] in place. One
 *   64-thread workgroup per (b, h, block of 64 value columns); thread j keeps column j of the state
 *   (Dk ≤ MAX_DELTA_KEY_DIM entries) in registers; each token's k, q and decay are staged in workgroup
 *   memory. The token loop is uniform (masked tokens still pass the barriers, updating nothing).
 */
import { ACTIVATIONS_WGSL, enableF16, FLAT_ID_WGSL, type WeightType } from "./common.wgsl.js";

export const MAX_CONV_WIDTH = 16;
export const MAX_DELTA_KEY_DIM = 256;

export function causalConvWgsl(w: WeightType, opts: { bias: boolean; mask: boolean }): string {
  return /* wgsl */ `${enableF16(w)}
struct P { b: u32, s: u32, c: u32, kw: u32, act: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<${w}>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> tokenMask: array<i32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> state: array<f32>;
${FLAT_ID_WGSL}
${ACTIVATIONS_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 64u + lid;
  if (i >= p.b * p.c) { return; }
  let bi = i / p.c;
  let ch = i % p.c;
  let keep = p.kw - 1u;
  var win: array<f32, ${MAX_CONV_WIDTH}>;
  for (var j = 0u; j < keep; j++) { win[j] = state[(bi * keep + j) * p.c + ch]; }
  for (var t = 0u; t < p.s; t++) {
    ${opts.mask ? "if (tokenMask[bi * p.s + t] == 0) { continue; }" : ""}
    let at = (bi * p.s + t) * p.c + ch;
    win[keep] = x[at];
    var acc = ${opts.bias ? "bias[ch]" : "0.0"};
    for (var j = 0u; j < p.kw; j++) { acc += f32(w[ch * p.kw + j]) * win[j]; }
    out[at] = act_(p.act, acc);
    for (var j = 0u; j < keep; j++) { win[j] = win[j + 1u]; }
  }
  for (var j = 0u; j < keep; j++) { state[(bi * keep + j) * p.c + ch] = win[j]; }
}
`;
}

export const DELTA_GATE_WGSL = /* wgsl */ `
struct P { n: u32, h: u32, per: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> decay: array<f32>;
${FLAT_ID_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_(wid, nwg) * 256u + lid;
  if (i >= p.n) { return; }
  let hb = i % (p.h * p.per);
  let x = a[i] + bias[hb];
  var sp = x;
  if (x <= 20.0) { sp = log(1.0 + exp(x)); }
  decay[i] = exp(scale[hb / p.per] * sp);
}
`;

export function deltaRuleWgsl(opts: { mask: boolean }): string {
  return /* wgsl */ `
struct P { b: u32, s: u32, h: u32, dk: u32, dv: u32, per: u32, blocks: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> decay: array<f32>;
@group(0) @binding(6) var<storage, read> tokenMask: array<i32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
@group(0) @binding(8) var<storage, read_write> state: array<f32>;
var<workgroup> ks: array<f32, ${MAX_DELTA_KEY_DIM}>;
var<workgroup> qs: array<f32, ${MAX_DELTA_KEY_DIM}>;
var<workgroup> ds: array<f32, ${MAX_DELTA_KEY_DIM}>;
${FLAT_ID_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flat_(wid, nwg);
  let blk = g % p.blocks;
  let bh = g / p.blocks;
  let live = bh < p.b * p.h;
  let bi = bh / p.h;
  let hd = bh % p.h;
  let j = blk * 64u + lid;
  let col = live && j < p.dv;
  let sb = bh * p.dk * p.dv;
  var S: array<f32, ${MAX_DELTA_KEY_DIM}>;
  if (col) { for (var i = 0u; i < p.dk; i++) { S[i] = state[sb + i * p.dv + j]; } }
  for (var t = 0u; t < p.s; t++) {
    let row = (bi * p.s + t) * p.h + hd;
    if (live) {
      for (var i = lid; i < p.dk; i += 64u) {
        ks[i] = k[row * p.dk + i];
        qs[i] = q[row * p.dk + i];
        ds[i] = decay[select(row, row * p.dk + i, p.per > 1u)];
      }
    }
    workgroupBarrier();
    var on = col;
    ${opts.mask ? "if (on) { on = tokenMask[bi * p.s + t] != 0; }" : ""}
    if (on) {
      var kv = 0.0;
      for (var i = 0u; i < p.dk; i++) { S[i] *= ds[i]; kv += ks[i] * S[i]; }
      let u = (v[row * p.dv + j] - kv) * beta[row];
      var o = 0.0;
      for (var i = 0u; i < p.dk; i++) { S[i] += ks[i] * u; o += qs[i] * S[i]; }
      out[row * p.dv + j] = o;
    }
    workgroupBarrier();
  }
  if (col) { for (var i = 0u; i < p.dk; i++) { state[sb + i * p.dv + j] = S[i]; } }
}
`;
}
