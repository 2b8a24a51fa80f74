/** Reference scaled dot-product attention: causal / sliding-window / padding masks, GQA, sinks (float64 math). */
import type { AttentionSpec } from "../backend.js";
import type { Tensor } from "../../tensor.js";
import { shapeString } from "../../tensor.js";
import { expectRank, floatsOf, intsOf } from "./host.js";

export function attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): { values: Float32Array; shape: number[] } {
  const op = "attention";
  expectRank(q, 4, op, "q");
  expectRank(k, 4, op, "k");
  expectRank(v, 4, op, "v");
  const [b, sq, hq, dk] = q.shape as [number, number, number, number];
  const [kb, skv, hkv, kd] = k.shape as [number, number, number, number];
  const [vb, vs, vh, dv] = v.shape as [number, number, number, number];
  if (kb !== b || vb !== b || vs !== skv || vh !== hkv || kd !== dk) {
    throw new Error(`${op}: q ${shapeString(q.shape)}, k ${shapeString(k.shape)}, v ${shapeString(v.shape)} do not fit [B, S, H, D] attention`);
  }
  if (hkv < 1 || hq % hkv !== 0) throw new Error(`${op}: ${hq} query heads cannot share ${hkv} key-value heads`);
  const offset = spec.queryOffset ?? skv - sq;
  if (!Number.isInteger(offset) || offset < 0 || offset + sq > skv) throw new Error(`${op}: queryOffset ${offset} does not place ${sq} queries within ${skv} keys`);
  const causal = spec.causal ?? true;
  const window = spec.slidingWindow;
  if (window !== undefined && !(window >= 1)) throw new Error(`${op}: slidingWindow must be ≥ 1, got ${window}`);
  let mask: Int32Array | undefined;
  if (spec.keyMask) {
    if (spec.keyMask.rank !== 2 || spec.keyMask.shape[0] !== b || spec.keyMask.shape[1] !== skv) {
      throw new Error(`${op}: keyMask must be [${b}, ${skv}], got ${shapeString(spec.keyMask.shape)}`);
    }
    mask = intsOf(spec.keyMask, op, "keyMask");
  }
  let sinks: Float32Array | undefined;
  if (spec.sinks) {
    if (spec.sinks.size !== hq) throw new Error(`${op}: sinks must have ${hq} entries (one per query head), got ${shapeString(spec.sinks.shape)}`);
    sinks = floatsOf(spec.sinks, op, "sinks");
  }
  const qs = floatsOf(q, op, "q");
  const ks = floatsOf(k, op, "k");
  const vsv = floatsOf(v, op, "v");
  const group = hq / hkv;
  const out = new Float32Array(b * sq * hq * dv);
  const scores = new Float64Array(skv);
  const acc = new Float64Array(dv);
  for (let bi = 0; bi < b; bi++) {
    for (let i = 0; i < sq; i++) {
      const qi = offset + i;
      for (let h = 0; h < hq; h++) {
        const kh = Math.floor(h / group);
        const qBase = ((bi * sq + i) * hq + h) * dk;
        let max = sinks ? sinks[h]! : -Infinity;
        let any = false;
        for (let j = 0; j < skv; j++) {
          const visible = (!causal || j <= qi) && (window === undefined || qi - j < window) && (!mask || mask[bi * skv + j] !== 0);
          if (!visible) {
            scores[j] = -Infinity;
            continue;
          }
          any = true;
          const kBase = ((bi * skv + j) * hkv + kh) * dk;
          let dot = 0;
          for (let c = 0; c < dk; c++) dot += qs[qBase + c]! * ks[kBase + c]!;
          scores[j] = dot * spec.scale;
          if (scores[j]! > max) max = scores[j]!;
        }
        const oBase = ((bi * sq + i) * hq + h) * dv;
        if (!any) continue;
        let sum = sinks ? Math.exp(sinks[h]! - max) : 0;
        acc.fill(0);
        for (let j = 0; j < skv; j++) {
          if (scores[j] === -Infinity) continue;
          const p = Math.exp(scores[j]! - max);
          sum += p;
          const vBase = ((bi * skv + j) * hkv + kh) * dv;
          for (let c = 0; c < dv; c++) acc[c]! += p * vsv[vBase + c]!;
        }
        for (let c = 0; c < dv; c++) out[oBase + c] = acc[c]! / sum;
      }
    }
  }
  return { values: out, shape: [b, sq, hq, dv] };
}
