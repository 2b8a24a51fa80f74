/**
 * Keys / values of host backends in row blocks (float32, or bfloat16 / float16: see kv-dtype.ts), one
 * list per sequence: a step writes only its new rows, and when the last block is full a new block as
 * large as everything before it is added — rows are never copied to grow (a copy into fresh memory
 * pays a page fault per 4 KiB on first touch: doubling a 4,096-token cache by copying stalled one
 * decode step for ~0.4 s on a 2-layer model). A batch of one sequence held in one block is handed out
 * as a view of that block; otherwise as a view of row segments — per sequence, the zero rows that
 * right-align it (hidden by the call's key mask) and its blocks' rows — so no step copies the cache (the
 * cpu attention reads the segments in place; other ops read views through a copy). Rows handed out are
 * never written again, except rows of a call that did not commit.
 */
import type { Backend } from "../../backends/backend.js";
import { segmentsOf } from "../../formats/segments.js";
import { shapeString, Tensor } from "../../tensor.js";
import { allocateRows, writeRows, type KvCacheDtype, type KvRowStorage } from "./kv-dtype.js";
import type { KvStore } from "./kv-store.js";
import type { SequenceId } from "./layer-spec.js";

/** A sequence's rows: blocks of [capacity, row] values, filled in order (block i starts at token `starts[i]`). */
interface RowBuffer {
  blocks: KvRowStorage[];
  starts: number[];
  capacity: number;
  row: number;
}

/** Smallest capacity a buffer starts with (tokens). */
const MIN_CAPACITY = 16;

/** Whether a layer's keys and values can live in host row buffers. */
export function hostRowsFit(b: Backend, k: Tensor, v: Tensor): boolean {
  return b.isHost && isHostF32(k) && isHostF32(v) && k.rank === 4 && v.rank === 4;
}

function isHostF32(t: Tensor): boolean {
  return t.isHost && t.dtype === "float32" && t.storage instanceof Float32Array;
}

export class HostRows implements KvStore {
  private readonly seqs = new Map<SequenceId, { k: RowBuffer; v: RowBuffer }>();
  /** Zeros that right-align the shorter sequences of a batch (shared by keys and values; grown as needed). */
  private zeros: KvRowStorage;
  /** Heads and head dims of keys and values, fixed by the first append. */
  private dims?: { k: [number, number]; v: [number, number] };

  constructor(
    private readonly b: Backend,
    private readonly layer: number,
    readonly dtype: KvCacheDtype = "float32",
  ) {
    this.zeros = allocateRows(dtype, 0);
  }

  append(ids: readonly SequenceId[], pasts: readonly number[], k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    if (!hostRowsFit(this.b, k, v)) {
      throw new Error(`KV cache: layer ${this.layer} keeps host rows appended from float32 host keys / values; cannot append keys ${k.toString()} / values ${v.toString()}`);
    }
    this.checkDims(k, v);
    const s = k.shape[1]!;
    const past = Math.max(...pasts);
    const ks: RowBuffer[] = [];
    const vs: RowBuffer[] = [];
    ids.forEach((id, i) => {
      const prev = this.seqs.get(id);
      const next = { k: this.write(prev?.k, k, i, pasts[i]!), v: this.write(prev?.v, v, i, pasts[i]!) };
      this.seqs.set(id, next);
      ks.push(next.k);
      vs.push(next.v);
    });
    const total = past + s;
    return { k: this.batch(ks, pasts, s, total, this.dims!.k), v: this.batch(vs, pasts, s, total, this.dims!.v) };
  }

  drop(id: SequenceId): void {
    this.seqs.delete(id);
    if (this.seqs.size === 0) this.zeros = allocateRows(this.dtype, 0);
  }

  private checkDims(k: Tensor, v: Tensor): void {
    const dk: [number, number] = [k.shape[2]!, k.shape[3]!];
    const dv: [number, number] = [v.shape[2]!, v.shape[3]!];
    if (!this.dims) {
      this.dims = { k: dk, v: dv };
      return;
    }
    const same = (a: [number, number], b: [number, number]) => a[0] === b[0] && a[1] === b[1];
    if (!same(this.dims.k, dk) || !same(this.dims.v, dv) || k.shape[0] !== v.shape[0] || k.shape[1] !== v.shape[1]) {
      throw new Error(
        `KV cache: layer ${this.layer} holds keys [·, ·, ${this.dims.k.join(", ")}] / values [·, ·, ${this.dims.v.join(", ")}]; cannot append ${shapeString(k.shape)} / ${shapeString(v.shape)}`,
      );
    }
  }

  /**
   * Every buffer's first pasts[i] + s rows as [B, total, H, D], right-aligned after zero rows: a view of
   * the buffer when B = 1, else a view of row segments (rows of D values: H per token).
   */
  private batch(bufs: readonly RowBuffer[], pasts: readonly number[], s: number, total: number, [h, d]: [number, number]): Tensor {
    const shape = [bufs.length, total, h, d];
    if (bufs.length === 1 && bufs[0]!.blocks.length === 1) return this.b.fromHost(bufs[0]!.blocks[0]!.subarray(0, total * h * d), shape, this.dtype);
    const pad = total - Math.min(...pasts) - s;
    if (this.zeros.length < pad * h * d) this.zeros = allocateRows(this.dtype, Math.max(pad * h * d, 2 * this.zeros.length));
    const parts = bufs.flatMap((buf, i) => {
      const rows = pasts[i]! + s;
      const own = buf.blocks.map((data, j) => ({ data, rows: Math.max(0, Math.min(rows, buf.starts[j + 1] ?? rows) - buf.starts[j]!) * h }));
      return [{ data: this.zeros, rows: (total - rows) * h }, ...own.filter((p) => p.rows > 0)];
    });
    return new Tensor(shape, this.dtype, segmentsOf(parts), this.b);
  }

  /** Row `i` of x [B, S, H, D] written at positions [past, past + S) of `buf` (a block added as needed). */
  private write(buf: RowBuffer | undefined, x: Tensor, i: number, past: number): RowBuffer {
    const s = x.shape[1]!;
    const row = x.shape[2]! * x.shape[3]!;
    const total = past + s;
    const out = buf ?? { blocks: [], starts: [], capacity: 0, row };
    if (total > out.capacity) {
      const rows = Math.max(total - out.capacity, out.capacity, MIN_CAPACITY);
      out.blocks.push(allocateRows(this.dtype, rows * row));
      out.starts.push(out.capacity);
      out.capacity += rows;
    }
    const src = (x.storage as Float32Array).subarray(i * s * row, (i + 1) * s * row);
    for (let j = 0; j < out.blocks.length; j++) {
      const start = out.starts[j]!;
      const end = out.starts[j + 1] ?? out.capacity;
      const from = Math.max(past, start);
      const to = Math.min(total, end);
      if (to > from) writeRows(this.dtype, out.blocks[j]!, (from - start) * row, src.subarray((from - past) * row, (to - past) * row), this.b);
    }
    return out;
  }
}
