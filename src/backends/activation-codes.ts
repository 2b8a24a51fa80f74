/**
 * The activation numbering the kernels share: the native cpu kernels (native/src/common.h, `enum Act`)
 * and the WGSL kernels (webgpu/kernels/common.wgsl.ts) switch on these codes.
 */
import type { Activation } from "./backend.js";

export const ACTIVATION_CODES: Record<Activation, number> = {
  silu: 0,
  gelu: 1,
  gelu_new: 2,
  gelu_pytorch_tanh: 2,
  gelu_fast: 3,
  relu: 4,
  sigmoid: 5,
  tanh: 6,
  identity: 7,
};

/** The code of `act`; an unknown name is an error naming `op`. */
export function activationCode(act: Activation, op: string): number {
  const c = ACTIVATION_CODES[act];
  if (c === undefined) throw new Error(`${op}: unknown activation '${act as string}'`);
  return c;
}
