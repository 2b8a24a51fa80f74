/** Host shape ops (slice, concat, repeat_interleave) shared by the host backends; arguments checked by op-args. */
import type { Backend } from "../backend.js";
import { allocateStorage } from "../../formats/table.js";
import type { Tensor } from "../../tensor.js";
import { concatArgs, repeatArgs, sliceArgs } from "../op-args/index.js";
import { contiguousOf, hostTensor, type Floats } from "./tensors.js";

/** `floats` (float32 only): where the result's values go, given their count (every one is written). */
export function slice(owner: Backend, x: Tensor, axis: number, start: number, length: number, floats?: Floats): Tensor {
  const { outer, inner, shape, n } = sliceArgs(x, axis, start, length);
  const src = contiguousOf(x, "slice", "x");
  const out = floats && x.dtype === "float32" ? floats(outer * length * inner) : allocateStorage(x.dtype, shape);
  for (let o = 0; o < outer; o++) {
    const from = (o * n + start) * inner;
    out.set(src.subarray(from, from + length * inner) as never, o * length * inner);
  }
  return hostTensor(owner, out, shape, x.dtype);
}

export function concat(owner: Backend, parts: readonly Tensor[], axis: number): Tensor {
  const { axis: a, outer, inner, shape, total } = concatArgs(parts, axis);
  const first = parts[0]!;
  const out = allocateStorage(first.dtype, shape);
  const srcs = parts.map((p) => contiguousOf(p, "concat", "part"));
  for (let o = 0; o < outer; o++) {
    let at = o * total * inner;
    for (const [i, p] of parts.entries()) {
      const len = p.shape[a]! * inner;
      out.set(srcs[i]!.subarray(o * len, (o + 1) * len) as never, at);
      at += len;
    }
  }
  return hostTensor(owner, out, shape, first.dtype);
}

export function repeat(owner: Backend, x: Tensor, axis: number, times: number): Tensor {
  const { outer, inner, shape, n } = repeatArgs(x, axis, times);
  const src = contiguousOf(x, "repeat", "x");
  const out = allocateStorage(x.dtype, shape);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++) {
      const row = src.subarray((o * n + i) * inner, (o * n + i + 1) * inner);
      for (let r = 0; r < times; r++, at += inner) out.set(row as never, at);
    }
  }
  return hostTensor(owner, out, shape, x.dtype);
}

