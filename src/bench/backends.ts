/**
 * Backend selection for benchmarks. The native `cpu` backend is imported lazily (it may not be built,
 * or not exist yet in this checkout); `reference` always exists but is far too slow for real dims.
 */
import type { Backend } from "../backends/backend.js";
import { referenceBackend } from "../backends/reference/index.js";

export type BackendName = "reference" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["reference", "cpu"];

/** Activation precision of the cpu backend's products (see CpuBackendOptions.compute). */
export type ComputeName = "float32" | "bfloat16";
export const COMPUTE_NAMES: readonly ComputeName[] = ["float32", "bfloat16"];

/** The cpu backend, or the reason it cannot be had. */
export async function loadCpuBackend(threads?: number, compute?: ComputeName): Promise<{ backend: Backend } | { reason: string }> {
  let mod: typeof import("../backends/cpu/index.js");
  try {
    mod = await import("../backends/cpu/index.js");
  } catch (e) {
    return { reason: `the cpu backend is not available (${firstLine((e as Error).message)})` };
  }
  try {
    return { backend: mod.createCpuBackend({ ...(threads ? { threads } : {}), ...(compute ? { compute } : {}) }) };
  } catch (e) {
    return { reason: `the cpu backend failed to start (${firstLine((e as Error).message)})` };
  }
}

function firstLine(s: string): string {
  return s.split("\n")[0]!;
}

/**
 * The backend a bench run uses: the one named, or cpu when it is available and reference otherwise
 * (`warning` then says why). Naming cpu when it is unavailable is an error.
 */
export async function resolveBackend(name: BackendName | undefined, threads?: number, compute?: ComputeName): Promise<{ backend: Backend; warning?: string }> {
  if (name === "reference") return { backend: referenceBackend };
  const cpu = await loadCpuBackend(threads, compute);
  if ("backend" in cpu) return cpu;
  if (name === "cpu") throw new Error(`--backend cpu: ${cpu.reason}`);
  return { backend: referenceBackend, warning: `${cpu.reason}; using the reference backend, which is far too slow for real model dims` };
}
