/// <reference types="@webgpu/types" />
/** Webgpu model layers: embedding (reads chunked tables in place), rmsNorm / layerNorm, rope, attention, and the shape ops slice / concat / repeat. */
import type { AttentionSpec, RopeSpec } from "../backend.js";
import * as args from "../op-args/index.js";
import type { Tensor } from "../../tensor.js";
import type { GpuContext } from "./context.js";
import { attentionWgsl, MAX_HEAD_DIM } from "./kernels/attention.wgsl.js";
import { embeddingBlocksWgsl, embeddingWgsl, normWgsl, ROPE_STYLES, ROPE_WGSL } from "./kernels/layers.wgsl.js";
import { isQuantWeight } from "./kernels/quant-weights.wgsl.js";
import { Params } from "./runtime.js";

const ceil = (a: number, b: number) => Math.ceil(a / b);

export function embedding(g: GpuContext, table: Tensor, ids: Tensor): Tensor {
  const op = "embedding";
  // Host ids are checked by embeddingArgs; ids already on the device cannot be (out-of-range rows read zeros).
  const { v, h, outShape } = args.embeddingArgs(table, ids);
  const { t, buf } = g.output(op, outShape);
  if (t.size === 0) return t;
  // Block-format tables (a GGUF's quantized token_embd) stay blocks on the device; the kernel widens the gathered rows.
  const tw = g.weightChunks(table, 1, v, op, "table", true);
  const ib = g.ints(ids, op, "ids");
  const type = tw.type;
  const k = isQuantWeight(type)
    ? g.runtime.kernel(`embedding.blocks.${type}`, ["r", "r", "rw"], () => embeddingBlocksWgsl(type))
    : g.runtime.kernel(`embedding.${type}`, ["r", "r", "rw"], () => embeddingWgsl(type));
  for (const c of tw.chunks) g.runtime.dispatch(g.label(op), k, new Params().u32(t.size).u32(h).u32(c.n0).u32(c.n1), [c.buffer, ib, buf], ceil(t.size, 256));
  return t;
}

function norm(g: GpuContext, op: "rmsNorm" | "layerNorm", x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, eps: number): Tensor {
  const { rows, d } = args.normArgs(op, x, weight, bias, eps);
  const { t, buf } = g.output(op, x.shape);
  if (x.size === 0) return t;
  const xb = g.floats(x, op, "x");
  const wb = weight ? g.weight(weight, op, "weight") : undefined;
  const bb = bias ? g.floats(bias, op, "bias") : xb;
  const kind = op === "rmsNorm" ? "rms" : "layer";
  const wt = wb?.type ?? "none";
  const k = g.runtime.kernel(`norm.${kind}.${wt}${bias ? ".bias" : ""}`, ["r", "r", "r", "rw"], () => normWgsl(kind, wt, !!bias));
  const params = new Params().u32(rows).u32(d).f32(eps);
  g.runtime.dispatch(g.label(op), k, params, [xb, wb?.buffer ?? xb, bb, buf], rows);
  return t;
}

export function rmsNorm(g: GpuContext, x: Tensor, weight: Tensor | undefined, eps: number): Tensor {
  return norm(g, "rmsNorm", x, weight, undefined, eps);
}

export function layerNorm(g: GpuContext, x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number): Tensor {
  return norm(g, "layerNorm", x, weight, bias, eps);
}

export function rope(g: GpuContext, x: Tensor, cos: Tensor, sin: Tensor, spec: RopeSpec): Tensor {
  const op = "rope";
  const { heads, d, half } = args.ropeArgs(x, cos, sin, spec);
  const { t, buf } = g.output(op, x.shape);
  if (x.size === 0) return t;
  const xb = g.floats(x, op, "x");
  const cb = g.floats(cos, op, "cos");
  const sb = g.floats(sin, op, "sin");
  const k = g.runtime.kernel("rope", ["r", "r", "r", "rw"], () => ROPE_WGSL);
  const params = new Params().u32(x.size).u32(heads).u32(d).u32(half).u32(ROPE_STYLES[spec.style]);
  g.runtime.dispatch(g.label(op), k, params, [xb, cb, sb, buf], ceil(x.size, 256));
  return t;
}

