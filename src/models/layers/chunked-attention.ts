/**
 * Chunked causal attention (llama4's attention_chunk_size): a query sees only the keys of its own chunk
 * of C positions, positions counting a row's real tokens (transformers' chunked_overlay, which counts
 * from the row's first real token). Built from the backend's causal attention over per-chunk slices of
 * q and k/v, so no backend needs a chunk mask of its own; rows whose padding differs are sliced apart.
 */
import type { AttentionSpec, Backend } from "../../backends/backend.js";
import type { Tensor } from "../../tensor.js";

export interface ChunkedAttentionArgs {
  chunkSize: number;
  /** Key index of query row 0 (tokens cached before this call). */
  queryOffset: number;
  /** int32 [B, Skv] on the backend (0 = padding), with its host copy. */
  keyMask?: Tensor;
  keyMaskHost?: Int32Array;
  scale: number;
  sinks?: Tensor;
}

/** One run of queries [qStart, qEnd) of one chunk, reading keys from kStart. */
interface Piece {
  qStart: number;
  qEnd: number;
  kStart: number;
}

/**
 * The pieces of one row: `realBefore[j]` real tokens precede key j (its position when it is real); a
 * query's chunk is ⌊position / C⌋ and its chunk starts at the first key whose position reaches the
 * chunk's first (padding inside a chunk stays masked by keyMask).
 */
function rowPieces(realBefore: (j: number) => number, sq: number, a: ChunkedAttentionArgs): Piece[] {
  const c = a.chunkSize;
  const chunkOf = (i: number) => Math.floor(realBefore(a.queryOffset + i) / c);
  const pieces: Piece[] = [];
  for (let i = 0; i < sq; ) {
    const chunk = chunkOf(i);
    let end = i + 1;
    while (end < sq && chunkOf(end) === chunk) end++;
    let kStart = 0;
    while (realBefore(kStart) < chunk * c) kStart++;
    pieces.push({ qStart: i, qEnd: end, kStart });
    i = end;
  }
  return pieces;
}

/** q [B, Sq, Hq, D], k/v [B, Skv, Hkv, D] → [B, Sq, Hq, Dv]. */
export function chunkedAttention(b: Backend, q: Tensor, k: Tensor, v: Tensor, a: ChunkedAttentionArgs): Tensor {
  const [batch, sq] = q.shape as [number, number];
  const total = k.shape[1]!;
  const mask = a.keyMaskHost;
  if (!a.keyMask || !mask) return attendPieces(b, q, k, v, rowPieces((j) => j, sq, a), a, undefined);
  const plans = Array.from({ length: batch }, (_, r) => {
    const before = new Int32Array(total + 1);
    for (let j = 0; j < total; j++) before[j + 1] = before[j]! + (mask[r * total + j] !== 0 ? 1 : 0);
    return rowPieces((j) => before[j]!, sq, a);
  });
  const key = (p: Piece[]) => p.map((x) => `${x.qStart}:${x.qEnd}:${x.kStart}`).join(",");
  if (plans.every((p) => key(p) === key(plans[0]!))) return attendPieces(b, q, k, v, plans[0]!, a, a.keyMask);
  const one = (t: Tensor, r: number) => b.slice(t, 0, r, 1);
  const rows = plans.map((p, r) => attendPieces(b, one(q, r), one(k, r), one(v, r), p, a, one(a.keyMask!, r)));
  return b.concat(rows, 0);
}

/** One causal attention per piece, concatenated along the query axis. */
function attendPieces(b: Backend, q: Tensor, k: Tensor, v: Tensor, pieces: Piece[], a: ChunkedAttentionArgs, keyMask: Tensor | undefined): Tensor {
  const total = k.shape[1]!;
  const parts = pieces.map(({ qStart, qEnd, kStart }) => {
    const kLen = a.queryOffset + qEnd - kStart;
    const spec: AttentionSpec = {
      scale: a.scale,
      queryOffset: a.queryOffset + qStart - kStart,
      keyMask: keyMask && !(kStart === 0 && kLen === total) ? b.slice(keyMask, 1, kStart, kLen) : keyMask,
      sinks: a.sinks,
    };
    if (pieces.length === 1 && kStart === 0 && kLen === total) return b.attention(q, k, v, spec);
    return b.attention(b.slice(q, 1, qStart, qEnd - qStart), b.slice(k, 1, kStart, kLen), b.slice(v, 1, kStart, kLen), spec);
  });
  return parts.length === 1 ? parts[0]! : b.concat(parts, 1);
}
