/**
 * Shared setup of the webgpu tests: one backend per test file when an adapter can be created (Dawn in
 * Node through the `webgpu` npm package; in CI over Mesa lavapipe, see scripts/setup-webgpu.sh), or the
 * reason it cannot, for the files to skip with.
 */
import { narrowFromF32, type DType } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";
import type { WebGpuBackend } from "../../src/backends/webgpu/index.js";
import type { WebGpuBackendOptions } from "../../src/backends/webgpu/device.js";

export interface WebGpuSetup {
  backend?: WebGpuBackend;
  skip?: string;
}

export async function webgpuOrSkip(opts: WebGpuBackendOptions = {}): Promise<WebGpuSetup> {
  if (process.env.MOEKIT_SKIP_WEBGPU) return { skip: "MOEKIT_SKIP_WEBGPU is set" };
  try {
    const { createWebGpuBackend } = await import("../../src/backends/webgpu/index.js");
    const backend = await createWebGpuBackend(opts);
    process.stderr.write(`# webgpu tests on: ${backend.description}\n`);
    return { backend };
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0]!;
    const skip = `WebGPU unavailable: ${msg}${msg.includes("setup-webgpu") ? "" : " (see scripts/setup-webgpu.sh)"}`;
    process.stderr.write(`# skipping webgpu tests: ${skip}\n`);
    return { skip };
  }
}

export { rng } from "../../src/bench/random.js";

export function randn(r: () => number, shape: readonly number[], scale = 1, dtype: DType = "float32"): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * scale;
  return dtype === "float32" ? Tensor.from(v, shape) : Tensor.from(narrowFromF32(v, dtype) as Uint16Array, shape, dtype);
}

export function randint(r: () => number, n: number, hi: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(r() * hi));
}

export function ints(v: Int32Array | number[], shape?: number[]): Tensor {
  const a = v instanceof Int32Array ? v : Int32Array.from(v);
  return Tensor.from(a, shape ?? [a.length]);
}
