import type { Backend } from "../backends/backend.js";
import type { Tensor } from "../tensor.js";
import { inputProjection, type ExpertsWeights } from "./types.js";

/**
 * grouped_mm: token-slots counting-sorted by expert into contiguous segments, one grouped product per
 * projection over the full weight stack (empty segments cost nothing), then the weighted sum over
 * slots read back through the inverse permutation, in slot order. The prefill path. A backend with
 * `expertsForward` (cpu) runs this schedule fused: gate in the gate_up epilogue, routing weight in the down one.
 */
export function groupedMm(w: ExpertsWeights, hidden: Tensor, topkIndex: Tensor, topkWeights: Tensor, backend: Backend): Tensor {
  const proj = inputProjection(w);
  const k = topkIndex.shape[1]!;
  const ids = topkIndex.reshape([topkIndex.size]);
  const { order, position, offsets } = backend.sortByExpert(ids, w.numExperts);
  const p = backend.groupedLinear(hidden, proj, offsets, { bias: w.gateUpBias, rowIndex: order, rowsPerInput: k });
  const a = backend.gate(p, w.gate);
  const y = backend.groupedLinear(a, w.down, offsets, { bias: w.downBias });
  return backend.combineSlots(y, topkWeights, position);
}
