/**
 * A shared expert run inside the routed experts' pass: a gated MLP of width W = c·I is c more experts of
 * width I (the gated activation is per column, and its down product a sum over columns, so chunks of I
 * columns add up to the whole), selected for every token with the shared gate's weight σ(x·g) (or 1).
 * The routed experts layer then makes one pass over the activations for both, as one more (always
 * selected) group of its grouped products, instead of the shared MLP's own products, gate and adds.
 *
 * The extended stack is a view, nothing copied: the routed gate|up and down stacks as they are, plus the
 * shared gate|up rows (c row ranges of gate and of up) and the shared down as c [H, I] column blocks, each
 * a strided view of the stored [H, c·I] rows (row segments with a row stride of c·I values).
 */
import type { Backend } from "../../backends/backend.js";
import { Experts } from "../../experts/experts.js";
import type { ExpertsWeights } from "../../experts/types.js";
import { SegmentedStorage, strideOf, type RowSegment } from "../../formats/segments.js";
import { formatInfo, isFloat, rowBytes } from "../../formats/table.js";
import { rowSegments } from "../../loading/fuse.js";
import { Tensor } from "../../tensor.js";
import type { ExpertsCallOptions } from "./experts-call.js";
import type { SharedExperts } from "./moe-block.js";

export interface SharedInExperts {
  /** The routed experts followed by the shared expert's `count` chunks. */
  experts: Experts;
  /** Experts the shared MLP was cut into. */
  count: number;
  /** [1, H] shared gate (σ(x·gateᵀ) weighs the shared slots), or none (weight 1). */
  gate?: Tensor;
}

/**
 * The routed experts extended by the shared expert, or undefined where the layouts do not allow it
 * (and the block keeps running the shared MLP apart): host tensors on one backend, the routed and shared
 * gate|up in one format and the two downs in one format (element or block; a block format's blocks must
 * divide I, so the shared down's column blocks start at whole blocks), concatenated gate|up with the same activation (no clamped SwiGLU), no biases, W a multiple of I, a plain experts call.
 */
export function sharedInExperts(routed: Experts, shared: SharedExperts, backend: Backend, expertsBackend: Backend, call: ExpertsCallOptions): SharedInExperts | undefined {
  const w = routed.weights;
  const { mlp } = shared;
  if (expertsBackend !== backend || !backend.isHost || shared.average || call.weightScalesInput || call.identityExperts) return undefined;
  if (!w.gateUp || w.gate.kind !== "concatenated" || w.gate.clampedSwiglu || w.gate.act !== mlp.act || w.gateUpBias || w.downBias || mlp.gateUpBias || mlp.downBias) return undefined;
  if (![w.gateUp, w.down, mlp.gateUp, mlp.down].every((t) => t.isHost && isFloat(t.dtype))) return undefined;
  // The extended stacks hold one format each: routed and shared gate|up alike, routed and shared down alike.
  if (mlp.gateUp.dtype !== w.gateUp.dtype || mlp.down.dtype !== w.down.dtype) return undefined;
  const { numExperts: e, hiddenSize: h, intermediateSize: i } = w;
  const width = mlp.down.shape[1]!;
  if (i === 0 || width % i !== 0 || mlp.gateUp.shape[0] !== 2 * width || mlp.down.shape[0] !== h) return undefined;
  // A block format's down column blocks start at whole blocks (K-quants' 256 do not divide I = 1408).
  if (i % formatInfo(w.down.dtype).blockElems !== 0) return undefined;
  const count = width / i;
  const gateUp: RowSegment[] = rowSegments(w.gateUp, 0, e * 2 * i);
  for (let c = 0; c < count; c++) gateUp.push(...rowSegments(mlp.gateUp, c * i, i), ...rowSegments(mlp.gateUp, width + c * i, i));
  const down: RowSegment[] = [...rowSegments(w.down, 0, e * h), ...columnBlocks(mlp.down, count, i)];
  const extended: ExpertsWeights = {
    numExperts: e + count,
    hiddenSize: h,
    intermediateSize: i,
    gate: w.gate,
    gateUp: new Tensor([e + count, 2 * i, h], w.gateUp.dtype, new SegmentedStorage(gateUp), w.gateUp.backend),
    down: new Tensor([e + count, h, i], w.down.dtype, new SegmentedStorage(down), w.down.backend),
  };
  const experts = new Experts(extended, { backend: routed.backend, implementation: routed.implementation, registry: routed.registry });
  return { experts, count, gate: shared.gate };
}

/**
 * down [H, c·I] as c blocks [H, I] of consecutive columns, one after another: for each block, the rows of
 * the stored tensor's segments offset by the block's first column and strided by the whole row (a view).
 */
export function columnBlocks(down: Tensor, count: number, i: number): RowSegment[] {
  const h = down.shape[0]!;
  const rb = rowBytes(down.dtype, count * i);
  const offset = rowBytes(down.dtype, i);
  const rows = rowSegments(down, 0, h);
  const out: RowSegment[] = [];
  for (let c = 0; c < count; c++) {
    for (const seg of rows) out.push({ data: seg.data, byteOffset: seg.byteOffset + c * offset, rows: seg.rows, rowStride: strideOf(seg, rb) });
  }
  return out;
}

/**
 * The routing with the shared slots appended: index [T, K + c] (ids E .. E + c − 1), weights [T, K + c]
 * (the token's shared weight, σ(x·g) or 1, in each shared slot). Host tensors.
 */
export async function withSharedSlots(b: Backend, index: Tensor, weights: Tensor, numRouted: number, count: number, sharedWeight?: Tensor): Promise<{ index: Tensor; weights: Tensor }> {
  const [t, k] = index.shape as [number, number];
  const ids = (await index.data()) as Int32Array;
  const ws = (await weights.data()) as Float32Array;
  const sw = sharedWeight ? ((await sharedWeight.data()) as Float32Array) : undefined;
  const kk = k + count;
  const outIds = new Int32Array(t * kk);
  const outW = new Float32Array(t * kk);
  for (let r = 0; r < t; r++) {
    outIds.set(ids.subarray(r * k, (r + 1) * k), r * kk);
    outW.set(ws.subarray(r * k, (r + 1) * k), r * kk);
    for (let c = 0; c < count; c++) {
      outIds[r * kk + k + c] = numRouted + c;
      outW[r * kk + k + c] = sw ? sw[r]! : 1;
    }
  }
  return { index: b.fromHost(outIds, [t, kk], "int32"), weights: b.fromHost(outW, [t, kk], "float32") };
}
