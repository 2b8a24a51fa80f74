/** Argument checks of the elementwise ops and small reductions: add / mul broadcasting, activate, softmax, cast, clamp, argmax. */
import { shapeString, type Tensor } from "../../tensor.js";
import { isDType, type DType } from "../../formats/table.js";
import { activationCode, type Activation } from "../activation.js";
import { expectFloat } from "./tensors.js";

/**
 * How b broadcasts over a in add / mul: `same` shape; `suffix` (b's shape a suffix of a's: b repeats
 * every `period` values); `row` (b [.., 1] holds one value per row of a's last dim, `period` long).
 */
export interface Broadcast {
  mode: "same" | "suffix" | "row";
  period: number;
}

export function broadcastArgs(op: "add" | "mul", a: Tensor, b: Tensor): Broadcast {
  expectFloat(a, op, "a");
  expectFloat(b, op, "b");
  const as = a.shape;
  const bs = b.shape;
  if (bs.length === as.length && bs.every((d, i) => d === as[i])) return { mode: "same", period: 1 };
  if (bs.length <= as.length && bs.every((d, i) => d === as[as.length - bs.length + i])) return { mode: "suffix", period: Math.max(b.size, 1) };
  const last = as[as.length - 1] ?? 1;
  if (bs[bs.length - 1] === 1 && b.size * last === a.size) return { mode: "row", period: Math.max(last, 1) };
  throw new Error(`${op}: cannot broadcast ${shapeString(bs)} to ${shapeString(as)}`);
}

export function scaleArgs(x: Tensor, factor: number): void {
  expectFloat(x, "scale", "x");
  if (typeof factor !== "number") throw new Error(`scale: factor must be a number, got ${typeof factor}`);
}

/** x float and a known activation; returns the activation's kernel code. */
export function activateArgs(x: Tensor, act: Activation): number {
  expectFloat(x, "activate", "x");
  return activationCode(act, "activate");
}

/** x float; softmax runs over `rows` rows of the last dim `n` (a rank-0 tensor is one row of 1). */
export function softmaxArgs(x: Tensor): { rows: number; n: number } {
  expectFloat(x, "softmax", "x");
  const n = x.shape[x.rank - 1] ?? 1;
  return { rows: n === 0 ? 0 : x.size / n, n };
}

export function castArgs(x: Tensor, dtype: DType): asserts dtype is "float32" | "bfloat16" | "float16" {
  if (!isDType(dtype)) throw new Error(`cast: unknown dtype ${JSON.stringify(dtype)}`);
  if (x.dtype === "int32" || dtype === "int32") throw new Error(`cast: only float dtypes can be cast, got ${x.dtype} → ${dtype}`);
  for (const d of [x.dtype, dtype]) {
    if (d !== "float32" && d !== "bfloat16" && d !== "float16") throw new Error(`cast: ${d} is a block format; weights are quantized or dequantized, not cast`);
  }
}

export function clampArgs(x: Tensor, min: number, max: number): void {
  expectFloat(x, "clamp", "x");
  if (!(min <= max)) throw new Error(`clamp: min ${min} exceeds max ${max}`);
}

/** x float with a non-empty last dim: `rows` rows of `n`. */
export function argmaxArgs(x: Tensor): { rows: number; n: number } {
  const op = "argmax";
  if (x.rank < 1) throw new Error(`${op}: x must have at least one dim`);
  expectFloat(x, op, "x");
  const n = x.shape[x.rank - 1]!;
  if (n < 1) throw new Error(`${op}: the last dim is empty`);
  return { rows: x.size / n, n };
}
