/**
 * Reference products, float64 accumulation. Weights are read through weightRows (any format, views
 * included), one expert slice at a time (16-bit weights widen once per call, never per token).
 * Arguments are checked by the caller (op-args).
 */
import type { Tensor } from "../../tensor.js";
import { weightRows } from "../../formats/rows.js";
import type { GatheredLinearArgs, GroupedLinearArgs, LinearArgs } from "../op-args/index.js";
import { floatsOf, intsOf } from "../host/tensors.js";

function dotRow(x: Float32Array, xOff: number, w: Float32Array, wOff: number, k: number): number {
  let acc = 0;
  for (let i = 0; i < k; i++) acc += x[xOff + i]! * w[wOff + i]!;
  return acc;
}

export function linear(x: Tensor, w: Tensor, bias: Tensor | undefined, a: LinearArgs): Float32Array {
  const { m, n, k, expert } = a;
  const xs = floatsOf(x, "linear", "input");
  const ws = weightRows(w, expert * n, n);
  const bs = bias ? weightRows(bias, expert, 1) : undefined;
  const out = new Float32Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < n; j++) out[r * n + j] = dotRow(xs, r * k, ws, j * k, k) + (bs ? bs[j]! : 0);
  }
  return out;
}

export function groupedLinear(x: Tensor, w: Tensor, offsets: Tensor, bias: Tensor | undefined, rowIndex: Tensor | undefined, a: GroupedLinearArgs): Float32Array {
  const { n, k, e, s, rpi } = a;
  const offs = intsOf(offsets, "groupedLinear", "offsets");
  const idx = rowIndex ? intsOf(rowIndex, "groupedLinear", "rowIndex") : undefined;
  const xs = floatsOf(x, "groupedLinear", "input");
  const out = new Float32Array(s * n);
  for (let ex = 0; ex < e; ex++) {
    const lo = offs[ex]!;
    const hi = offs[ex + 1]!;
    if (lo === hi) continue;
    const ws = weightRows(w, ex * n, n);
    const bs = bias ? weightRows(bias, ex, 1) : undefined;
    for (let sr = lo; sr < hi; sr++) {
      const xr = idx ? Math.floor(idx[sr]! / rpi) : sr;
      for (let j = 0; j < n; j++) out[sr * n + j] = dotRow(xs, xr * k, ws, j * k, k) + (bs ? bs[j]! : 0);
    }
  }
  return out;
}

export function gatheredLinear(x: Tensor, w: Tensor, ids: Tensor, bias: Tensor | undefined, a: GatheredLinearArgs): Float32Array {
  const { n, k, e, s, rpi } = a;
  const id = intsOf(ids, "gatheredLinear", "ids");
  const xs = floatsOf(x, "gatheredLinear", "input");
  const out = new Float32Array(s * n);
  // One expert slice at a time: slots are visited grouped by expert so 16-bit weights widen once.
  const byExpert: number[][] = Array.from({ length: e }, () => []);
  id.forEach((ex, slot) => byExpert[ex]!.push(slot));
  byExpert.forEach((slots, ex) => {
    if (slots.length === 0) return;
    const ws = weightRows(w, ex * n, n);
    const bs = bias ? weightRows(bias, ex, 1) : undefined;
    for (const slot of slots) {
      const xr = Math.floor(slot / rpi);
      for (let j = 0; j < n; j++) out[slot * n + j] = dotRow(xs, xr * k, ws, j * k, k) + (bs ? bs[j]! : 0);
    }
  });
  return out;
}
