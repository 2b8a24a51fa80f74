/** Weights as the native addon reads them: a format code, [rows, cols] and the row segments (row strides included), with no copy. */
import { SegmentedStorage } from "../../formats/segments.js";
import { FORMATS, type HostStorage } from "../../formats/table.js";
import { numel, type Tensor } from "../../tensor.js";
import type { NativeWeight } from "./native.js";

/** A host weight (contiguous, or a view of row segments) as a native descriptor: leading dims flattened into rows. */
export function nativeWeight(t: Tensor, op: string, what: string): NativeWeight {
  if (!t.isHost) throw new Error(`${op}: ${what} is on backend '${t.backend!.name}', not in host memory`);
  const cols = t.rank === 0 ? 1 : t.shape[t.rank - 1]!;
  const rows = numel(t.shape.slice(0, -1));
  const s = t.storage;
  const segments =
    s instanceof SegmentedStorage
      ? s.segments.map((g) => (g.rowStride === undefined ? { data: g.data, byteOffset: g.byteOffset, rows: g.rows } : { data: g.data, byteOffset: g.byteOffset, rows: g.rows, rowStride: g.rowStride }))
      : [{ data: s as HostStorage, byteOffset: 0, rows }];
  return { format: FORMATS[t.dtype].code, rows, cols, segments };
}
