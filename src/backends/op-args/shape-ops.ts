/** Argument checks of the shape ops: slice, concat, repeat (any dtype, kept). */
import { shapeString, type Tensor } from "../../tensor.js";
import { aroundAxis, normAxis } from "./tensors.js";

/** A copy of [outer, len, inner] blocks along the normalized `axis`; `shape` is the result's. */
export interface AxisBlocks {
  axis: number;
  outer: number;
  inner: number;
  shape: number[];
}

export function sliceArgs(x: Tensor, axis: number, start: number, length: number): AxisBlocks & { n: number } {
  const op = "slice";
  const a = normAxis(op, x.rank, axis);
  const n = x.shape[a]!;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > n) {
    throw new Error(`${op}: [${start}, ${start + length}) is outside [0, ${n}) on axis ${a} of ${shapeString(x.shape)}`);
  }
  const shape = [...x.shape];
  shape[a] = length;
  const [outer, inner] = aroundAxis(x.shape, a);
  return { axis: a, outer, inner, shape, n };
}

/** At least one part, one dtype, equal dims outside `axis`. */
export function concatArgs(parts: readonly Tensor[], axis: number): AxisBlocks & { total: number } {
  const op = "concat";
  if (!Array.isArray(parts as unknown) || parts.length === 0) throw new Error(`${op}: nothing to concatenate`);
  const first = parts[0]!;
  const a = normAxis(op, first.rank, axis);
  for (const p of parts) {
    if (p.dtype !== first.dtype) throw new Error(`${op}: dtypes differ (${first.dtype} vs ${p.dtype})`);
    if (p.rank !== first.rank || p.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`${op}: ${shapeString(p.shape)} does not match ${shapeString(first.shape)} outside axis ${a}`);
    }
  }
  const total = parts.reduce((s, p) => s + p.shape[a]!, 0);
  const shape = [...first.shape];
  shape[a] = total;
  const [outer, inner] = aroundAxis(first.shape, a);
  return { axis: a, outer, inner, shape, total };
}

export function repeatArgs(x: Tensor, axis: number, times: number): AxisBlocks & { n: number } {
  const op = "repeat";
  const a = normAxis(op, x.rank, axis);
  if (!Number.isInteger(times) || times < 1) throw new Error(`${op}: times must be a positive integer, got ${times}`);
  const n = x.shape[a]!;
  const shape = [...x.shape];
  shape[a] = n * times;
  const [outer, inner] = aroundAxis(x.shape, a);
  return { axis: a, outer, inner, shape, n };
}
