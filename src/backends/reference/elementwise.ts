/** Reference gates, slot bookkeeping and elementwise ops (float64 math, float32 results). */
import type { GateSpec } from "../backend.js";
import type { Tensor } from "../../tensor.js";
import { shapeString } from "../../tensor.js";
import { activationFn, sigmoid } from "./activations.js";
import { expectRank, floatsOf, intsOf } from "./host.js";

export function gate(p: Tensor, spec: GateSpec): { values: Float32Array; shape: number[] } {
  const op = "gate";
  expectRank(p, 2, op, "projection");
  const [s, width] = p.shape as [number, number];
  const ps = floatsOf(p, op, "projection");
  const act = activationFn(spec.act);
  if (spec.kind === "none") return { values: Float32Array.from(ps, act), shape: [s, width] };
  if (width % 2 !== 0) throw new Error(`${op}: a gated projection needs an even width, got ${shapeString(p.shape)}`);
  const inter = width / 2;
  const out = new Float32Array(s * inter);
  const clamp = spec.kind === "interleaved" ? spec.clampedSwiglu : undefined;
  for (let r = 0; r < s; r++) {
    const base = r * width;
    for (let i = 0; i < inter; i++) {
      let g: number;
      let u: number;
      if (spec.kind === "concatenated") {
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

/** combineSlots' arguments, checked (shapes, slotRow length and range) and read as host arrays. */
export function combineSlotsArgs(y: Tensor, weights: Tensor, slotRow: Tensor | undefined) {
  const op = "combineSlots";
  expectRank(y, 2, op, "y");
  expectRank(weights, 2, op, "weights");
  const [rows, h] = y.shape as [number, number];
  const [t, k] = weights.shape as [number, number];
  const ys = floatsOf(y, op, "y");
  const ws = floatsOf(weights, op, "weights");
  const map = slotRow ? intsOf(slotRow, op, "slotRow") : undefined;
  if (map && map.length !== t * k) throw new Error(`${op}: slotRow has ${map.length} entries for ${t}×${k} slots`);
  if (!map && rows !== t * k) throw new Error(`${op}: y has ${rows} rows for ${t}×${k} slots`);
  if (map) for (const row of map) if (row < 0 || row >= rows) throw new Error(`${op}: slotRow ${row} outside [0, ${rows})`);
  return { rows, h, t, k, ys, ws, map };
}

export function combineSlots(y: Tensor, weights: Tensor, slotRow: Tensor | undefined): { values: Float32Array; shape: number[] } {
  const { h, t, k, ys, ws, map } = combineSlotsArgs(y, weights, slotRow);
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
  expectRank(x, 2, op, "x");
  const [r, h] = x.shape as [number, number];
  const xs = floatsOf(x, op, "x");
  const idx = intsOf(rows, op, "rows");
  const out = new Float32Array(idx.length * h);
  idx.forEach((row, i) => {
    if (row < 0 || row >= r) throw new Error(`${op}: row ${row} outside [0, ${r})`);
    out.set(xs.subarray(row * h, (row + 1) * h), i * h);
  });
  return { values: out, shape: [idx.length, h] };
}

export function accumulateRows(out: Tensor, y: Tensor, rows: Tensor, weights: Tensor): void {
  const op = "accumulateRows";
  if (out.dtype !== "float32") throw new Error(`${op}: out must be float32, got ${out.dtype}`);
  expectRank(out, 2, op, "out");
  expectRank(y, 2, op, "y");
  const [t, h] = out.shape as [number, number];
  if (y.shape[1] !== h) throw new Error(`${op}: y ${shapeString(y.shape)} does not match out ${shapeString(out.shape)}`);
  const os = out.storage as Float32Array;
  const ys = floatsOf(y, op, "y");
  const idx = intsOf(rows, op, "rows");
  const ws = floatsOf(weights, op, "weights");
  if (idx.length !== y.shape[0] || ws.length !== idx.length) throw new Error(`${op}: rows and weights need ${y.shape[0]} entries`);
  idx.forEach((row, i) => {
    if (row < 0 || row >= t) throw new Error(`${op}: row ${row} outside [0, ${t})`);
    const w = ws[i]!;
    for (let c = 0; c < h; c++) os[row * h + c] = os[row * h + c]! + ys[i * h + c]! * w;
  });
}

/** Shape check for a binary op with b broadcast over a: b's shape is a suffix of a's, or [rows, 1]. */
function broadcastIndex(op: string, a: Tensor, b: Tensor): (i: number) => number {
  const as = a.shape;
  const bs = b.shape;
  if (b.size === a.size && bs.length === as.length && bs.every((d, i) => d === as[i])) return (i) => i;
  const suffix = bs.length <= as.length && bs.every((d, i) => d === as[as.length - bs.length + i]);
  if (suffix) {
    const n = b.size;
    return (i) => i % n;
  }
  const last = as[as.length - 1] ?? 1;
  if (bs[bs.length - 1] === 1 && b.size * last === a.size) return (i) => Math.floor(i / last);
  throw new Error(`${op}: cannot broadcast ${shapeString(bs)} to ${shapeString(as)}`);
}

export function binary(op: "add" | "mul", a: Tensor, b: Tensor): Float32Array {
  const as = floatsOf(a, op, "a");
  const bsv = floatsOf(b, op, "b");
  const at = broadcastIndex(op, a, b);
  const out = new Float32Array(as.length);
  if (op === "add") for (let i = 0; i < as.length; i++) out[i] = as[i]! + bsv[at(i)]!;
  else for (let i = 0; i < as.length; i++) out[i] = as[i]! * bsv[at(i)]!;
  return out;
}

export function softmaxLastDim(x: Tensor): Float32Array {
  const op = "softmax";
  const xs = floatsOf(x, op, "x");
  const n = x.shape[x.rank - 1] ?? 1;
  const out = new Float32Array(xs.length);
  for (let r = 0; r < xs.length / n; r++) {
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, xs[r * n + i]!);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(xs[r * n + i]! - max);
    for (let i = 0; i < n; i++) out[r * n + i] = Math.exp(xs[r * n + i]! - max) / sum;
  }
  return out;
}
