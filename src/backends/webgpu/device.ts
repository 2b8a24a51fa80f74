/// <reference types="@webgpu/types" />
/**
 * Getting a GPUDevice: the browser's navigator.gpu, or in Node the `webgpu` npm package (Dawn), which
 * is imported lazily so this module still loads in a browser bundle. The GPU object that Dawn's
 * create() returns must stay referenced while its devices live (dropping it crashes the process), so it
 * is handed back for the backend to keep.
 */

export interface WebGpuBackendOptions {
  /** A GPU entry point (navigator.gpu or the `webgpu` package's create() result). */
  gpu?: GPU;
  adapter?: GPUAdapter;
  device?: GPUDevice;
  /** Store float16 weights as f16 when the device has shader-f16 (default true); else they widen to f32. */
  useF16?: boolean;
  /** Dawn toggles for the Node package's create(), e.g. ["enable-dawn-features=allow_unsafe_apis"]. */
  dawnFlags?: string[];
  powerPreference?: GPUPowerPreference;
  /**
   * Largest device buffer a weight is stored in, in bytes (default and upper bound: the device's
   * maxStorageBufferBindingSize and maxBufferSize). Weights larger than this are split into chunks of
   * whole experts or of rows (see runtime.ts ChunkedLayout); tests lower it to exercise the split paths.
   */
  maxChunkBytes?: number;
  /**
   * Quantized matrix-vector products (decode) on q8_0 / q4_0 / q5_0 / q4_k / q6_k / mxfp4 weights quantize
   * their input rows to int8 per block and use WGSL's packed int8 dot products (dot4I8Packed). Default: on
   * when the device's WGSL has the `packed_4x8_integer_dot_product` language feature; true requires it
   * (an error where it is absent), false keeps the float32 path (each weight value widened in the lanes).
   */
  int8Dot?: boolean;
}

/**
 * Limits requested at their adapter maximum: the buffer sizes (large expert stacks), the compute
 * workgroup shape and storage, and the bindings per stage. Names an adapter does not report are skipped.
 */
const MAX_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxUniformBufferBindingSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxBindGroups",
  "maxBindingsPerBindGroup",
] as const;

export interface AcquiredDevice {
  device: GPUDevice;
  /** Objects that must outlive the device (Dawn's GPU). */
  keepAlive: unknown[];
  /** The device was created here (the backend may destroy it). */
  owned: boolean;
  /** The GPU entry point the device came from, when known (its wgslLanguageFeatures). */
  gpu?: GPU;
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === "string";
}

async function nodeGpu(flags: string[]): Promise<GPU> {
  // A computed specifier keeps bundlers from trying to resolve the Node-only package.
  const specifier = ["web", "gpu"].join("");
  let mod: { create(flags: string[]): GPU };
  try {
    mod = (await import(/* @vite-ignore */ specifier)) as { create(flags: string[]): GPU };
  } catch (e) {
    throw new Error(`webgpu: the 'webgpu' npm package (Dawn for Node) is not installed or failed to load: ${(e as Error).message}`);
  }
  return mod.create(flags);
}

/** The GPU entry point of this environment: navigator.gpu, or Dawn through the `webgpu` package in Node. */
export async function defaultGpu(flags: string[] = []): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (isNode()) return nodeGpu(flags);
  throw new Error("webgpu: this browser has no navigator.gpu (WebGPU is unavailable or disabled)");
}

export async function acquireDevice(opts: WebGpuBackendOptions): Promise<AcquiredDevice> {
  if (opts.device) return { device: opts.device, keepAlive: [opts.adapter, opts.gpu], owned: false, gpu: opts.gpu };
  const keepAlive: unknown[] = [];
  let adapter = opts.adapter;
  let gpu = opts.gpu;
  if (!adapter) {
    gpu ??= await defaultGpu(opts.dawnFlags);
    keepAlive.push(gpu);
    adapter = (await gpu.requestAdapter({ powerPreference: opts.powerPreference })) ?? undefined;
    if (!adapter) throw new Error("webgpu: requestAdapter() returned no adapter (no GPU, or no Vulkan/Metal/D3D12 driver; in CI install Mesa lavapipe, see scripts/setup-webgpu.sh)");
  }
  keepAlive.push(adapter);
  const requiredFeatures: GPUFeatureName[] = [];
  if (opts.useF16 !== false && adapter.features.has("shader-f16")) requiredFeatures.push("shader-f16");
  const l = adapter.limits as unknown as Record<string, number | undefined>;
  const requiredLimits: Record<string, number> = {};
  for (const name of MAX_LIMITS) {
    const v = l[name];
    if (typeof v === "number" && Number.isFinite(v)) requiredLimits[name] = v;
  }
  const device = await adapter.requestDevice({ label: "moekit", requiredFeatures, requiredLimits });
  return { device, keepAlive, owned: true, gpu };
}

export const PACKED_DOT_FEATURE = "packed_4x8_integer_dot_product";

/**
 * Whether WGSL on this device has packed int8 dot products: the GPU object's wgslLanguageFeatures when it
 * is known (or navigator.gpu's), else whether a shader calling dot4I8Packed compiles on the device.
 */
export async function hasPackedDot(device: GPUDevice, gpu?: GPU): Promise<boolean> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  const features = (gpu ?? nav?.gpu)?.wgslLanguageFeatures;
  if (features) return features.has(PACKED_DOT_FEATURE);
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ label: "moekit.probe.dot4I8Packed", code: "@compute @workgroup_size(1) fn main() { _ = dot4I8Packed(1u, 2u); }" });
  const info = await module.getCompilationInfo();
  const error = await device.popErrorScope();
  return !error && !info.messages.some((m) => m.type === "error");
}
