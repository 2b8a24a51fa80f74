/** Reference scaled dot-product attention: causal / sliding-window / padding masks, GQA, sinks (float64 math; arguments checked by op-args). */
import type { AttentionSpec } from "../backend.js";
import type { Tensor } from "../../tensor.js";
import { attentionArgs } from "../op-args/index.js";
import { floatsOf, intsOf } from "../host/tensors.js";

export function attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): { values: Float32Array; shape: number[] } {
  const op = "attention";
  const { b, sq, hq, dk, skv, hkv, dv, offset, causal, slidingWindow: window } = attentionArgs(q, k, v, spec);
  const mask = spec.keyMask ? intsOf(spec.keyMask, op, "keyMask") : undefined;
  const sinks = spec.sinks ? floatsOf(spec.sinks, op, "sinks") : undefined;
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
