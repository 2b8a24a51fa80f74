/** Reference shape ops (slice, concat, repeat_interleave) and small reductions (clamp, argmax). */
import type { DType, HostStorage } from "../../dtype.js";
import type { Tensor } from "../../tensor.js";
import { numel, shapeString } from "../../tensor.js";
import { floatsOf, hostOf } from "./host.js";

function allocate(dtype: DType, n: number): HostStorage {
  return dtype === "float32" ? new Float32Array(n) : dtype === "int32" ? new Int32Array(n) : new Uint16Array(n);
}

export function normAxis(op: string, rank: number, axis: number): number {
  const a = axis < 0 ? rank + axis : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} is outside a rank-${rank} tensor`);
  return a;
}

/** outer = product of dims before axis, inner = product after. */
export function split(shape: readonly number[], axis: number): [number, number] {
  return [numel(shape.slice(0, axis)), numel(shape.slice(axis + 1))];
}

export function slice(x: Tensor, axis: number, start: number, length: number): { values: HostStorage; shape: number[] } {
  const op = "slice";
  const a = normAxis(op, x.rank, axis);
  const n = x.shape[a]!;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > n) {
    throw new Error(`${op}: [${start}, ${start + length}) is outside [0, ${n}) on axis ${a} of ${shapeString(x.shape)}`);
  }
  const src = hostOf(x, op, "x");
  const [outer, inner] = split(x.shape, a);
  const out = allocate(x.dtype, outer * length * inner);
  for (let o = 0; o < outer; o++) {
    const from = (o * n + start) * inner;
    out.set(src.subarray(from, from + length * inner) as never, o * length * inner);
  }
  const shape = [...x.shape];
  shape[a] = length;
  return { values: out, shape };
}

/** concat's parts: at least one, one dtype, equal dims outside `axis`; returns the normalized axis. Shared by the backends. */
export function concatAxis(op: string, parts: readonly Tensor[], axis: number): number {
  if (parts.length === 0) throw new Error(`${op}: nothing to concatenate`);
  const first = parts[0]!;
  const a = normAxis(op, first.rank, axis);
  for (const p of parts) {
    if (p.dtype !== first.dtype) throw new Error(`${op}: dtypes differ (${first.dtype} vs ${p.dtype})`);
    if (p.rank !== first.rank || p.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`${op}: ${shapeString(p.shape)} does not match ${shapeString(first.shape)} outside axis ${a}`);
    }
  }
  return a;
}

export function concat(parts: readonly Tensor[], axis: number): { values: HostStorage; shape: number[]; dtype: DType } {
  const op = "concat";
  const a = concatAxis(op, parts, axis);
  const first = parts[0]!;
  const [outer, inner] = split(first.shape, a);
  const total = parts.reduce((s, p) => s + p.shape[a]!, 0);
  const out = allocate(first.dtype, outer * total * inner);
  for (let o = 0; o < outer; o++) {
    let at = o * total * inner;
    for (const p of parts) {
      const len = p.shape[a]! * inner;
      out.set(hostOf(p, op, "part").subarray(o * len, (o + 1) * len) as never, at);
      at += len;
    }
  }
  const shape = [...first.shape];
  shape[a] = total;
  return { values: out, shape, dtype: first.dtype };
}

export function repeat(x: Tensor, axis: number, times: number): { values: HostStorage; shape: number[] } {
  const op = "repeat";
  const a = normAxis(op, x.rank, axis);
  if (!Number.isInteger(times) || times < 1) throw new Error(`${op}: times must be a positive integer, got ${times}`);
  const src = hostOf(x, op, "x");
  const n = x.shape[a]!;
  const [outer, inner] = split(x.shape, a);
  const out = allocate(x.dtype, x.size * times);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++) {
      const row = src.subarray((o * n + i) * inner, (o * n + i + 1) * inner);
      for (let r = 0; r < times; r++, at += inner) out.set(row as never, at);
    }
  }
  const shape = [...x.shape];
  shape[a] = n * times;
  return { values: out, shape };
}

export function clamp(x: Tensor, min: number, max: number): Float32Array {
  if (!(min <= max)) throw new Error(`clamp: min ${min} exceeds max ${max}`);
  return floatsOf(x, "clamp", "x").map((v) => Math.min(Math.max(v, min), max));
}

export function argmax(x: Tensor): { values: Int32Array; shape: number[] } {
  const op = "argmax";
  if (x.rank < 1) throw new Error(`${op}: x must have at least one dim`);
  const n = x.shape[x.rank - 1]!;
  if (n < 1) throw new Error(`${op}: the last dim is empty`);
  const xs = floatsOf(x, op, "x");
  const rows = xs.length / n;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let i = 1; i < n; i++) if (xs[r * n + i]! > xs[r * n + best]! || (Number.isNaN(xs[r * n + best]!) && !Number.isNaN(xs[r * n + i]!))) best = i;
    out[r] = best;
  }
  return { values: out, shape: x.shape.slice(0, -1) };
}
