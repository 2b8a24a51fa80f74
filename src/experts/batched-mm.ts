import type { Backend } from "../backends/backend.js";
import type { Tensor } from "../tensor.js";
import { inputProjection, type ExpertsWeights } from "./types.js";

/**
 * batched_mm: every token-slot s = t·K + k multiplies its own expert's weights, read in place by a
 * gathered product (transformers gathers copies of the weights, S·3·I·H elements; we never do).
 * No data-dependent shapes and no host sync: the decode path. A backend with `expertsForward` (cpu)
 * runs it fused: slots grouped by expert, each hit expert's weights streamed once in place.
 */
export function batchedMm(w: ExpertsWeights, hidden: Tensor, topkIndex: Tensor, topkWeights: Tensor, backend: Backend): Tensor {
  const proj = inputProjection(w);
  const k = topkIndex.shape[1]!;
  const ids = topkIndex.reshape([topkIndex.size]);
  const p = backend.gatheredLinear(hidden, proj, ids, { bias: w.gateUpBias, rowsPerInput: k });
  const a = backend.gate(p, w.gate);
  const y = backend.gatheredLinear(a, w.down, ids, { bias: w.downBias });
  return backend.combineSlots(y, topkWeights);
}
