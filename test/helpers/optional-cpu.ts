/** The cpu backend with bf16 compute, or undefined where the native addon did not build (the suites using it skip). */
import type { Backend } from "../../src/backends/backend.js";

export async function optionalBf16Cpu(): Promise<Backend | undefined> {
  try {
    const { CpuBackend } = await import("../../src/backends/cpu/index.js");
    return new CpuBackend({ compute: "bfloat16" });
  } catch {
    return undefined;
  }
}
