/** The cpu backend, or why it is unavailable where the native addon did not build (the suites using it skip). */
import type { Backend } from "../../src/backends/backend.js";
import type { CpuBackendOptions } from "../../src/backends/cpu/index.js";

export async function optionalCpu(options: CpuBackendOptions = {}): Promise<{ cpu?: Backend; why: string }> {
  try {
    const { CpuBackend } = await import("../../src/backends/cpu/index.js");
    return { cpu: new CpuBackend(options), why: "" };
  } catch (e) {
    return { why: (e as Error).message };
  }
}

/** The cpu backend with bf16 compute, or undefined. */
export async function optionalBf16Cpu(): Promise<Backend | undefined> {
  return (await optionalCpu({ compute: "bfloat16" })).cpu;
}
