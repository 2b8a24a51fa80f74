/**
 * Activation functions, as part of the backend contract: the names (transformers' ACT2FN), the parser of
 * a config's `hidden_act`, and the numbering the kernels share — the native cpu kernels
 * (native/src/common.h, `enum Act`) and the WGSL kernels (webgpu/kernels/common.wgsl.ts) switch on these
 * codes. The host (float64) definitions are in host/activations.ts.
 */

/** Activation functions named as in transformers' ACT2FN. */
export type Activation = "silu" | "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" | "relu" | "sigmoid" | "tanh" | "identity";

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

export const ACTIVATIONS = Object.keys(ACTIVATION_CODES) as readonly Activation[];

/** Parse a config's `hidden_act`, accepting transformers' aliases ("swish" = silu). */
export function parseActivation(name: string): Activation {
  const n = name === "swish" ? "silu" : name;
  if ((ACTIVATIONS as readonly string[]).includes(n)) return n as Activation;
  throw new Error(`unsupported hidden_act '${name}': supported are ${ACTIVATIONS.join(", ")}, swish`);
}

/** The kernel code of `act`; an unknown name is an error naming `op`. */
export function activationCode(act: Activation, op: string): number {
  const c = Object.prototype.hasOwnProperty.call(ACTIVATION_CODES, act) ? ACTIVATION_CODES[act] : undefined;
  if (c === undefined) throw new Error(`${op}: unknown activation '${act as string}'`);
  return c;
}
