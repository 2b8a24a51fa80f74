import type { Backend, GateSpec } from "../backends/backend.js";
import type { Tensor } from "../tensor.js";

/**
 * Experts weights in transformers' fused layout (nn.Linear out × in per expert):
 * gateUp [E, 2I, H] (gate rows then up rows, or interleaved for gpt_oss: see `gate`),
 * or up [E, I, H] for non-gated experts; down [E, H, I]; optional biases [E, 2I] (or [E, I]) and [E, H].
 */
export interface ExpertsWeights {
  numExperts: number;
  hiddenSize: number;
  intermediateSize: number;
  gateUp?: Tensor;
  up?: Tensor;
  down: Tensor;
  gateUpBias?: Tensor;
  downBias?: Tensor;
  gate: GateSpec;
}

/**
 * An experts implementation: hidden [T, H], topkIndex int32 [T, K], topkWeights float32 [T, K] → [T, H].
 * The routing weight multiplies each slot's down-projection output; slots are summed per token.
 * Arguments arrive validated and already on `backend`.
 */
export type ExpertsImplementation = (
  weights: ExpertsWeights,
  hidden: Tensor,
  topkIndex: Tensor,
  topkWeights: Tensor,
  backend: Backend,
) => Tensor | Promise<Tensor>;

/** The projection feeding the gate: the fused gate|up stack, or up alone for non-gated experts. */
export function inputProjection(w: ExpertsWeights): Tensor {
  const p = w.gateUp ?? w.up;
  if (!p) throw new Error("experts weights need gateUp (gated) or up (non-gated)");
  return p;
}
