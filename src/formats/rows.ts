/**
 * Host reads of weight rows in any format and storage (a contiguous typed array or a view of row
 * segments): the one place host code turns stored weights into float32.
 */
import type { Tensor } from "../tensor.js";
import { rowByteRuns, SegmentedStorage } from "./segments.js";
import { rowBytes, type HostStorage } from "./table.js";
import { widen } from "./widen.js";

function bytesOf(s: HostStorage, byteOffset: number, length: number): Uint8Array {
  return new Uint8Array(s.buffer, s.byteOffset + byteOffset, length);
}

/** A contiguous host storage of `dtype` holding bytes [byteOffset, byteOffset + length) of `s` (a view when aligned, else a copy). */
function asStorage(s: HostStorage, byteOffset: number, length: number, t: Tensor): HostStorage {
  const elem = t.dtype === "float32" || t.dtype === "int32" ? 4 : t.dtype === "bfloat16" || t.dtype === "float16" ? 2 : 1;
  const abs = s.byteOffset + byteOffset;
  const raw = abs % elem === 0 ? s.buffer : bytesOf(s, byteOffset, length).slice().buffer;
  const start = abs % elem === 0 ? abs : 0;
  if (elem === 1) return new Uint8Array(raw, start, length);
  if (elem === 2) return new Uint16Array(raw, start, length / 2);
  return t.dtype === "int32" ? new Int32Array(raw, start, length / 4) : new Float32Array(raw, start, length / 4);
}

/**
 * Rows [row, row + count) of `t` viewed as [rows, cols] (cols = the last dim), widened to float32.
 * Works for every format and for views (rows may span segments).
 */
export function weightRows(t: Tensor, row: number, count: number): Float32Array {
  const cols = t.shape[t.rank - 1] ?? 1;
  const rb = rowBytes(t.dtype, cols);
  const s = t.storage;
  if (!(s instanceof SegmentedStorage)) {
    const host = s as HostStorage;
    if (t.dtype === "float32" && host instanceof Float32Array) return host.subarray(row * cols, (row + count) * cols);
    return widen(asStorage(host, row * rb, count * rb, t), t.dtype);
  }
  const out = new Float32Array(count * cols);
  let done = 0;
  while (done < count) {
    const { segment, row: r } = s.locate(row + done);
    const n = Math.min(count - done, segment.rows - r);
    for (const run of rowByteRuns(segment, rb, r, n)) {
      out.set(widen(asStorage(segment.data, run.byteOffset, run.length, t), t.dtype), done * cols);
      done += run.length / rb;
    }
  }
  return out;
}
