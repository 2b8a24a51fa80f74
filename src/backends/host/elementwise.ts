/** Host elementwise ops and small reductions shared by the host backends (float64 math, float32 results; arguments checked by op-args). */
import type { Activation, Backend } from "../backend.js";
import type { DType } from "../../dtype.js";
import { narrowFromF32 } from "../../dtype.js";
import type { Tensor } from "../../tensor.js";
import { activateArgs, argmaxArgs, broadcastArgs, castArgs, clampArgs, scaleArgs } from "../op-args/index.js";
import { activationFn } from "./activations.js";
import { floatsOf, hostTensor, type Floats } from "./tensors.js";

const fresh: Floats = (n) => new Float32Array(n);

/** a + b or a · b with b broadcast over a (see op-args broadcastArgs); one loop per mode, no per-element call (the model's residual adds run here). */
export function binary(owner: Backend, op: "add" | "mul", a: Tensor, b: Tensor, floats: Floats = fresh): Tensor {
  const { mode, period } = broadcastArgs(op, a, b);
  const as = floatsOf(a, op, "a");
  const bs = floatsOf(b, op, "b");
  const out = floats(as.length);
  const add = op === "add";
  if (mode === "same") {
    if (add) for (let i = 0; i < as.length; i++) out[i] = as[i]! + bs[i]!;
    else for (let i = 0; i < as.length; i++) out[i] = as[i]! * bs[i]!;
  } else if (mode === "suffix") {
    for (let base = 0; base < as.length; base += period) {
      if (add) for (let j = 0; j < period; j++) out[base + j] = as[base + j]! + bs[j]!;
      else for (let j = 0; j < period; j++) out[base + j] = as[base + j]! * bs[j]!;
    }
  } else {
    for (let r = 0, base = 0; base < as.length; r++, base += period) {
      const v = bs[r]!;
      if (add) for (let j = 0; j < period; j++) out[base + j] = as[base + j]! + v;
      else for (let j = 0; j < period; j++) out[base + j] = as[base + j]! * v;
    }
  }
  return hostTensor(owner, out, a.shape);
}

export function scale(owner: Backend, x: Tensor, factor: number, floats: Floats = fresh): Tensor {
  scaleArgs(x, factor);
  const xs = floatsOf(x, "scale", "x");
  const out = floats(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = xs[i]! * factor;
  return hostTensor(owner, out, x.shape);
}

export function activate(owner: Backend, x: Tensor, act: Activation, floats: Floats = fresh): Tensor {
  activateArgs(x, act);
  const xs = floatsOf(x, "activate", "x");
  const f = activationFn(act);
  const out = floats(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = f(xs[i]!);
  return hostTensor(owner, out, x.shape);
}

export function cast(owner: Backend, x: Tensor, dtype: DType): Tensor {
  castArgs(x, dtype);
  return hostTensor(owner, narrowFromF32(floatsOf(x, "cast", "x"), dtype), x.shape, dtype);
}

export function clamp(owner: Backend, x: Tensor, min: number, max: number, floats: Floats = fresh): Tensor {
  clampArgs(x, min, max);
  const xs = floatsOf(x, "clamp", "x");
  const out = floats(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = Math.min(Math.max(xs[i]!, min), max);
  return hostTensor(owner, out, x.shape);
}

/** Index of the largest value over the last dim (ties → lowest index; NaN loses). */
export function argmax(owner: Backend, x: Tensor): Tensor {
  const { rows, n } = argmaxArgs(x);
  const xs = floatsOf(x, "argmax", "x");
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let i = 1; i < n; i++) if (xs[r * n + i]! > xs[r * n + best]! || (Number.isNaN(xs[r * n + best]!) && !Number.isNaN(xs[r * n + i]!))) best = i;
    out[r] = best;
  }
  return hostTensor(owner, out, x.shape.slice(0, -1), "int32");
}
