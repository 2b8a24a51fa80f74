/**
 * The FLOP and byte models behind the GFLOP/s and GB/s columns, in one place. They count the work of
 * the computation, not of an implementation, so every implementation of one case is credited with the
 * same numbers and faster means higher throughput:
 *
 * Experts (per MoE layer, T tokens, K slots each, S = T·K, W = 2I gated or I non-gated):
 *   FLOPs = S·(2·H·W + 2·I·H) + 2·S·H                 (input projection, down projection, weighted K-sum)
 *   bytes = A·(W·H + H·I)·wb + 2·T·H·4 + S·8           (A distinct experts' weights read once, hidden in
 *                                                      and out as float32, top-k ids and weights)
 *   A     = E·(1 − (1 − K/E)^T)                        (expected distinct experts under uniform routing)
 * Block adds the router (2·T·H·E FLOPs, E·H·wb bytes) and the shared expert of width Is
 *   (6·T·H·Is FLOPs, 3·Is·H·wb bytes; plus 2·T·H and H·wb for a sigmoid gate).
 * Model adds, per layer, attention projections (2·T·H·(2·nh·hd + 2·nkv·hd) FLOPs and their weights),
 *   attention itself (4·B·nh·L²·hd FLOPs for a length-L sequence, unmasked count), and once the
 *   lm_head (2·T·H·V FLOPs, V·H·wb bytes) plus the embedding rows read (T·H·wb).
 * Intermediate activations are not counted as traffic (they mostly stay in cache at these sizes).
 * wb is the weights' bytes per element (2 for bfloat16 and float16, 4 for float32).
 */
export type Scope = "experts" | "block" | "model";

export interface MoeDims {
  hidden: number;
  experts: number;
  intermediate: number;
  topK: number;
  gated: boolean;
  /** shared expert width (0: none) */
  sharedWidth: number;
  sharedGate: boolean;
  weightBytes: number;
  /** attention and vocabulary, for the model scope */
  heads?: number;
  kvHeads?: number;
  headDim?: number;
  vocab?: number;
}

export interface Work {
  flops: number;
  bytes: number;
}

export function expectedActiveExperts(tokens: number, k: number, e: number): number {
  return e * (1 - (1 - Math.min(k, e) / e) ** tokens);
}

export function expertsWork(d: MoeDims, tokens: number): Work {
  const s = tokens * d.topK;
  const w = d.gated ? 2 * d.intermediate : d.intermediate;
  const h = d.hidden;
  const active = expectedActiveExperts(tokens, d.topK, d.experts);
  return {
    flops: s * (2 * h * w + 2 * d.intermediate * h) + 2 * s * h,
    bytes: active * (w * h + h * d.intermediate) * d.weightBytes + 2 * tokens * h * 4 + s * 8,
  };
}

export function blockWork(d: MoeDims, tokens: number): Work {
  const ex = expertsWork(d, tokens);
  const h = d.hidden;
  let flops = ex.flops + 2 * tokens * h * d.experts;
  let bytes = ex.bytes + d.experts * h * d.weightBytes;
  if (d.sharedWidth > 0) {
    flops += 6 * tokens * h * d.sharedWidth;
    bytes += 3 * d.sharedWidth * h * d.weightBytes;
    if (d.sharedGate) {
      flops += 2 * tokens * h;
      bytes += h * d.weightBytes;
    }
  }
  return { flops, bytes };
}

export function modelWork(d: MoeDims, batch: number, seq: number, layers: number): Work {
  const { heads, kvHeads, headDim, vocab } = d;
  if (!heads || !kvHeads || !headDim || !vocab) throw new Error("model work needs heads, kvHeads, headDim and vocab");
  const t = batch * seq;
  const h = d.hidden;
  const blk = blockWork(d, t);
  const projOut = 2 * heads * headDim + 2 * kvHeads * headDim;
  const attnFlops = 2 * t * h * projOut + 4 * batch * heads * seq * seq * headDim;
  const attnBytes = projOut * h * d.weightBytes;
  return {
    flops: layers * (blk.flops + attnFlops) + 2 * t * h * vocab,
    bytes: layers * (blk.bytes + attnBytes) + vocab * h * d.weightBytes + t * h * d.weightBytes,
  };
}

/** Work of one timed iteration: `layers` MoE layers (experts, block) or the whole forward (model). */
export function iterationWork(scope: Scope, d: MoeDims, batch: number, seq: number, layers: number): Work {
  const t = batch * seq;
  if (scope === "model") return modelWork(d, batch, seq, layers);
  const one = scope === "experts" ? expertsWork(d, t) : blockWork(d, t);
  return { flops: one.flops * layers, bytes: one.bytes * layers };
}
