/**
 * The primitive checks every op's argument check is built from: ranks, shapes, dtypes, axes and the
 * values of host index tensors. Messages name the op and the argument: "<op>: <what> must ...".
 */
import { formatInfo, storageLength, storageMatches, storageName, type DType } from "../../formats/table.js";
import { numel, shapeString, type Tensor } from "../../tensor.js";

export function expectRank(t: Tensor, rank: number, op: string, what: string): void {
  if (t.rank !== rank) throw new Error(`${op}: ${what} must have rank ${rank}, got shape ${shapeString(t.shape)}`);
}

export function expectShape(t: Tensor, shape: readonly number[], op: string, what: string): void {
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: ${what} must have shape ${shapeString(shape)}, got ${shapeString(t.shape)}`);
  }
}

export function expectInt(t: Tensor, op: string, what: string): void {
  if (t.dtype !== "int32") throw new Error(`${op}: ${what} must be int32, got ${t.dtype}`);
}

export function expectFloat(t: Tensor, op: string, what: string): void {
  if (t.dtype === "int32") throw new Error(`${op}: ${what} must be a float tensor, got int32`);
}

/** An int32 tensor's values when they are in host memory (undefined for a device tensor: not checkable here). */
export function hostInts(t: Tensor, op: string, what: string): Int32Array | undefined {
  expectInt(t, op, what);
  return t.isHost ? (t.storage as Int32Array) : undefined;
}

/** Every value in [0, limit); `describe(value, i)` words the error for the first one outside. */
export function expectIndices(values: Int32Array | undefined, limit: number, describe: (value: number, i: number) => string): void {
  if (!values) return;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < 0 || v >= limit) throw new Error(describe(v, i));
  }
}

export function expectPositiveInt(v: number, op: string, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${op}: ${what} must be a positive integer`);
}

/** `axis` (negative counts from the end) as an index into a rank-`rank` shape. */
export function normAxis(op: string, rank: number, axis: number): number {
  const a = axis < 0 ? rank + axis : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} is outside a rank-${rank} tensor`);
  return a;
}

/** [outer, inner]: the product of the dims before `axis` and of those after it. */
export function aroundAxis(shape: readonly number[], axis: number): [number, number] {
  return [numel(shape.slice(0, axis)), numel(shape.slice(axis + 1))];
}

/** A per-feature vector (norm weight or bias) of `d` entries, when given. */
export function expectFeatureVector(op: string, t: Tensor | undefined, d: number, what: string): void {
  if (!t) return;
  expectFloat(t, op, what);
  if (t.size !== d) throw new Error(`${op}: ${what} ${shapeString(t.shape)} must have ${d} entries (the last dim of x)`);
}

/** Host values for a tensor of `dtype` and `shape`: the typed array kind of the format, exactly as long as the shape needs. */
export function fromHostArgs(storage: unknown, shape: readonly number[], dtype: DType): void {
  const f = formatInfo(dtype);
  if (!storageMatches(dtype, storage)) throw new Error(`fromHost: ${f.name} values must be a ${storageName(dtype)}`);
  const want = storageLength(dtype, shape);
  if (storage.length !== want) throw new Error(`fromHost: ${storage.length} values for shape ${shapeString(shape)}`);
}
