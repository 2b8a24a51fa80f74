/** Host routing (float64 math), shared by the host backends; arguments checked by op-args. */
import type { Backend, Routing, RoutingSpec } from "../backend.js";
import type { Tensor } from "../../tensor.js";
import { routeArgs } from "../op-args/index.js";
import { floatsOf, hostTensor } from "./tensors.js";

/**
 * Indices of the k largest values, descending, ties toward the lower index, NaN below every number (NaNs in
 * index order, after the numbers). One pass keeping the k best so far in order: a row of 60 router scores
 * in ~60 comparisons instead of k passes over it.
 */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  const n = values.length;
  const chosen: number[] = [];
  // i beats j (i > j in index order, so equal values keep the earlier j ahead)
  const beats = (vi: number, vj: number) => vi > vj || (vj !== vj && vi === vi);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (chosen.length === k && !beats(v, values[chosen[k - 1]!]!)) continue;
    let at = chosen.length === k ? k - 1 : chosen.length;
    while (at > 0 && beats(v, values[chosen[at - 1]!]!)) at--;
    if (chosen.length === k) chosen.pop();
    chosen.splice(at, 0, i);
  }
  return chosen;
}

function softmaxInPlace(v: number[] | Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) if (v[i]! > max) max = v[i]!;
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    v[i] = v[i]! === -Infinity ? 0 : Math.exp(v[i]! - max);
    sum += v[i]!;
  }
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / sum;
}

/**
 * gapMaskedSoftmax (k = 2; phimoe's sparsemixer at inference): pick the argmax, mask experts whose relative gap to it
 * exceeds 2ε, take the softmax weight of the pick; then remove the pick and repeat once.
 */
function gapMaskedSoftmaxRow(s: number[], eps: number): { index: number[]; weights: number[] } {
  const index: number[] = [];
  const weights: number[] = [];
  const work = s.slice();
  for (let round = 0; round < 2; round++) {
    const i = topKIndices(work, 1)[0]!;
    const m = work[i]!;
    const masked = work.map((v, e) => ((m - s[e]!) / Math.max(Math.abs(s[e]!), m) > 2 * eps ? -Infinity : v));
    softmaxInPlace(masked);
    index.push(i);
    weights.push(masked[i]!);
    work[i] = -Infinity;
  }
  return { index, weights };
}

/**
 * route's two rows of scratch, kept between calls: a typed array over 64 bytes is a native allocation and a sweep
 * (2–5 µs), more than routing a decode step's row of 60 scores takes. route is synchronous, so calls never share it.
 */
let scratch = new Float64Array(0);

export function route(owner: Backend, logits: Tensor, spec: RoutingSpec): Routing {
  const op = "route";
  const { t, e, k } = routeArgs(logits, spec);
  const lg = floatsOf(logits, op, "logits");
  const bias = spec.selectionBias ? floatsOf(spec.selectionBias, op, "selectionBias") : undefined;
  const g = spec.groups;
  const index = new Int32Array(t * k);
  const weights = new Float32Array(t * k);
  // per-row scratch, reused: the rows are float64 copies (the math is float64 throughout, as before)
  if (scratch.length < 2 * e) scratch = new Float64Array(2 * e);
  const scores = scratch.subarray(0, e);
  const choice = scratch.subarray(e, 2 * e);
  for (let r = 0; r < t; r++) {
    const row = lg.subarray(r * e, (r + 1) * e);
    let idx: number[];
    let w: number[];
    if (spec.scoring === "gapMaskedSoftmax") {
      ({ index: idx, weights: w } = gapMaskedSoftmaxRow(Array.from(row), spec.jitterEps ?? 0.01));
    } else {
      scores.set(row);
      if (spec.scoring === "softmax") softmaxInPlace(scores);
      else if (spec.scoring === "sigmoid") for (let i = 0; i < e; i++) scores[i] = 1 / (1 + Math.exp(-scores[i]!));
      if (bias) for (let i = 0; i < e; i++) choice[i] = scores[i]! + bias[i]!;
      else choice.set(scores);
      if (g) {
        const size = e / g.count;
        const groupScore = Array.from({ length: g.count }, (_, gi) => {
          const part = choice.subarray(gi * size, (gi + 1) * size);
          if (g.score === "max") return Math.max(...part);
          const top = topKIndices(part, Math.min(2, size));
          return top.reduce((a, i) => a + part[i]!, 0);
        });
        const keep = new Set(topKIndices(groupScore, g.keep));
        for (let i = 0; i < e; i++) if (!keep.has(Math.floor(i / size))) choice[i] = g.fill;
      }
      idx = topKIndices(choice, k);
      w = idx.map((i) => scores[i]!);
      if (spec.weights === "softmaxTopK") softmaxInPlace(w);
      if (spec.normalize) {
        const sum = w.reduce((a, b) => a + b, 0);
        const denom = Math.max(sum + spec.normalize.eps, spec.normalize.min);
        w = w.map((v) => v / denom);
      }
      if (spec.scale !== undefined) w = w.map((v) => v * spec.scale!);
    }
    for (let j = 0; j < k; j++) {
      index[r * k + j] = idx[j]!;
      weights[r * k + j] = w[j]!;
    }
  }
  return { index: hostTensor(owner, index, [t, k], "int32"), weights: hostTensor(owner, weights, [t, k]) };
}
