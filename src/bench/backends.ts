/**
 * The backends a benchmark runs on (`--backend`), resolved by src/backends/by-name.ts: cpu when
 * available, else reference with a warning (far too slow for real dims); naming cpu when it is
 * unavailable is an error.
 */
import type { Backend } from "../backends/backend.js";
import { resolveBackend as byName } from "../backends/by-name.js";

/** The backends a bench case can name (each case runs in a child process that resolves it again). */
export type BackendName = "reference" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["reference", "cpu"];

/** Activation precision of the cpu backend's products (see CpuBackendOptions.compute). */
export type ComputeName = "float32" | "bfloat16";
export const COMPUTE_NAMES: readonly ComputeName[] = ["float32", "bfloat16"];

/** The backend named, or by default "auto" (`warning` then says why it fell back to reference). */
export async function resolveBackend(name: BackendName | undefined, threads?: number, compute?: ComputeName): Promise<{ backend: Backend; warning?: string }> {
  let warning: string | undefined;
  const backend = await byName(name ?? "auto", {
    threads,
    compute,
    onFallback: (reason) => (warning = `${reason}; using the reference backend, which is far too slow for real model dims`),
  });
  return { backend, warning };
}
