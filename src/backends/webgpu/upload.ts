/**
 * Host weights into device buffers: rows of a contiguous tensor or of a view of row segments
 * (SegmentedStorage) written straight into a buffer's mapped range, segment by segment — no host
 * concatenation. Formats the device keeps as stored (float32; float16 with shader-f16) are copied as
 * bytes; the others are widened to float32 row run by row run.
 */
import { weightRows } from "../../formats/rows.js";
import { rowByteRuns, SegmentedStorage } from "../../formats/segments.js";
import { rowBytes, type HostStorage } from "../../formats/table.js";
import type { Tensor } from "../../tensor.js";

/** The [rows, cols] view of a tensor: leading dims flattened (a rank-0 tensor is one row of one value). */
export function rowsOf(t: Tensor): { rows: number; cols: number } {
  const cols = t.rank === 0 ? 1 : t.shape[t.rank - 1]!;
  return { rows: cols === 0 ? t.shape.slice(0, -1).reduce((a, b) => a * b, 1) : t.size / cols, cols };
}

/** Whether the device element `elem` holds t's format as stored (bytes copy as they are). */
function stored(t: Tensor, elem: "f32" | "f16"): boolean {
  return (t.dtype === "float32" && elem === "f32") || (t.dtype === "float16" && elem === "f16");
}

/** Writes rows [r0, r0 + count) of the host float tensor `t` into `dst` (from byte 0) as `elem` values. */
export function writeRows(t: Tensor, r0: number, count: number, dst: Uint8Array, elem: "f32" | "f16"): void {
  if (count === 0) return;
  if (!stored(t, elem)) {
    const v = weightRows(t, r0, count);
    dst.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return;
  }
  writeBlockRows(t, r0, count, rowBytes(t.dtype, rowsOf(t).cols), dst);
}

/** Writes the stored bytes of rows [r0, r0 + count) of the host tensor `t` (rows of `rb` bytes, any format) into `dst`. */
export function writeBlockRows(t: Tensor, r0: number, count: number, rb: number, dst: Uint8Array): void {
  const s = t.storage;
  if (!(s instanceof SegmentedStorage)) {
    const h = s as HostStorage;
    dst.set(new Uint8Array(h.buffer, h.byteOffset + r0 * rb, count * rb));
    return;
  }
  let done = 0;
  while (done < count) {
    const { segment, row } = s.locate(r0 + done);
    const n = Math.min(count - done, segment.rows - row);
    const d = segment.data;
    for (const run of rowByteRuns(segment, rb, row, n)) {
      dst.set(new Uint8Array(d.buffer, d.byteOffset + run.byteOffset, run.length), done * rb);
      done += run.length / rb;
    }
  }
}
