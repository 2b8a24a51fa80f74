/**
 * Keys / values of host backends in float32 row buffers, one per sequence, that grow by doubling: a
 * decode step writes only its new rows (not a copy of the whole sequence, as concatenation would), and
 * a batch of one sequence is handed out as a view of its buffer, without copying. Rows handed out are
 * never written again, except rows of a call that did not commit. Batches of several sequences are
 * copied into one [B, P + S, H, D] array (left-padded with zeros where sequences are shorter), kept by
 * the store and reused by its next batch (a server's every decode step would otherwise allocate and
 * collect megabytes per layer): such a batch is valid until the layer's next append.
 */
import type { Backend } from "../../backends/backend.js";
import { shapeString, type Tensor } from "../../tensor.js";
import type { KvStore } from "./kv-store.js";
import type { SequenceId } from "./layer-spec.js";

/** [capacity, row] float32 values, of which the first `length` rows (the sequence's tokens) are set. */
interface RowBuffer {
  data: Float32Array;
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
  /** The arrays batches of several sequences are gathered into (grown as needed). */
  private readonly batchBuffers = { k: new Float32Array(0), v: new Float32Array(0) };
  /** Heads and head dims of keys and values, fixed by the first append. */
  private dims?: { k: [number, number]; v: [number, number] };

  constructor(
    private readonly b: Backend,
    private readonly layer: number,
  ) {}

  append(ids: readonly SequenceId[], pasts: readonly number[], k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    if (!hostRowsFit(this.b, k, v)) {
      throw new Error(`KV cache: layer ${this.layer} keeps float32 host rows; cannot append keys ${k.toString()} / values ${v.toString()}`);
    }
    this.checkDims(k, v);
    const s = k.shape[1]!;
    const past = Math.max(...pasts);
    const ks: RowBuffer[] = [];
    const vs: RowBuffer[] = [];
    ids.forEach((id, i) => {
      const prev = this.seqs.get(id);
      const next = { k: write(prev?.k, k, i, pasts[i]!), v: write(prev?.v, v, i, pasts[i]!) };
      this.seqs.set(id, next);
      ks.push(next.k);
      vs.push(next.v);
    });
    const total = past + s;
    const [kh, kd] = this.dims!.k;
    const [vh, vd] = this.dims!.v;
    return {
      k: this.b.fromHost(this.gather("k", ks, pasts, s, total), [ids.length, total, kh, kd], "float32"),
      v: this.b.fromHost(this.gather("v", vs, pasts, s, total), [ids.length, total, vh, vd], "float32"),
    };
  }

  drop(id: SequenceId): void {
    this.seqs.delete(id);
    if (this.seqs.size === 0) this.batchBuffers.k = this.batchBuffers.v = new Float32Array(0);
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

  /** Every buffer's first pasts[i] + s rows as one [B, total, row] array, right-aligned (a view when B = 1). */
  private gather(which: "k" | "v", bufs: readonly RowBuffer[], pasts: readonly number[], s: number, total: number): Float32Array {
    const row = bufs[0]!.row;
    if (bufs.length === 1) return bufs[0]!.data.subarray(0, total * row);
    const size = bufs.length * total * row;
    let out = this.batchBuffers[which];
    if (out.length < size) out = this.batchBuffers[which] = new Float32Array(Math.max(size, Math.floor(out.length * 1.5)));
    bufs.forEach((buf, i) => {
      const rows = pasts[i]! + s;
      const at = i * total * row;
      out.fill(0, at, at + (total - rows) * row);
      out.set(buf.data.subarray(0, rows * row), at + (total - rows) * row);
    });
    return out.subarray(0, size);
  }
}

/** Row `i` of x [B, S, H, D] written at positions [past, past + S) of `buf` (grown, by doubling, as needed). */
function write(buf: RowBuffer | undefined, x: Tensor, i: number, past: number): RowBuffer {
  const s = x.shape[1]!;
  const row = x.shape[2]! * x.shape[3]!;
  const total = past + s;
  let out = buf;
  if (!out || total > out.capacity) {
    const capacity = Math.max(total, 2 * (out?.capacity ?? 0), MIN_CAPACITY);
    const data = new Float32Array(capacity * row);
    if (out && past > 0) data.set(out.data.subarray(0, past * row));
    out = { data, capacity, row };
  }
  const src = x.storage as Float32Array;
  out.data.set(src.subarray(i * s * row, (i + 1) * s * row), past * row);
  return out;
}
