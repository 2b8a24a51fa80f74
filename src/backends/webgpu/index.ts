/**
 * The webgpu backend (browser navigator.gpu, or Dawn in Node through the `webgpu` npm package).
 * See backend.ts for what is implemented and kernels/ for the WGSL.
 */
export { WebGpuBackend, createWebGpuBackend } from "./backend.js";
export { defaultGpu, type WebGpuBackendOptions } from "./device.js";
export { GpuStorage, type Elem } from "./runtime.js";
