/**
 * Scaled dot-product attention (AttentionSpec in ../../backend.ts), float32 throughout.
 *
 * Shapes: q [B, Sq, Hq, Dk], k [B, Skv, Hkv, Dk], v [B, Skv, Hkv, Dv] → out [B, Sq, Hq, Dv];
 * keyMask int32 [B, Skv] (optional, 0 = padding), sinks f32 [Hq] (optional). Dk, Dv ≤ MAX_HEAD_DIM.
 *
 * One 64-thread workgroup per query row (b, i, h), linearised row-major. The row's visible key range
 * [lo, hi) comes from the causal and sliding-window bounds (uniform over the workgroup); keys are
 * walked in chunks of 64: thread j scores key lo + c·64 + j (q held in workgroup memory), then every
 * thread updates an online softmax (running max m, sum l) and the output features it owns
 * (f = lid + 64·r, r < MAX_HEAD_DIM / 64). A sink starts the row at m = sink, l = 1. Keys hidden by
 * the mask get probability 0; a row with no visible key writes zeros. GQA: head h reads kv head
 * ⌊h / (Hq / Hkv)⌋.
 */
import { FLAT_ID_WGSL } from "./common.wgsl.js";

export const MAX_HEAD_DIM = 512;
const CHUNK = 64;

export function attentionWgsl(opts: { mask: boolean; sinks: boolean }): string {
  const slots = MAX_HEAD_DIM / CHUNK;
  return /* wgsl */ `
struct P { b: u32, sq: u32, skv: u32, hq: u32, hkv: u32, dk: u32, dv: u32, offset: u32, causal: u32, window: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> keyMask: array<i32>;
@group(0) @binding(5) var<storage, read> sinks: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
var<workgroup> qs: array<f32, ${MAX_HEAD_DIM}>;
var<workgroup> pr: array<f32, ${CHUNK}>;
var<workgroup> ok: array<u32, ${CHUNK}>;
${FLAT_ID_WGSL}
const NEG = -3.0e38;
@compute @workgroup_size(${CHUNK})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = flat_(wid, nwg);
  if (row >= p.b * p.sq * p.hq) { return; }
  let h = row % p.hq;
  let i = (row / p.hq) % p.sq;
  let bi = row / (p.hq * p.sq);
  let kh = h / (p.hq / p.hkv);
  let qi = p.offset + i;
  var hi = p.skv;
  if (p.causal != 0u) { hi = min(hi, qi + 1u); }
  var lo = 0u;
  if (p.window != 0u && qi + 1u > p.window) { lo = qi + 1u - p.window; }
  for (var c = lid; c < p.dk; c += ${CHUNK}u) { qs[c] = q[row * p.dk + c]; }
  var m = NEG;
  var l = 0.0;
  ${opts.sinks ? "m = sinks[h];\n  l = 1.0;" : ""}
  var any = false;
  var acc: array<f32, ${slots}>;
  workgroupBarrier();
  for (var j0 = lo; j0 < hi; j0 += ${CHUNK}u) {
    let j = j0 + lid;
    var s = NEG;
    var visible = j < hi;
    ${opts.mask ? "if (visible) { visible = keyMask[bi * p.skv + j] != 0; }" : ""}
    if (visible) {
      let kb = ((bi * p.skv + j) * p.hkv + kh) * p.dk;
      var dot = 0.0;
      for (var c = 0u; c < p.dk; c++) { dot += qs[c] * k[kb + c]; }
      s = dot * p.scale;
    }
    pr[lid] = s;
    ok[lid] = select(0u, 1u, visible);
    workgroupBarrier();
    var cm = m;
    var seen = false;
    for (var t = 0u; t < ${CHUNK}u; t++) {
      if (ok[t] != 0u) { cm = max(cm, pr[t]); seen = true; }
    }
    if (seen) {
      any = true;
      let alpha = exp(m - cm);
      l *= alpha;
      for (var r = 0u; r < ${slots}u; r++) { acc[r] *= alpha; }
      m = cm;
      for (var t = 0u; t < ${CHUNK}u; t++) {
        if (ok[t] == 0u) { continue; }
        let e = exp(pr[t] - m);
        l += e;
        let vb = ((bi * p.skv + j0 + t) * p.hkv + kh) * p.dv;
        for (var r = 0u; r < ${slots}u; r++) {
          let f = lid + r * ${CHUNK}u;
          if (f < p.dv) { acc[r] += e * v[vb + f]; }
        }
      }
    }
    workgroupBarrier();
  }
  let ob = row * p.dv;
  for (var r = 0u; r < ${slots}u; r++) {
    let f = lid + r * ${CHUNK}u;
    if (f < p.dv) { out[ob + f] = select(0.0, acc[r] / l, any); }
  }
}
`;
}
