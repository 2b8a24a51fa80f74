/**
 * Weights as views: a tensor whose rows lie in other buffers. The logical tensor is [..., R, C] seen as
 * R' = (product of all dims but the last) rows of C values; `segments` cover those rows in order, each a
 * run of whole rows stored contiguously in `data` from byte `byteOffset` (relative to the start of
 * `data`). This is how moekit keeps a checkpoint's per-expert tensors (experts.N.gate_proj, ...) or GGUF's
 * separate ffn_gate_exps / ffn_up_exps as one [E, 2I, H] stack without copying them together. A segment
 * may also space its rows further apart than their length (`rowStride`): a block of consecutive columns
 * of a wider matrix, e.g. a shared expert's down projection cut into routed-expert-sized chunks.
 */
import { rowBytes, type DType, type HostStorage } from "./table.js";

export interface RowSegment {
  /** The buffer holding the rows (any typed array; read as bytes). */
  readonly data: HostStorage;
  /** Byte offset of the segment's first row within `data`. */
  readonly byteOffset: number;
  /** Whole rows in this segment. */
  readonly rows: number;
  /** Bytes from one row's start to the next (≥ the row size); absent: rows lie back to back. */
  readonly rowStride?: number;
}

/** The bytes from one row of `s` to the next, for rows of `rowBytes` bytes. */
export function strideOf(s: RowSegment, rowBytes: number): number {
  return s.rowStride ?? rowBytes;
}

/**
 * Bytes of rows [row, row + count) of segment `s` (rows of `rb` bytes) as contiguous byte runs of `data`
 * (byte offsets relative to `data`'s own start): one run, or one a row when the segment is strided.
 */
export function rowByteRuns(s: RowSegment, rb: number, row: number, count: number): { byteOffset: number; length: number }[] {
  const stride = strideOf(s, rb);
  const at = s.byteOffset + row * stride;
  if (stride === rb || count <= 1) return count <= 0 ? [] : [{ byteOffset: at, length: count * rb }];
  return Array.from({ length: count }, (_, i) => ({ byteOffset: at + i * stride, length: rb }));
}

export class SegmentedStorage {
  /** First logical row of each segment, plus the total at the end. */
  readonly starts: readonly number[];

  constructor(readonly segments: readonly RowSegment[]) {
    const starts = [0];
    for (const s of segments) starts.push(starts[starts.length - 1]! + s.rows);
    this.starts = starts;
  }

  get rows(): number {
    return this.starts[this.starts.length - 1]!;
  }

  /** Checks every segment against the row size of `dtype` with `cols` values per row; throws naming the first bad one. */
  validate(dtype: DType, cols: number, rows: number): void {
    const rb = rowBytes(dtype, cols);
    if (this.rows !== rows) throw new Error(`a view of ${rows} rows has segments covering ${this.rows}`);
    this.segments.forEach((s, i) => {
      if (!ArrayBuffer.isView(s.data)) throw new Error(`view segment ${i} has no typed-array data`);
      if (!Number.isSafeInteger(s.rows) || s.rows < 0 || !Number.isSafeInteger(s.byteOffset) || s.byteOffset < 0) {
        throw new Error(`view segment ${i} has rows ${s.rows} / byteOffset ${s.byteOffset}, not non-negative integers`);
      }
      const stride = strideOf(s, rb);
      if (!Number.isSafeInteger(stride) || stride < rb) throw new Error(`view segment ${i} has rowStride ${s.rowStride}, not an integer ≥ its ${rb}-byte rows`);
      const span = s.rows === 0 ? 0 : (s.rows - 1) * stride + rb;
      if (s.byteOffset + span > s.data.byteLength) {
        const every = stride === rb ? "" : ` every ${stride} bytes`;
        throw new Error(`view segment ${i}: ${s.rows} rows of ${rb} bytes${every} from byte ${s.byteOffset} run past its ${s.data.byteLength}-byte buffer`);
      }
    });
  }

  /**
   * The same rows regrouped from rows of `from` values into rows of `to` (a reshape that changes the
   * last dimension): itself when nothing changes or a segment's values do not split into whole rows of
   * `to` (the tensor's check then names the mismatch); strided segments stay as they are.
   */
  regroup(from: number, to: number): SegmentedStorage {
    if (from === to || to <= 0 || this.segments.some((s) => s.rowStride !== undefined || (s.rows * from) % to !== 0)) return this;
    return new SegmentedStorage(this.segments.map((s) => ({ ...s, rows: (s.rows * from) / to })));
  }

  /** The segment holding logical row `row` and the row's index within it. */
  locate(row: number): { segment: RowSegment; index: number; row: number } {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= row) lo = mid;
      else hi = mid - 1;
    }
    return { segment: this.segments[lo]!, index: lo, row: row - this.starts[lo]! };
  }
}

/** Whole-row segments over contiguous host storages: part p contributes `rows[p]` rows. */
export function segmentsOf(parts: readonly { data: HostStorage; byteOffset?: number; rows: number }[]): SegmentedStorage {
  return new SegmentedStorage(parts.map((p) => ({ data: p.data, byteOffset: p.byteOffset ?? 0, rows: p.rows })));
}
