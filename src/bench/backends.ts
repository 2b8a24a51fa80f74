/**
 * Backend selection for benchmarks. The native `cpu` backend is imported lazily (it may not be built,
 * or not exist yet in this checkout); `reference` always exists but is far too slow for real dims.
 */
import type { Backend } from "../backends/backend.js";
import { referenceBackend } from "../backends/reference/index.js";

export type BackendName = "reference" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["reference", "cpu"];

type CpuModule = Record<string, unknown>;

async function importCpu(): Promise<CpuModule> {
  // A computed specifier: the module is optional at type-check time.
  const url = new URL(`../backends/cpu/index${extname(import.meta.url)}`, import.meta.url).href;
  return (await import(url)) as CpuModule;
}

function extname(url: string): string {
  const m = /\.[cm]?[jt]s$/.exec(url);
  return m ? m[0] : ".js";
}

/** The cpu backend, or the reason it cannot be had. */
export async function loadCpuBackend(threads?: number): Promise<{ backend: Backend } | { reason: string }> {
  let mod: CpuModule;
  try {
    mod = await importCpu();
  } catch (e) {
    return { reason: `the cpu backend is not available (${firstLine((e as Error).message)})` };
  }
  try {
    const opts = threads ? { threads } : {};
    if (typeof mod.createCpuBackend === "function") return { backend: (await mod.createCpuBackend(opts)) as Backend };
    if (typeof mod.CpuBackend === "function") return { backend: new (mod.CpuBackend as new (o: object) => Backend)(opts) };
    if (mod.cpuBackend && typeof mod.cpuBackend === "object") return { backend: mod.cpuBackend as Backend };
  } catch (e) {
    return { reason: `the cpu backend failed to start (${firstLine((e as Error).message)})` };
  }
  return { reason: "src/backends/cpu exports neither createCpuBackend, CpuBackend nor cpuBackend" };
}

function firstLine(s: string): string {
  return s.split("\n")[0]!;
}

/**
 * The backend a bench run uses: the one named, or cpu when it is available and reference otherwise
 * (`warning` then says why). Naming cpu when it is unavailable is an error.
 */
export async function resolveBackend(name: BackendName | undefined, threads?: number): Promise<{ backend: Backend; warning?: string }> {
  if (name === "reference") return { backend: referenceBackend };
  const cpu = await loadCpuBackend(threads);
  if ("backend" in cpu) return cpu;
  if (name === "cpu") throw new Error(`--backend cpu: ${cpu.reason}`);
  return { backend: referenceBackend, warning: `${cpu.reason}; using the reference backend, which is far too slow for real model dims` };
}
