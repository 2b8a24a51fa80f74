/**
 * Memory accounting of a benchmark run, against issue 12's "peak memory ≤ 1.1× the quantized weights +
 * activations":
 * - weights: the bytes of the model's host weight storages as held (block formats at their block sizes, each
 *   byte of a shared or viewed buffer once);
 * - activations: what the run adds to the resident set once every weight page is resident (its peak minus the
 *   resident size right before it): activations, KV cache, scratch;
 * - peak: the resident high-water mark over load and run;
 * - runtime: the resident size before loading (Node, V8, the addon's code).
 * Whatever else stays resident after loading (float copies, freed heap kept, buffers of the loader) is extra:
 * it shows as a ratio peak / (weights + activations) above 1 by that much plus the runtime.
 */
import { SegmentedStorage, strideOf } from "../formats/segments.js";
import { rowBytes } from "../formats/table.js";
import type { Tensor } from "../tensor.js";

type Range = [number, number];

/** The byte ranges of each buffer that host tensors' values occupy (views: each row segment's bytes), merged. */
export function weightRanges(tensors: Iterable<Tensor>): Map<ArrayBufferLike, Range[]> {
  const raw = new Map<ArrayBufferLike, Range[]>();
  const add = (data: ArrayBufferView, at: number, length: number) => {
    if (length <= 0) return;
    const list = raw.get(data.buffer) ?? [];
    list.push([data.byteOffset + at, data.byteOffset + at + length]);
    raw.set(data.buffer, list);
  };
  for (const t of tensors) {
    if (!t.isHost) continue;
    if (t.storage instanceof SegmentedStorage) {
      const rb = rowBytes(t.dtype, t.shape[t.rank - 1]!);
      for (const s of t.storage.segments) {
        const stride = strideOf(s, rb);
        if (stride === rb) add(s.data, s.byteOffset, s.rows * rb);
        else for (let r = 0; r < s.rows; r++) add(s.data, s.byteOffset + r * stride, rb);
      }
    } else if (ArrayBuffer.isView(t.storage)) add(t.storage, 0, t.storage.byteLength);
  }
  const merged = new Map<ArrayBufferLike, Range[]>();
  for (const [buf, list] of raw) {
    list.sort((a, b) => a[0] - b[0]);
    const out: Range[] = [];
    for (const [lo, hi] of list) {
      const last = out[out.length - 1];
      if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
      else out.push([lo, hi]);
    }
    merged.set(buf, out);
  }
  return merged;
}

/** Bytes of the host weights as held: every byte of their storages once (tied embeddings, shared buffers). */
export function weightBytes(tensors: Iterable<Tensor>): number {
  let n = 0;
  for (const list of weightRanges(tensors).values()) for (const [lo, hi] of list) n += hi - lo;
  return n;
}

const PAGE = 4096;

/**
 * Reads one byte of every page of the weights, so memory-mapped weights are resident before a run is measured
 * (a run touches only the experts it routes to; the accounting counts all the weights). Returns a checksum of
 * the bytes read, so the reads are not optimized away.
 */
export function touchWeights(tensors: Iterable<Tensor>): number {
  let sum = 0;
  for (const [buf, list] of weightRanges(tensors)) {
    const bytes = new Uint8Array(buf);
    for (const [lo, hi] of list) {
      for (let i = lo; i < hi; i += PAGE) sum = (sum + bytes[i]!) | 0;
      sum = (sum + bytes[hi - 1]!) | 0;
    }
  }
  return sum;
}

/** What a benchmark child measures around loading and running (bytes). */
export interface MemorySample {
  /** resident size before loading */
  runtimeBytes: number;
  /** the host weights as held (weightBytes) */
  weightBytes: number;
  /** high-water mark of loading */
  loadPeakBytes: number;
  /** resident size after loading, garbage collected, every weight page touched */
  loadedRssBytes: number;
  /** high-water mark of the timed work (warmup and iterations) */
  runPeakBytes: number;
}

export interface MemoryAccount extends MemorySample {
  activationBytes: number;
  peakBytes: number;
  /** peak / (weights + activations) */
  ratio: number;
}

export function memoryAccount(s: MemorySample): MemoryAccount {
  for (const [k, v] of Object.entries(s)) if (!Number.isFinite(v) || v < 0) throw new Error(`memory sample: ${k} is ${v}, not a byte count`);
  const activationBytes = Math.max(0, s.runPeakBytes - s.loadedRssBytes);
  const peakBytes = Math.max(s.loadPeakBytes, s.runPeakBytes);
  const base = s.weightBytes + activationBytes;
  return { ...s, activationBytes, peakBytes, ratio: base > 0 ? peakBytes / base : NaN };
}

const mb = (bytes: number) => Math.round(bytes / 1e6).toLocaleString("en-US");

/** One line of the accounting, e.g. "weights 612 MB + activations 31 MB; peak RSS 712 MB (load 690, run 712) = 1.11×; runtime 68 MB, RSS after load 676 MB". */
export function memoryLine(a: MemoryAccount): string {
  return (
    `weights ${mb(a.weightBytes)} MB + activations ${mb(a.activationBytes)} MB; peak RSS ${mb(a.peakBytes)} MB ` +
    `(load ${mb(a.loadPeakBytes)}, run ${mb(a.runPeakBytes)}) = ${a.ratio.toFixed(2)}× weights + activations; ` +
    `runtime ${mb(a.runtimeBytes)} MB, RSS after load ${mb(a.loadedRssBytes)} MB`
  );
}
