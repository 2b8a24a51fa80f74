/**
 * Host-memory tensors: reading them as typed arrays (argument checks are in op-args; these guard only
 * what they read) and the tensor plumbing host backends share (fromHost, adopt, zeros).
 */
import type { Backend } from "../backend.js";
import type { DType, HostStorage } from "../../dtype.js";
import { widenToF32 } from "../../dtype.js";
import { weightRows } from "../../formats/rows.js";
import { rowByteRuns, type SegmentedStorage } from "../../formats/segments.js";
import { allocateStorage, rowBytes } from "../../formats/table.js";
import { Tensor } from "../../tensor.js";
import { expectFloat, expectInt } from "../op-args/index.js";

/** Where an op's n float32 results go: a new array, or one the backend hands out (the cpu backend's activation pool). */
export type Floats = (n: number) => Float32Array;

/** Host values of a tensor, or a clear error naming the op when it lives on a device (or is a view of row segments). */
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

/**
 * floatsOf for a model parameter read on every call (a norm's weight, a bias): a bfloat16 / float16 one is widened
 * once and the float32 copy kept while the tensor lives (a forward of a bf16 model widened each norm weight on each
 * call: 2048 values, a new array each time). The copy is read only.
 */
const widenedParameters = new WeakMap<Tensor, Float32Array>();

export function parameterFloatsOf(t: Tensor, op: string, what: string): Float32Array {
  if (t.dtype === "float32" || !t.isHost) return floatsOf(t, op, what);
  let f = widenedParameters.get(t);
  if (!f) widenedParameters.set(t, (f = floatsOf(t, op, what)));
  return f;
}

/**
 * Host values in the tensor's own format as one array: the storage itself, or a copy of a view's row
 * segments (a KV cache hands a batch of sequences out as a view; slice / concat / repeat read it whole).
 */
export function contiguousOf(t: Tensor, op: string, what: string): HostStorage {
  if (!(t.isHost && t.isView)) return hostOf(t, op, what);
  const view = t.storage as SegmentedStorage;
  const rb = rowBytes(t.dtype, t.shape[t.rank - 1]!);
  const out = allocateStorage(t.dtype, t.shape);
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  for (const g of view.segments) {
    for (const run of rowByteRuns(g, rb, 0, g.rows)) {
      bytes.set(new Uint8Array(g.data.buffer, g.data.byteOffset + run.byteOffset, run.length), at);
      at += run.length;
    }
  }
  return out;
}

export function intsOf(t: Tensor, op: string, what: string): Int32Array {
  expectInt(t, op, what);
  return hostOf(t, op, what) as Int32Array;
}

/** A tensor of `owner` holding `values` (the Tensor constructor checks them against shape and dtype). */
export function hostTensor(owner: Backend, values: HostStorage, shape: readonly number[], dtype: DType = "float32"): Tensor {
  return new Tensor([...shape], dtype, values, owner);
}

/** `owner`'s tensor over `t`'s host storage (a contiguous array or a view of row segments: no copy). */
export function adoptHost(owner: Backend, t: Tensor): Tensor {
  if (t.backend === owner) return t;
  if (t.isHost) return new Tensor([...t.shape], t.dtype, t.storage, owner);
  throw new Error(`${owner.name}: cannot adopt a tensor of backend '${t.backend!.name}' synchronously; read it first`);
}

export function zerosHost(owner: Backend, shape: readonly number[], dtype: DType = "float32"): Tensor {
  return hostTensor(owner, allocateStorage(dtype, shape), shape, dtype);
}
