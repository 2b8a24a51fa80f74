/** Argument checks of the model layers: embedding, rmsNorm / layerNorm, rope, attention. */
import { numel, shapeString, type Tensor } from "../../tensor.js";
import type { AttentionSpec, RopeSpec } from "../backend.js";
import { expectFeatureVector, expectFloat, expectIndices, expectRank, hostInts } from "./tensors.js";

/** table float [V, H], ids int32 in [0, V). */
export function embeddingArgs(table: Tensor, ids: Tensor): { v: number; h: number; ids?: Int32Array; outShape: number[] } {
  const op = "embedding";
  expectRank(table, 2, op, "table");
  expectFloat(table, op, "table");
  const [v, h] = table.shape as [number, number];
  const idx = hostInts(ids, op, "ids");
  expectIndices(idx, v, (id, i) => `${op}: token id ${id} at position ${i} is outside the vocabulary [0, ${v})`);
  return { v, h, ids: idx, outShape: [...ids.shape, h] };
}

/** x float [..., D] (rank ≥ 1), weight and bias D entries when given: `rows` rows of `d`. */
export function normArgs(op: "rmsNorm" | "layerNorm", x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, eps: number): { rows: number; d: number } {
  if (x.rank < 1) throw new Error(`${op}: x must have at least one dim`);
  expectFloat(x, op, "x");
  const d = x.shape[x.rank - 1]!;
  if (op === "layerNorm" && !weight) throw new Error(`${op}: weight is required`);
  expectFeatureVector(op, weight, d, "weight");
  expectFeatureVector(op, bias, d, "bias");
  if (typeof eps !== "number") throw new Error(`${op}: eps must be a number, got ${typeof eps}`);
  return { rows: d === 0 ? 0 : x.size / d, d };
}

export interface RopeArgs {
  /** tokens (x's dims before the last two), heads, head dim, rotated pairs per head */
  tokens: number;
  heads: number;
  d: number;
  half: number;
  style: RopeSpec["style"];
}

export function ropeArgs(x: Tensor, cos: Tensor, sin: Tensor, spec: RopeSpec): RopeArgs {
  const op = "rope";
  if (x.rank < 3) throw new Error(`${op}: x must be [..., T, heads, D], got ${shapeString(x.shape)}`);
  expectFloat(x, op, "x");
  const d = x.shape[x.rank - 1]!;
  const heads = x.shape[x.rank - 2]!;
  const tokens = numel(x.shape.slice(0, -2));
  const r = spec.rotaryDim ?? d;
  if (!Number.isInteger(r) || r < 2 || r % 2 !== 0 || r > d) throw new Error(`${op}: rotaryDim ${r} must be even and in [2, ${d}]`);
  if (spec.style !== "halfSplit" && spec.style !== "interleaved") throw new Error(`${op}: unknown rotary style '${spec.style as string}'`);
  const half = r / 2;
  expectFloat(cos, op, "cos");
  expectFloat(sin, op, "sin");
  if (cos.size !== tokens * half || sin.size !== tokens * half) {
    throw new Error(`${op}: cos ${shapeString(cos.shape)} / sin ${shapeString(sin.shape)} must hold [${tokens}, ${half}] values for x ${shapeString(x.shape)}`);
  }
  return { tokens, heads, d, half, style: spec.style };
}

/** The sizes of one attention call. */
export interface AttentionDims {
  b: number;
  /** query rows and heads, key/query head dim */
  sq: number;
  hq: number;
  dk: number;
  /** key/value rows and heads, value head dim */
  skv: number;
  hkv: number;
  dv: number;
  /** position of query row 0 among the keys */
  offset: number;
  causal: boolean;
  slidingWindow?: number;
}

/** q [B, Sq, Hq, Dk], k [B, Skv, Hkv, Dk], v [B, Skv, Hkv, Dv] (float) and the spec. */
export function attentionArgs(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): AttentionDims {
  const op = "attention";
  for (const [t, what] of [[q, "q"], [k, "k"], [v, "v"]] as const) {
    if (t.rank !== 4) throw new Error(`${op}: ${what} must have rank 4, got shape ${shapeString(t.shape)}`);
    expectFloat(t, op, what);
  }
  const [b, sq, hq, dk] = q.shape as [number, number, number, number];
  const [kb, skv, hkv, kd] = k.shape as [number, number, number, number];
  const [vb, vs, vh, dv] = v.shape as [number, number, number, number];
  if (kb !== b || vb !== b || vs !== skv || vh !== hkv || kd !== dk) {
    throw new Error(`${op}: q ${shapeString(q.shape)}, k ${shapeString(k.shape)}, v ${shapeString(v.shape)} do not fit [B, S, H, D] attention`);
  }
  if (hkv < 1 || hq % hkv !== 0) throw new Error(`${op}: ${hq} query heads cannot share ${hkv} key-value heads`);
  if (typeof spec.scale !== "number") throw new Error(`${op}: scale must be a number`);
  const offset = spec.queryOffset ?? skv - sq;
  if (!Number.isInteger(offset) || offset < 0 || offset + sq > skv) throw new Error(`${op}: queryOffset ${offset} does not place ${sq} queries within ${skv} keys`);
  const window = spec.slidingWindow;
  if (window !== undefined && !(window >= 1)) throw new Error(`${op}: slidingWindow must be ≥ 1, got ${window}`);
  const mask = spec.keyMask;
  if (mask) {
    hostInts(mask, op, "keyMask");
    if (mask.rank !== 2 || mask.shape[0] !== b || mask.shape[1] !== skv) throw new Error(`${op}: keyMask must be [${b}, ${skv}], got ${shapeString(mask.shape)}`);
  }
  if (spec.sinks) {
    expectFloat(spec.sinks, op, "sinks");
    if (spec.sinks.size !== hq) throw new Error(`${op}: sinks must have ${hq} entries (one per query head), got ${shapeString(spec.sinks.shape)}`);
  }
  return { b, sq, hq, dk, skv, hkv, dv, offset, causal: spec.causal ?? true, slidingWindow: window };
}
