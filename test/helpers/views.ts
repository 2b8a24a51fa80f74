/**
 * Weights as views of row segments, built from a contiguous tensor: the layouts loading produces
 * (one buffer per expert; separate gate and up parts of a gate|up stack, per expert), rows from buffers
 * at odd byte offsets (16-bit weights unaligned), and one segment per row (more than two segments per
 * expert slice). Each copies the rows into fresh buffers, so a view shares no memory with its source.
 */
import { SegmentedStorage, type RowSegment } from "../../src/formats/segments.js";
import { rowBytes, type HostStorage } from "../../src/formats/table.js";
import { Tensor } from "../../src/tensor.js";

export type ViewLayout = "perExpert" | "gateUpParts" | "unaligned" | "perRow";

function bytesOf(t: Tensor): Uint8Array {
  const s = t.storage as HostStorage;
  return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
}

/** Rows [r0, r0 + n) of `t` copied into a new buffer, at byte `pad` of it. */
function copyRows(t: Tensor, r0: number, n: number, pad: number): RowSegment {
  const rb = rowBytes(t.dtype, t.shape[t.rank - 1]!);
  const data = new Uint8Array(pad + n * rb + 3);
  data.set(bytesOf(t).subarray(r0 * rb, (r0 + n) * rb), pad);
  return { data, byteOffset: pad, rows: n };
}

/**
 * `t` ([E, N, K] or [N, K]) as a view: perExpert — one buffer per expert; gateUpParts — each expert's
 * first and second halves of N (gate and up) in two buffers; unaligned — gateUpParts at odd byte offsets;
 * perRow — one buffer per row.
 */
export function viewOf(t: Tensor, layout: ViewLayout): Tensor {
  const n = t.shape[t.rank - 2]!;
  const e = t.rank === 3 ? t.shape[0]! : 1;
  const segs: RowSegment[] = [];
  for (let ex = 0; ex < e; ex++) {
    const r0 = ex * n;
    if (layout === "perExpert") segs.push(copyRows(t, r0, n, 0));
    else if (layout === "perRow") for (let r = 0; r < n; r++) segs.push(copyRows(t, r0 + r, 1, 0));
    else {
      const half = Math.floor(n / 2);
      const pad = layout === "unaligned" ? 1 : 0;
      segs.push(copyRows(t, r0, half, pad), copyRows(t, r0 + half, n - half, pad + 2));
    }
  }
  return new Tensor(t.shape, t.dtype, new SegmentedStorage(segs), t.backend);
}
