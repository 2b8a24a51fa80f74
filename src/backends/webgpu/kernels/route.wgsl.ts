/**
 * `route`: top-k routing of router logits float32 [T, E] by a RoutingSpec (backend.ts), one thread per
 * token, same semantics as the reference (src/backends/host/routing.ts) in float32: scoring
 * (softmax / sigmoid / none), selection bias, group-limited selection (group max or top-2 sum, fill 0
 * or -inf), top-k descending with ties toward the lower expert id, weights = scores or softmax over the
 * k scores, normalisation, scale; or gapMaskedSoftmax (k = 2; phimoe's sparsemixer).
 *
 * Shapes: logits float32 [T, E]; selectionBias float32 [E]; index int32 [T, K] (out); weights float32
 * [T, K] (out). E, K and the rule's structure are compile-time constants of the variant; fill, eps,
 * min, scale and the jitter epsilon are uniforms. -inf entries are carried as "dead" flags.
 */

export interface RouteVariant {
  e: number;
  k: number;
  scoring: "softmax" | "sigmoid" | "none" | "gapMaskedSoftmax";
  bias: boolean;
  groups?: { count: number; keep: number; score: "max" | "top2sum"; fillNegInf: boolean };
  softmaxTopK: boolean;
  normalize: boolean;
  scale: boolean;
}

export function routeKey(v: RouteVariant): string {
  const g = v.groups ? `.g${v.groups.count}-${v.groups.keep}-${v.groups.score}-${v.groups.fillNegInf ? "ninf" : "fill"}` : "";
  return `route.e${v.e}.k${v.k}.${v.scoring}${v.bias ? ".bias" : ""}${g}${v.softmaxTopK ? ".smk" : ""}${v.normalize ? ".norm" : ""}${v.scale ? ".scale" : ""}`;
}

function gapMaskedSoftmaxBody(): string {
  return `
  var work = s;
  var wdead: array<bool, E>;
  var none: array<bool, E>;
  var m: array<f32, E>;
  var md: array<bool, E>;
  for (var round = 0u; round < 2u; round++) {
    let i = argmax_(&work, &wdead, &none);
    let mx = work[i];
    for (var e = 0u; e < E; e++) {
      md[e] = wdead[e] || (mx - s[e]) / max(abs(s[e]), mx) > 2.0 * p.jitter;
      m[e] = work[e];
    }
    var top = -3.402823e38;
    for (var e = 0u; e < E; e++) { if (!md[e]) { top = max(top, m[e]); } }
    var sum = 0.0;
    for (var e = 0u; e < E; e++) { if (!md[e]) { sum += exp(m[e] - top); } }
    idx[round] = i;
    wt[round] = select(exp(m[i] - top) / sum, 0.0, md[i]);
    wdead[i] = true;
  }`;
}

