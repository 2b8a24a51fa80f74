import type { DType, HostStorage } from "../../dtype.js";
import { widenToF32 } from "../../dtype.js";
import { numel, shapeString, Tensor } from "../../tensor.js";

/** Host values of a tensor, or a clear error naming the op when it lives on a device. */
export function hostOf(t: Tensor, op: string, what: string): HostStorage {
  if (!t.isHost) throw new Error(`${op}: ${what} is on backend '${t.backend!.name}', not in host memory`);
  return t.storage as HostStorage;
}

/** Float values of a tensor as float32 (a view for float32 storage, a widened copy for 16-bit floats). */
export function floatsOf(t: Tensor, op: string, what: string): Float32Array {
  const s = hostOf(t, op, what);
  if (t.dtype === "int32") throw new Error(`${op}: ${what} must be a float tensor, got int32`);
  return t.dtype === "float32" ? (s as Float32Array) : widenToF32(s, t.dtype);
}

/** float32 values of rows [start, start + count) of a row-major tensor with `rowLen` columns. */
export function floatRows(t: Tensor, start: number, count: number, rowLen: number): Float32Array {
  const s = t.storage as HostStorage;
  const from = start * rowLen;
  const to = from + count * rowLen;
  if (t.dtype === "float32") return (s as Float32Array).subarray(from, to);
  return widenToF32((s as Uint16Array).subarray(from, to), t.dtype);
}

export function intsOf(t: Tensor, op: string, what: string): Int32Array {
  const s = hostOf(t, op, what);
  if (t.dtype !== "int32") throw new Error(`${op}: ${what} must be int32, got ${t.dtype}`);
  return s as Int32Array;
}

export function expectRank(t: Tensor, rank: number, op: string, what: string): void {
  if (t.rank !== rank) throw new Error(`${op}: ${what} must have rank ${rank}, got shape ${shapeString(t.shape)}`);
}

export function expectShape(t: Tensor, shape: readonly number[], op: string, what: string): void {
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: ${what} must have shape ${shapeString(shape)}, got ${shapeString(t.shape)}`);
  }
}

export function hostTensor(backend: Tensor["backend"], values: HostStorage, shape: readonly number[], dtype: DType): Tensor {
  if (values.length !== numel(shape)) throw new Error(`internal: ${values.length} values for ${shapeString(shape)}`);
  return new Tensor([...shape], dtype, values, backend);
}