export function attention(g: GpuContext, q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): Tensor {
  const op = "attention";
  const { b, sq, hq, dk, skv, hkv, dv, offset, causal, slidingWindow: window } = args.attentionArgs(q, k, v, spec);
  if (dk > MAX_HEAD_DIM || dv > MAX_HEAD_DIM) throw new Error(`${op}: head dims ${dk} / ${dv} exceed the webgpu kernel's ${MAX_HEAD_DIM}`);
  const { t, buf } = g.output(op, [b, sq, hq, dv]);
  if (t.size === 0) return t;
  const qb = g.floats(q, op, "q");
  const kbuf = g.floats(k, op, "k");
  const vbuf = g.floats(v, op, "v");
  const mb = spec.keyMask ? g.ints(spec.keyMask, op, "keyMask") : qb;
  const sb = spec.sinks ? g.floats(spec.sinks, op, "sinks") : qb;
  const variant = { mask: !!spec.keyMask, sinks: !!spec.sinks };
  const kern = g.runtime.kernel(`attention${variant.mask ? ".mask" : ""}${variant.sinks ? ".sinks" : ""}`, ["r", "r", "r", "r", "r", "rw"], () => attentionWgsl(variant));
  const params = new Params()
    .u32(b)
    .u32(sq)
    .u32(skv)
    .u32(hq)
    .u32(hkv)
    .u32(dk)
    .u32(dv)
    .u32(offset)
    .u32(causal ? 1 : 0)
    .u32(window === undefined ? 0 : Math.min(Math.floor(window), 0xffffffff))
    .f32(spec.scale);
  g.runtime.dispatch(g.label(op), kern, params, [qb, kbuf, vbuf, mb, sb, buf], b * sq * hq);
  return t;
}

export function slice(g: GpuContext, x: Tensor, axis: number, start: number, length: number): Tensor {
  const op = "slice";
  const { outer, inner, shape, n } = args.sliceArgs(x, axis, start, length);
  const src = g.storageOf(x, op, "x");
  const { t, buf } = g.like(op, src, x.dtype, shape);
  g.blockCopy(op, src, buf, { outer, len: length, inner, srcAxis: n, srcStart: start, dstAxis: length, dstStart: 0, div: 1 });
  return t;
}

export function concat(g: GpuContext, parts: readonly Tensor[], axis: number): Tensor {
  const op = "concat";
  const { axis: a, outer, inner, shape, total } = args.concatArgs(parts, axis);
  const first = parts[0]!;
  const stores = parts.map((p) => g.storageOf(p, op, "part"));
  if (stores.some((s) => s.elem !== stores[0]!.elem)) throw new Error(`${op}: parts are stored with different element types`);
  const { t, buf } = g.like(op, stores[0]!, first.dtype, shape);
  let at = 0;
  parts.forEach((p, i) => {
    const len = p.shape[a]!;
    g.blockCopy(op, stores[i]!, buf, { outer, len, inner, srcAxis: len, srcStart: 0, dstAxis: total, dstStart: at, div: 1 });
    at += len;
  });
  return t;
}

export function repeat(g: GpuContext, x: Tensor, axis: number, times: number): Tensor {
  const op = "repeat";
  const { outer, inner, shape, n } = args.repeatArgs(x, axis, times);
  const src = g.storageOf(x, op, "x");
  const { t, buf } = g.like(op, src, x.dtype, shape);
  g.blockCopy(op, src, buf, { outer, len: n * times, inner, srcAxis: n, srcStart: 0, dstAxis: n * times, dstStart: 0, div: times });
  return t;
}