function topkBody(v: RouteVariant): string {
  const g = v.groups;
  let groups = "";
  if (g) {
    const size = v.e / g.count;
    groups = `
  const G = ${g.count}u;
  const SIZE = ${size}u;
  var gs: array<f32, G>;
  for (var gi = 0u; gi < G; gi++) {
    let b = gi * SIZE;
    ${
      g.score === "max"
        ? `var mx = choice[b];
    for (var i = 1u; i < SIZE; i++) { mx = max(mx, choice[b + i]); }
    gs[gi] = mx;`
        : `var b1 = b;
    for (var i = b + 1u; i < b + SIZE; i++) { if (choice[i] > choice[b1]) { b1 = i; } }
    var total = choice[b1];
    if (SIZE > 1u) {
      var b2 = select(b, b + 1u, b1 == b);
      for (var i = b; i < b + SIZE; i++) { if (i != b1 && choice[i] > choice[b2]) { b2 = i; } }
      total += choice[b2];
    }
    gs[gi] = total;`
    }
  }
  var gkeep: array<bool, G>;
  for (var j = 0u; j < ${g.keep}u; j++) {
    var best = G;
    for (var gi = 0u; gi < G; gi++) {
      if (gkeep[gi]) { continue; }
      if (best == G || gs[gi] > gs[best]) { best = gi; }
    }
    gkeep[best] = true;
  }
  for (var i = 0u; i < E; i++) {
    if (!gkeep[i / SIZE]) { ${g.fillNegInf ? "dead[i] = true;" : "choice[i] = p.fill;"} }
  }`;
  }
  return `
  var scores = s;
  ${
    v.scoring === "softmax"
      ? `var mx = scores[0];
  for (var i = 1u; i < E; i++) { mx = max(mx, scores[i]); }
  var sum = 0.0;
  for (var i = 0u; i < E; i++) { scores[i] = exp(scores[i] - mx); sum += scores[i]; }
  for (var i = 0u; i < E; i++) { scores[i] = scores[i] / sum; }`
      : v.scoring === "sigmoid"
        ? `for (var i = 0u; i < E; i++) { scores[i] = sigmoid_(scores[i]); }`
        : ""
  }
  var choice = scores;
  ${v.bias ? "for (var i = 0u; i < E; i++) { choice[i] = choice[i] + sbias[i]; }" : ""}
  var dead: array<bool, E>;
  ${groups}
  var taken: array<bool, E>;
  for (var j = 0u; j < K; j++) {
    let b = argmax_(&choice, &dead, &taken);
    taken[b] = true;
    idx[j] = b;
    wt[j] = scores[b];
  }
  ${
    v.softmaxTopK
      ? `var wm = wt[0];
  for (var j = 1u; j < K; j++) { wm = max(wm, wt[j]); }
  var ws = 0.0;
  for (var j = 0u; j < K; j++) { wt[j] = exp(wt[j] - wm); ws += wt[j]; }
  for (var j = 0u; j < K; j++) { wt[j] = wt[j] / ws; }`
      : ""
  }
  ${
    v.normalize
      ? `var tot = 0.0;
  for (var j = 0u; j < K; j++) { tot += wt[j]; }
  let denom = max(tot + p.eps, p.nmin);
  for (var j = 0u; j < K; j++) { wt[j] = wt[j] / denom; }`
      : ""
  }
  ${v.scale ? "for (var j = 0u; j < K; j++) { wt[j] = wt[j] * p.scale; }" : ""}`;
}

export function routeWgsl(v: RouteVariant): string {
  return /* wgsl */ `
const E = ${v.e}u;
const K = ${v.k}u;
struct P { t: u32, fill: f32, eps: f32, nmin: f32, scale: f32, jitter: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> sbias: array<f32>;
@group(0) @binding(3) var<storage, read_write> index: array<i32>;
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
// a beats b: dead (-inf) entries lose to everything; equal values keep the earlier (lower) index.
fn better_(a: f32, ad: bool, b: f32, bd: bool) -> bool {
  if (ad) { return false; }
  if (bd) { return true; }
  return a > b;
}
fn argmax_(v: ptr<function, array<f32, E>>, dead: ptr<function, array<bool, E>>, taken: ptr<function, array<bool, E>>) -> u32 {
  var best = E;
  for (var i = 0u; i < E; i++) {
    if ((*taken)[i]) { continue; }
    if (best == E || better_((*v)[i], (*dead)[i], (*v)[best], (*dead)[best])) { best = i; }
  }
  return best;
}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.y * nwg.x * 64u + gid.x;
  if (t >= p.t) { return; }
  var s: array<f32, E>;
  for (var i = 0u; i < E; i++) { s[i] = logits[t * E + i]; }
  var idx: array<u32, K>;
  var wt: array<f32, K>;
  ${v.scoring === "gapMaskedSoftmax" ? gapMaskedSoftmaxBody() : topkBody(v)}
  for (var j = 0u; j < K; j++) {
    index[t * K + j] = i32(idx[j]);
    weights[t * K + j] = wt[j];
  }
}
`;
}
