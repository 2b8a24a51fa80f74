/** Reference shape ops (slice, concat, repeat_interleave) and small reductions (clamp, argmax); arguments checked by op-args. */
import type { DType, HostStorage } from "../../dtype.js";
import { allocateStorage } from "../../formats/table.js";
import type { Tensor } from "../../tensor.js";
import { argmaxArgs, clampArgs, concatArgs, repeatArgs, sliceArgs } from "../op-args/index.js";
import { floatsOf, hostOf } from "./host.js";

export function slice(x: Tensor, axis: number, start: number, length: number): { values: HostStorage; shape: number[] } {
  const { outer, inner, shape, n } = sliceArgs(x, axis, start, length);
  const src = hostOf(x, "slice", "x");
  const out = allocateStorage(x.dtype, shape);
  for (let o = 0; o < outer; o++) {
    const from = (o * n + start) * inner;
    out.set(src.subarray(from, from + length * inner) as never, o * length * inner);
  }
  return { values: out, shape };
}

export function concat(parts: readonly Tensor[], axis: number): { values: HostStorage; shape: number[]; dtype: DType } {
  const { axis: a, outer, inner, shape, total } = concatArgs(parts, axis);
  const first = parts[0]!;
  const out = allocateStorage(first.dtype, shape);
  for (let o = 0; o < outer; o++) {
    let at = o * total * inner;
    for (const p of parts) {
      const len = p.shape[a]! * inner;
      out.set(hostOf(p, "concat", "part").subarray(o * len, (o + 1) * len) as never, at);
      at += len;
    }
  }
  return { values: out, shape, dtype: first.dtype };
}

export function repeat(x: Tensor, axis: number, times: number): { values: HostStorage; shape: number[] } {
  const { outer, inner, shape, n } = repeatArgs(x, axis, times);
  const src = hostOf(x, "repeat", "x");
  const out = allocateStorage(x.dtype, shape);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++) {
      const row = src.subarray((o * n + i) * inner, (o * n + i + 1) * inner);
      for (let r = 0; r < times; r++, at += inner) out.set(row as never, at);
    }
  }
  return { values: out, shape };
}

export function clamp(x: Tensor, min: number, max: number): Float32Array {
  clampArgs(x, min, max);
  return floatsOf(x, "clamp", "x").map((v) => Math.min(Math.max(v, min), max));
}

export function argmax(x: Tensor): { values: Int32Array; shape: number[] } {
  const { rows, n } = argmaxArgs(x);
  const xs = floatsOf(x, "argmax", "x");
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let i = 1; i < n; i++) if (xs[r * n + i]! > xs[r * n + best]! || (Number.isNaN(xs[r * n + best]!) && !Number.isNaN(xs[r * n + i]!))) best = i;
    out[r] = best;
  }
  return { values: out, shape: x.shape.slice(0, -1) };
}
