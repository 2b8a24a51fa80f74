/// <reference types="@webgpu/types" />
/** Webgpu elementwise ops and small reductions: add, mul, scale, activate, softmax, cast (chunked weights cast chunk by chunk), clamp, argmax. */
import type { Activation } from "../backend.js";
import * as args from "../op-args/index.js";
import type { DType } from "../../dtype.js";
import { Tensor } from "../../tensor.js";
import type { GpuContext } from "./context.js";
import { BROADCAST, ELEMENTWISE_WGSL, OPS, SOFTMAX_WGSL } from "./kernels/elementwise.wgsl.js";
import { ARGMAX_WGSL, CLAMP_WGSL } from "./kernels/shape-ops.wgsl.js";
import { type ChunkedLayout, GpuStorage, Params } from "./runtime.js";

const ceil = (a: number, b: number) => Math.ceil(a / b);

function elementwise(g: GpuContext, op: keyof typeof OPS, a: Tensor, b: Tensor | undefined, mode: number, bn: number, factor: number, act: number): Tensor {
  const { t, buf } = g.output(op, a.shape);
  if (a.size === 0) return t;
  const ab = g.floats(a, op, "a");
  const bb = b ? g.floats(b, op, "b") : ab;
  const kern = g.runtime.kernel("elementwise", ["r", "r", "rw"], () => ELEMENTWISE_WGSL);
  const params = new Params().u32(a.size).u32(OPS[op]).u32(mode).u32(bn).f32(factor).u32(act);
  g.runtime.dispatch(g.label(op), kern, params, [ab, bb, buf], ceil(a.size, 256));
  return t;
}

export function add(g: GpuContext, a: Tensor, b: Tensor): Tensor {
  const { mode, period } = args.broadcastArgs("add", a, b);
  return elementwise(g, "add", a, b, BROADCAST[mode], period, 1, 0);
}

export function mul(g: GpuContext, a: Tensor, b: Tensor): Tensor {
  const { mode, period } = args.broadcastArgs("mul", a, b);
  return elementwise(g, "mul", a, b, BROADCAST[mode], period, 1, 0);
}

export function scale(g: GpuContext, x: Tensor, factor: number): Tensor {
  args.scaleArgs(x, factor);
  return elementwise(g, "scale", x, undefined, 0, 1, factor, 0);
}

export function activate(g: GpuContext, x: Tensor, act: Activation): Tensor {
  return elementwise(g, "activate", x, undefined, 0, 1, 1, args.activateArgs(x, act));
}

export function softmax(g: GpuContext, x: Tensor): Tensor {
  const op = "softmax";
  const { rows, n } = args.softmaxArgs(x);
  const { t, buf } = g.output(op, x.shape);
  if (x.size === 0) return t;
  const xb = g.floats(x, op, "x");
  const kern = g.runtime.kernel("softmax", ["r", "rw"], () => SOFTMAX_WGSL);
  g.runtime.dispatch(g.label(op), kern, new Params().u32(rows).u32(n), [xb, buf], rows);
  return t;
}

export function cast(g: GpuContext, x: Tensor, dtype: DType): Tensor {
  args.castArgs(x, dtype);
  const half = dtype === "float16" && g.f16;
  const rounding = dtype === "float32" ? "none" : dtype;
  const raw = g.rawStorage(x, "cast", "x");
  if (raw.chunked) {
    // A split weight casts chunk by chunk into the same layout (planned for 4-byte elements, so it fits).
    const { n, k } = raw.chunked;
    const chunks = raw.chunked.chunks.map((c) => {
      const count = ((c.e1 - c.e0) * (c.n1 - c.n0)) * k;
      const buffer = g.runtime.buffer(g.label(`cast.${dtype}.chunk`), count * (half ? 2 : 4));
      g.castInto(new GpuStorage(c.buffer, raw.elem, count), buffer, rounding, half);
      return { ...c, buffer };
    });
    const layout: ChunkedLayout = { ...raw.chunked, n, k, chunks };
    return new Tensor([...x.shape], dtype, new GpuStorage(chunks[0]!.buffer, half ? "f16" : "f32", x.size, layout), g.owner);
  }
  const src = g.storageOf(x, "cast", "x");
  const buf = g.runtime.buffer(g.label(`cast.${dtype}`), x.size * (half ? 2 : 4));
  const t = g.tensor(buf, half ? "f16" : "f32", x.shape, dtype);
  if (x.size > 0) g.castInto(src, buf, rounding, half);
  return t;
}

export function clamp(g: GpuContext, x: Tensor, min: number, max: number): Tensor {
  const op = "clamp";
  args.clampArgs(x, min, max);
  const { t, buf } = g.output(op, x.shape);
  if (x.size === 0) return t;
  const xb = g.floats(x, op, "x");
  const k = g.runtime.kernel("clamp", ["r", "rw"], () => CLAMP_WGSL);
  g.runtime.dispatch(g.label(op), k, new Params().u32(x.size).f32(min).f32(max), [xb, buf], ceil(x.size, 256));
  return t;
}

export function argmax(g: GpuContext, x: Tensor): Tensor {
  const op = "argmax";
  const { rows, n } = args.argmaxArgs(x);
  const shape = x.shape.slice(0, -1);
  const buf = g.runtime.buffer(g.label(op), rows * 4);
  const t = g.tensor(buf, "i32", shape, "int32");
  if (rows === 0) return t;
  const xb = g.floats(x, op, "x");
  const k = g.runtime.kernel("argmax", ["r", "rw"], () => ARGMAX_WGSL);
  g.runtime.dispatch(g.label(op), k, new Params().u32(rows).u32(n), [xb, buf], rows);
  return t;
}
