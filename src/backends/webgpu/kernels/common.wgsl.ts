/**
 * WGSL shared by the webgpu kernels: activations (as transformers' ACT2FN defines them, in float32),
 * the float16 / bfloat16 rounding used by `cast`, and the weight element type of a kernel variant.
 */

/** Physical element type of weights read by a kernel: "f16" needs the shader-f16 feature. */
export type WeightType = "f32" | "f16";

/** `enable f16;` when a kernel reads float16 buffers. */
export function enableF16(t: WeightType): string {
  return t === "f16" ? "enable f16;\n" : "";
}

/** Activations by code (ACTIVATION_CODES in src/backends/activation.ts); overflow-free sigmoid and tanh. */
export const ACTIVATIONS_WGSL = /* wgsl */ `
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn tanh_(x: f32) -> f32 {
  let y = clamp(x, -15.0, 15.0);
  let e = exp(2.0 * y);
  return (e - 1.0) / (e + 1.0);
}
// erfc(z) for z >= 0 by Numerical Recipes' Chebyshev fit (|error| < 1.2e-7), as the reference's erf.
fn erfcPos_(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  return t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
}
// x·Φ(x) with Φ(x) = (1 + erf(x/√2)) / 2 written through erfc, so it keeps precision for x << 0.
fn geluErf_(x: f32) -> f32 {
  let r = erfcPos_(abs(x) * 0.70710678118654752);
  return x * select(0.5 * r, 1.0 - 0.5 * r, x >= 0.0);
}
fn act_(code: u32, x: f32) -> f32 {
  switch code {
    case 0u: { return x * sigmoid_(x); }
    case 1u: { return geluErf_(x); }
    case 2u: { return 0.5 * x * (1.0 + tanh_(0.7978845608028654 * (x + 0.044715 * x * x * x))); }
    case 3u: { return 0.5 * x * (1.0 + tanh_(x * 0.7978845608 * (1.0 + 0.044715 * x * x))); }
    case 4u: { return max(x, 0.0); }
    case 5u: { return sigmoid_(x); }
    case 6u: { return tanh_(x); }
    default: { return x; }
  }
}
`;

/** Linear workgroup index over a 2-D grid (see runtime.grid). */
export const FLAT_ID_WGSL = /* wgsl */ `
fn flat_(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y * nwg.x + wid.x; }
`;
