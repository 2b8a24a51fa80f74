/** Scalar activation functions (float64), as transformers' ACT2FN defines them: the host implementations. */
import type { Activation } from "../backend.js";

/** erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), in float64. */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** torch's softplus (beta 1, threshold 20). */
export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/** The scalar form of each activation, as transformers' ACT2FN defines it. */
export function activationFn(act: Activation): (x: number) => number {
  switch (act) {
    case "silu":
      return (x) => x * sigmoid(x);
    case "gelu":
      return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
    case "gelu_new":
    case "gelu_pytorch_tanh":
      return (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case "gelu_fast":
      return (x) => 0.5 * x * (1 + Math.tanh(x * 0.7978845608 * (1 + 0.044715 * x * x)));
    case "relu":
      return (x) => (x > 0 ? x : 0);
    case "sigmoid":
      return sigmoid;
    case "tanh":
      return Math.tanh;
    case "identity":
      return (x) => x;
    default:
      throw new Error(`unknown activation '${act as string}'`);
  }
}
