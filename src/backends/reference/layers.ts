/** Reference model layers: embedding lookup, RMSNorm, LayerNorm, rotary embeddings (float64 math, float32 results; arguments checked by op-args). */
import type { Tensor } from "../../tensor.js";
import { weightRows } from "../../formats/rows.js";
import type { RopeArgs } from "../op-args/index.js";
import { floatsOf, intsOf } from "../host/tensors.js";

export function embedding(table: Tensor, ids: Tensor, h: number): Float32Array {
  const idx = intsOf(ids, "embedding", "ids");
  const out = new Float32Array(idx.length * h);
  idx.forEach((id, i) => out.set(weightRows(table, id, 1), i * h));
  return out;
}

export function rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number, d: number): Float32Array {
  const op = "rmsNorm";
  const xs = floatsOf(x, op, "x");
  const w = weight ? floatsOf(weight, op, "weight") : undefined;
  const out = new Float32Array(xs.length);
  for (let r = 0; r < (d === 0 ? 0 : xs.length / d); r++) {
    const base = r * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += xs[base + i]! * xs[base + i]!;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) out[base + i] = Math.fround(xs[base + i]! * inv) * (w ? w[i]! : 1);
  }
  return out;
}

export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number, d: number): Float32Array {
  const op = "layerNorm";
  const xs = floatsOf(x, op, "x");
  const w = floatsOf(weight, op, "weight");
  const b = bias ? floatsOf(bias, op, "bias") : undefined;
  const out = new Float32Array(xs.length);
  for (let r = 0; r < (d === 0 ? 0 : xs.length / d); r++) {
    const base = r * d;
    let mean = 0;
    for (let i = 0; i < d; i++) mean += xs[base + i]!;
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (xs[base + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / d + eps);
    for (let i = 0; i < d; i++) out[base + i] = (xs[base + i]! - mean) * inv * w[i]! + (b ? b[i]! : 0);
  }
  return out;
}

export function rope(x: Tensor, cos: Tensor, sin: Tensor, a: RopeArgs): Float32Array {
  const op = "rope";
  const { tokens, heads, d, half, style } = a;
  const xs = floatsOf(x, op, "x");
  const cs = floatsOf(cos, op, "cos");
  const sn = floatsOf(sin, op, "sin");
  const out = new Float32Array(xs);
  for (let tok = 0; tok < tokens; tok++) {
    for (let h = 0; h < heads; h++) {
      const base = (tok * heads + h) * d;
      for (let i = 0; i < half; i++) {
        const c = cs[tok * half + i]!;
        const s = sn[tok * half + i]!;
        const ia = style === "halfSplit" ? base + i : base + 2 * i;
        const ib = style === "halfSplit" ? base + i + half : base + 2 * i + 1;
        const av = xs[ia]!;
        const bv = xs[ib]!;
        out[ia] = av * c - bv * s;
        out[ib] = bv * c + av * s;
      }
    }
  }
  return out;
}
