/** Reference model layers: embedding lookup, RMSNorm, LayerNorm, rotary embeddings (float64 math, float32 results). */
import type { RopeSpec } from "../backend.js";
import type { Tensor } from "../../tensor.js";
import { shapeString } from "../../tensor.js";
import { expectRank, floatRows, floatsOf, intsOf } from "./host.js";

export function embedding(table: Tensor, ids: Tensor): { values: Float32Array; shape: number[] } {
  const op = "embedding";
  expectRank(table, 2, op, "table");
  const [v, h] = table.shape as [number, number];
  const idx = intsOf(ids, op, "ids");
  const out = new Float32Array(idx.length * h);
  idx.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= v) throw new Error(`${op}: token id ${id} at position ${i} is outside the vocabulary [0, ${v})`);
    out.set(floatRows(table, id, 1, h), i * h);
  });
  return { values: out, shape: [...ids.shape, h] };
}

function lastDimVector(op: string, t: Tensor | undefined, d: number, what: string): Float32Array | undefined {
  if (!t) return undefined;
  if (t.size !== d) throw new Error(`${op}: ${what} ${shapeString(t.shape)} must have ${d} entries (the last dim of x)`);
  return floatsOf(t, op, what);
}

export function rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number): Float32Array {
  const op = "rmsNorm";
  const d = x.shape[x.rank - 1]!;
  const xs = floatsOf(x, op, "x");
  const w = lastDimVector(op, weight, d, "weight");
  const out = new Float32Array(xs.length);
  for (let r = 0; r < xs.length / d; r++) {
    const base = r * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += xs[base + i]! * xs[base + i]!;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) out[base + i] = Math.fround(xs[base + i]! * inv) * (w ? w[i]! : 1);
  }
  return out;
}

export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number): Float32Array {
  const op = "layerNorm";
  const d = x.shape[x.rank - 1]!;
  const xs = floatsOf(x, op, "x");
  const w = lastDimVector(op, weight, d, "weight")!;
  const b = lastDimVector(op, bias, d, "bias");
  const out = new Float32Array(xs.length);
  for (let r = 0; r < xs.length / d; r++) {
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

export function rope(x: Tensor, cos: Tensor, sin: Tensor, spec: RopeSpec): Float32Array {
  const op = "rope";
  if (x.rank < 3) throw new Error(`${op}: x must be [..., T, heads, D], got ${shapeString(x.shape)}`);
  const d = x.shape[x.rank - 1]!;
  const heads = x.shape[x.rank - 2]!;
  const t = x.size / (heads * d);
  const r = spec.rotaryDim ?? d;
  if (!Number.isInteger(r) || r < 2 || r % 2 !== 0 || r > d) throw new Error(`${op}: rotaryDim ${r} must be even and in [2, ${d}]`);
  const half = r / 2;
  if (cos.size !== t * half || sin.size !== t * half) {
    throw new Error(`${op}: cos ${shapeString(cos.shape)} / sin ${shapeString(sin.shape)} must hold [${t}, ${half}] values for x ${shapeString(x.shape)}`);
  }
  const xs = floatsOf(x, op, "x");
  const cs = floatsOf(cos, op, "cos");
  const sn = floatsOf(sin, op, "sin");
  const out = new Float32Array(xs);
  for (let tok = 0; tok < t; tok++) {
    for (let h = 0; h < heads; h++) {
      const base = (tok * heads + h) * d;
      for (let i = 0; i < half; i++) {
        const c = cs[tok * half + i]!;
        const s = sn[tok * half + i]!;
        const ia = spec.style === "halfSplit" ? base + i : base + 2 * i;
        const ib = spec.style === "halfSplit" ? base + i + half : base + 2 * i + 1;
        const a = xs[ia]!;
        const b = xs[ib]!;
        out[ia] = a * c - b * s;
        out[ib] = b * c + a * s;
      }
    }
  }
  return out;
}
