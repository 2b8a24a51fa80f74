/** Reading host tensors as typed arrays (argument checks are in op-args; these guard only what they read). */
import type { DType, HostStorage } from "../../dtype.js";
import { widenToF32 } from "../../dtype.js";
import { weightRows } from "../../formats/rows.js";
import { numel, shapeString, Tensor } from "../../tensor.js";
import { expectFloat, expectInt } from "../op-args/index.js";

/** Host values of a tensor, or a clear error naming the op when it lives on a device. */
export function hostOf(t: Tensor, op: string, what: string): HostStorage {
  if (!t.isHost) throw new Error(`${op}: ${what} is on backend '${t.backend!.name}', not in host memory`);
  if (t.isView) throw new Error(`${op}: ${what} is a view of row segments; this op reads one buffer`);
  return t.storage as HostStorage;
}

/** Float values of a tensor as float32 (a view for float32 storage, a widened copy otherwise; views of row segments are read row by row). */
export function floatsOf(t: Tensor, op: string, what: string): Float32Array {
  expectFloat(t, op, what);
  if (t.isHost && t.isView) {
    const cols = t.shape[t.rank - 1]!;
    return weightRows(t, 0, cols === 0 ? 0 : t.size / cols);
  }
  const s = hostOf(t, op, what);
  return t.dtype === "float32" ? (s as Float32Array) : widenToF32(s, t.dtype);
}

export function intsOf(t: Tensor, op: string, what: string): Int32Array {
  expectInt(t, op, what);
  return hostOf(t, op, what) as Int32Array;
}

export function hostTensor(backend: Tensor["backend"], values: HostStorage, shape: readonly number[], dtype: DType): Tensor {
  if (values.length !== numel(shape)) throw new Error(`internal: ${values.length} values for ${shapeString(shape)}`);
  return new Tensor([...shape], dtype, values, backend);
}
