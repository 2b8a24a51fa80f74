/**
 * Experts implementations that backends supply for themselves, registered in every registry beside the
 * portable ones (see registry.ts): a backend's optimised version of a named implementation, or one of
 * its own. `moekit info` lists them with their backend.
 */
import { cpuGroupedMm } from "../backends/cpu/experts.js";
import type { ExpertsImplementation } from "./types.js";

export interface BackendImplementation {
  name: string;
  backend: string;
  impl: ExpertsImplementation;
  autoCandidate: boolean;
  description: string;
}

export const BACKEND_IMPLEMENTATIONS: readonly BackendImplementation[] = [
  {
    name: "grouped_mm",
    backend: "cpu",
    impl: cpuGroupedMm,
    autoCandidate: true,
    description: "the whole grouped_mm in one native call: sort, gate_up with the gate in its epilogue, down with the routing weight in its epilogue",
  },
];
