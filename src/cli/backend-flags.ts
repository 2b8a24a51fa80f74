/**
 * The CLI's backend flags as one choice: `--backend NAME` alone, or with `--experts-on NAME`
 * (the routed experts on another backend, e.g. cpu beside webgpu) and `--experts-layers N` (only the
 * first N MoE layers' experts there, llama.cpp's --n-cpu-moe).
 */
import type { Backend } from "../backends/backend.js";
import { BACKEND_NAMES, resolveBackend, type BackendChoice, type BackendName } from "../backends/by-name.js";
import type { CpuCompute } from "../backends/cpu/index.js";

export const PLACEMENT_USAGE = `  --experts-on NAME        the routed experts (and routers) on this backend, the rest on --backend
  --experts-layers N       with --experts-on: only the first N MoE layers' experts there (default all)`;

export interface BackendFlags {
  backend: BackendName;
  expertsOn?: BackendName;
  expertsLayers?: number;
}

export function checkBackendFlags(f: BackendFlags): void {
  for (const [flag, v] of [["--backend", f.backend], ["--experts-on", f.expertsOn]] as const) {
    if (v !== undefined && !(BACKEND_NAMES as readonly string[]).includes(v)) throw new Error(`${flag} must be one of ${BACKEND_NAMES.join(", ")}, got '${v}'`);
  }
  if (f.expertsLayers !== undefined && f.expertsOn === undefined) throw new Error("--experts-layers needs --experts-on (which backend those layers' experts go to)");
}

/** The resolved backend, or a placement of resolved backends, for fromPretrained. */
export async function backendFromFlags(f: BackendFlags, opts: { compute?: CpuCompute; threads?: number }): Promise<{ choice: BackendChoice; rest: Backend }> {
  checkBackendFlags(f);
  const rest = await resolveBackend(f.backend, opts);
  if (f.expertsOn === undefined) return { choice: rest, rest };
  const experts = await resolveBackend(f.expertsOn, opts);
  return { choice: { rest, experts, expertsLayers: f.expertsLayers }, rest };
}
