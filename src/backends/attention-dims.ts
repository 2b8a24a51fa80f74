import { shapeString, type Tensor } from "../tensor.js";
import type { AttentionSpec } from "./backend.js";

/** The sizes of one attention call, every backend's argument checks in one place. */
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

/** Check q [B, Sq, Hq, Dk], k [B, Skv, Hkv, Dk], v [B, Skv, Hkv, Dv] and the spec; throws naming what is wrong. */
export function attentionDims(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): AttentionDims {
  const op = "attention";
  for (const [t, what] of [[q, "q"], [k, "k"], [v, "v"]] as const) {
    if (t.rank !== 4) throw new Error(`${op}: ${what} must have rank 4, got shape ${shapeString(t.shape)}`);
  }
  const [b, sq, hq, dk] = q.shape as [number, number, number, number];
  const [kb, skv, hkv, kd] = k.shape as [number, number, number, number];
  const [vb, vs, vh, dv] = v.shape as [number, number, number, number];
  if (kb !== b || vb !== b || vs !== skv || vh !== hkv || kd !== dk) {
    throw new Error(`${op}: q ${shapeString(q.shape)}, k ${shapeString(k.shape)}, v ${shapeString(v.shape)} do not fit [B, S, H, D] attention`);
  }
  if (hkv < 1 || hq % hkv !== 0) throw new Error(`${op}: ${hq} query heads cannot share ${hkv} key-value heads`);
  const offset = spec.queryOffset ?? skv - sq;
  if (!Number.isInteger(offset) || offset < 0 || offset + sq > skv) throw new Error(`${op}: queryOffset ${offset} does not place ${sq} queries within ${skv} keys`);
  const window = spec.slidingWindow;
  if (window !== undefined && !(window >= 1)) throw new Error(`${op}: slidingWindow must be ≥ 1, got ${window}`);
  const mask = spec.keyMask;
  if (mask && (mask.rank !== 2 || mask.shape[0] !== b || mask.shape[1] !== skv)) {
    throw new Error(`${op}: keyMask must be [${b}, ${skv}], got ${shapeString(mask.shape)}`);
  }
  if (spec.sinks && spec.sinks.size !== hq) throw new Error(`${op}: sinks must have ${hq} entries (one per query head), got ${shapeString(spec.sinks.shape)}`);
  return { b, sq, hq, dk, skv, hkv, dv, offset, causal: spec.causal ?? true, slidingWindow: window };
}
