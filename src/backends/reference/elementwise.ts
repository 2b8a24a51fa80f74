/** Reference gates, slot bookkeeping and softmax (float64 math, float32 results; arguments checked by op-args). */
import type { GateSpec } from "../backend.js";
import type { Tensor } from "../../tensor.js";
import { accumulateRowsArgs, combineSlotsArgs, gateArgs, gatherRowsArgs, sortByExpertArgs } from "../op-args/index.js";
import { activationFn, sigmoid } from "../host/activations.js";
import { floatsOf, hostOf, intsOf } from "../host/tensors.js";

export function gate(p: Tensor, spec: GateSpec): { values: Float32Array; shape: number[] } {
  const { s, width, inter, kind, clamp } = gateArgs(p, spec);
  const ps = floatsOf(p, "gate", "projection");
  const act = activationFn(spec.act);
  if (kind === "none") return { values: Float32Array.from(ps, act), shape: [s, width] };
  const out = new Float32Array(s * inter);
  for (let r = 0; r < s; r++) {
    const base = r * width;
    for (let i = 0; i < inter; i++) {
      let g: number;
      let u: number;
      if (kind === "concatenated") {
        g = ps[base + i]!;
        u = ps[base + inter + i]!;
      } else {
        g = ps[base + 2 * i]!;
        u = ps[base + 2 * i + 1]!;
      }
      if (clamp) {
        g = Math.min(g, clamp.limit);
        u = Math.min(Math.max(u, -clamp.limit), clamp.limit);
        out[r * inter + i] = (u + 1) * g * sigmoid(clamp.alpha * g);
      } else {
        out[r * inter + i] = act(g) * u;
      }
    }
  }
  return { values: out, shape: [s, inter] };
}

export function combineSlots(y: Tensor, weights: Tensor, slotRow: Tensor | undefined): { values: Float32Array; shape: number[] } {
  const op = "combineSlots";
  const { h, t, k } = combineSlotsArgs(y, weights, slotRow);
  const ys = floatsOf(y, op, "y");
  const ws = floatsOf(weights, op, "weights");
  const map = slotRow ? intsOf(slotRow, op, "slotRow") : undefined;
  const out = new Float32Array(t * h);
  const acc = new Float64Array(h);
  for (let tok = 0; tok < t; tok++) {
    acc.fill(0);
    for (let j = 0; j < k; j++) {
      const slot = tok * k + j;
      const row = map ? map[slot]! : slot;
      const w = ws[slot]!;
      for (let c = 0; c < h; c++) acc[c]! += ys[row * h + c]! * w;
    }
    for (let c = 0; c < h; c++) out[tok * h + c] = acc[c]!;
  }
  return { values: out, shape: [t, h] };
}

export function gatherRows(x: Tensor, rows: Tensor): { values: Float32Array; shape: number[] } {
  const op = "gatherRows";
  const { h, n } = gatherRowsArgs(x, rows);
  const xs = floatsOf(x, op, "x");
  const idx = intsOf(rows, op, "rows");
  const out = new Float32Array(n * h);
  idx.forEach((row, i) => out.set(xs.subarray(row * h, (row + 1) * h), i * h));
  return { values: out, shape: [n, h] };
}

export function accumulateRows(out: Tensor, y: Tensor, rows: Tensor, weights: Tensor): void {
  const op = "accumulateRows";
  const { h } = accumulateRowsArgs(out, y, rows, weights);
  const os = hostOf(out, op, "out") as Float32Array;
  const ys = floatsOf(y, op, "y");
  const idx = intsOf(rows, op, "rows");
  const ws = floatsOf(weights, op, "weights");
  idx.forEach((row, i) => {
    const w = ws[i]!;
    for (let c = 0; c < h; c++) os[row * h + c] = os[row * h + c]! + ys[i * h + c]! * w;
  });
}

export function softmaxLastDim(x: Tensor, rows: number, n: number): Float32Array {
  const xs = floatsOf(x, "softmax", "x");
  const out = new Float32Array(xs.length);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, xs[r * n + i]!);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(xs[r * n + i]! - max);
    for (let i = 0; i < n; i++) out[r * n + i] = Math.exp(xs[r * n + i]! - max) / sum;
  }
  return out;
}

export function sortByExpert(ids: Tensor, numExperts: number): { order: Int32Array; position: Int32Array; offsets: Int32Array } {
  sortByExpertArgs(ids, numExperts);
  const id = intsOf(ids, "sortByExpert", "ids");
  const offsets = new Int32Array(numExperts + 1);
  id.forEach((e) => offsets[e + 1]!++);
  for (let e = 0; e < numExperts; e++) offsets[e + 1]! += offsets[e]!;
  const cursor = offsets.slice(0, numExperts);
  const order = new Int32Array(id.length);
  const position = new Int32Array(id.length);
  id.forEach((e, s) => {
    const p = cursor[e]!++;
    order[p] = s;
    position[s] = p;
  });
  return { order, position, offsets };
}
