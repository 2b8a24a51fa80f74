/**
 * Key/value cache, one entry per layer: keys [B, S, Hkv, Dk] and values [B, S, Hkv, Dv] (k and v head
 * dims may differ, as in MLA). Layers append during a forward; `length` advances once the whole
 * forward has run (`commit`).
 *
 * On host backends with float32 keys/values the cache lives in preallocated buffers [B, capacity, H·D]
 * that grow by doubling, so a decode step writes only its new rows (not a copy of the whole sequence,
 * as concatenation would); with batch 1 the sequence so far is handed out as a view of the buffer,
 * without copying. Rows already handed out are never written again. Other backends and dtypes
 * concatenate.
 */
import type { Backend } from "../../backends/backend.js";
import { shapeString, type Tensor } from "../../tensor.js";

interface Entry {
  k: Tensor;
  v: Tensor;
  /** host buffers behind k and v (absent when the layer concatenates) */
  kBuf?: RowBuffer;
  vBuf?: RowBuffer;
}

/** [batch, capacity, row] float32 values, of which the first `length` positions of each batch are set. */
interface RowBuffer {
  data: Float32Array;
  capacity: number;
  row: number;
}

/** Smallest capacity a layer's buffer starts with (positions). */
const MIN_CAPACITY = 16;

export class KVCache {
  private readonly entries: (Entry | undefined)[];
  private committed = 0;

  constructor(readonly numLayers: number) {
    this.entries = new Array<Entry | undefined>(numLayers).fill(undefined);
  }

  /** Tokens held by every layer. */
  get length(): number {
    return this.committed;
  }

  /** Append a layer's new keys/values [B, S, H, D]; returns the whole sequence so far. */
  append(b: Backend, layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const prev = this.entries[layer];
    if (prev && (prev.k.shape[1] !== this.committed || prev.k.shape[0] !== k.shape[0])) {
      throw new Error(`KV cache: layer ${layer} holds ${shapeString(prev.k.shape)}, which does not continue a batch of ${k.shape[0]} at length ${this.committed}`);
    }
    const buffered = b.isHost && isHostF32(k) && isHostF32(v) && k.rank === 4 && v.rank === 4 && (!prev || prev.kBuf !== undefined);
    if (!buffered) {
      const next = prev ? { k: b.concat([prev.k, k], 1), v: b.concat([prev.v, v], 1) } : { k, v };
      this.entries[layer] = next;
      return next;
    }
    if (prev && (prev.k.shape[2] !== k.shape[2] || prev.k.shape[3] !== k.shape[3] || prev.v.shape[2] !== v.shape[2] || prev.v.shape[3] !== v.shape[3])) {
      throw new Error(`KV cache: layer ${layer} holds keys ${shapeString(prev.k.shape)} / values ${shapeString(prev.v.shape)}; cannot append ${shapeString(k.shape)} / ${shapeString(v.shape)}`);
    }
    const past = prev ? this.committed : 0;
    const kBuf = write(prev?.kBuf, k, past);
    const vBuf = write(prev?.vBuf, v, past);
    const total = past + k.shape[1]!;
    const next: Entry = {
      k: b.fromHost(view(kBuf, k.shape[0]!, total), [k.shape[0]!, total, k.shape[2]!, k.shape[3]!], "float32"),
      v: b.fromHost(view(vBuf, v.shape[0]!, total), [v.shape[0]!, total, v.shape[2]!, v.shape[3]!], "float32"),
      kBuf,
      vBuf,
    };
    this.entries[layer] = next;
    return { k: next.k, v: next.v };
  }

  /** Advance the cached length by `tokens` after a forward over all layers. */
  commit(tokens: number): void {
    this.committed += tokens;
  }
}

function isHostF32(t: Tensor): boolean {
  return t.isHost && t.dtype === "float32" && t.storage instanceof Float32Array;
}

/** Rows of x [B, S, H, D] written at positions [past, past + S) of `buf` (grown, by doubling, as needed). */
function write(buf: RowBuffer | undefined, x: Tensor, past: number): RowBuffer {
  const [batch, s] = x.shape as [number, number];
  const row = x.shape[2]! * x.shape[3]!;
  const total = past + s;
  let out = buf;
  if (!out || total > out.capacity) {
    const capacity = Math.max(total, 2 * (out?.capacity ?? 0), MIN_CAPACITY);
    const data = new Float32Array(batch * capacity * row);
    if (out && past > 0) {
      for (let bi = 0; bi < batch; bi++) data.set(out.data.subarray(bi * out.capacity * row, (bi * out.capacity + past) * row), bi * capacity * row);
    }
    out = { data, capacity, row };
  }
  const src = x.storage as Float32Array;
  for (let bi = 0; bi < batch; bi++) out.data.set(src.subarray(bi * s * row, (bi + 1) * s * row), (bi * out.capacity + past) * row);
  return out;
}

/** Positions [0, total) of every batch as one contiguous [B, total, row] array (a view when B = 1). */
function view(buf: RowBuffer, batch: number, total: number): Float32Array {
  const { data, capacity, row } = buf;
  if (batch === 1) return data.subarray(0, total * row);
  const out = new Float32Array(batch * total * row);
  for (let bi = 0; bi < batch; bi++) out.set(data.subarray(bi * capacity * row, (bi * capacity + total) * row), bi * total * row);
  return out;
}
