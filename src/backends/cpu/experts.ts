/**
 * The cpu backend's own grouped_mm: the same schedule as the portable one (slots counting-sorted by
 * expert, one grouped product per projection, slot sum through the inverse permutation) run as one
 * native call, with the gated activation in the gate_up epilogue and the routing weight in the down
 * epilogue. Registered for the backend named "cpu" (src/experts/backend-implementations.ts).
 */
import type { Backend } from "../backend.js";
import type { ExpertsImplementation } from "../../experts/types.js";
import { inputProjection } from "../../experts/types.js";
import { CpuBackend } from "./index.js";

export const cpuGroupedMm: ExpertsImplementation = (w, hidden, topkIndex, topkWeights, backend: Backend) => {
  if (!(backend instanceof CpuBackend)) {
    throw new Error(`the cpu backend's grouped_mm needs a CpuBackend, got backend '${backend.name}'`);
  }
  return backend.fusedExperts({
    hidden,
    topkIndex,
    topkWeights,
    projection: inputProjection(w),
    down: w.down,
    projectionBias: w.gateUpBias,
    downBias: w.downBias,
    gate: w.gate,
  });
};
