import type { Activation } from "../backend.js";

export const ACTIVATIONS: readonly Activation[] = ["silu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "sigmoid", "tanh", "identity"];

/** Parse a config's `hidden_act`, accepting transformers' aliases ("swish" = silu). */
export function parseActivation(name: string): Activation {
  const n = name === "swish" ? "silu" : name;
  if ((ACTIVATIONS as readonly string[]).includes(n)) return n as Activation;
  throw new Error(`unsupported hidden_act '${name}': supported are ${ACTIVATIONS.join(", ")}, swish`);
}
