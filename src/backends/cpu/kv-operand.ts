/**
 * Keys or values [B, S, H, D] as the native attention reads them: float32, bfloat16 or float16 values read
 * in place — a contiguous array, or a view of row segments (a KV cache's batch: one segment per sequence
 * and its padding) whose segments hold whole token rows — and anything else widened to float32 first.
 */
import { SegmentedStorage } from "../../formats/segments.js";
import { FORMATS, type HostStorage } from "../../formats/table.js";
import type { Tensor } from "../../tensor.js";
import { floatsOf } from "../host/tensors.js";
import type { NativeWeight } from "./native.js";

const IN_PLACE = new Set(["float32", "bfloat16", "float16"]);

export function kvOperand(t: Tensor, op: string, what: string): Float32Array | NativeWeight {
  const [b, s, h, d] = t.shape as [number, number, number, number];
  const st = t.storage;
  if (!t.isHost || !IN_PLACE.has(t.dtype) || (t.dtype === "float32" && !(st instanceof SegmentedStorage))) return floatsOf(t, op, what);
  const rows = b * s;
  const format = FORMATS[t.dtype].code;
  if (!(st instanceof SegmentedStorage)) return { format, rows, cols: h * d, segments: [{ data: st as HostStorage, byteOffset: 0, rows }] };
  // segments count rows of D values; the kernel walks token rows of H·D
  if (h === 0 || st.segments.some((g) => g.rows % h !== 0)) return floatsOf(t, op, what);
  return { format, rows, cols: h * d, segments: st.segments.map((g) => ({ data: g.data, byteOffset: g.byteOffset, rows: g.rows / h })) };
}
