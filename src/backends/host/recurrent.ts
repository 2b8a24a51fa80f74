/**
 * Host (float64 arithmetic, float32 results) recurrent-layer ops, shared by the reference and cpu
 * backends: the depthwise causal convolution with a carried window and the gated delta rule, token by
 * token (see CausalConvSpec / DeltaRuleSpec in ../backend.ts; arguments checked by op-args).
 */
import type { Tensor } from "../../tensor.js";
import type { CausalConvSpec, DeltaRuleSpec } from "../backend.js";
import { ACTIVATIONS, ACTIVATION_CODES } from "../activation.js";
import type { CausalConvArgs, DeltaRuleArgs } from "../op-args/index.js";
import { activationFn } from "./activations.js";
import { floatsOf, intsOf } from "./tensors.js";

/** torch's softplus (beta 1, threshold 20). */
export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

export function causalConv1d(x: Tensor, weight: Tensor, spec: CausalConvSpec, a: CausalConvArgs): { out: Float32Array; state: Float32Array } {
  const op = "causalConv1d";
  const { b, s, c, kw } = a;
  const xs = floatsOf(x, op, "x");
  const w = floatsOf(weight, op, "weight");
  const bias = spec.bias ? floatsOf(spec.bias, op, "bias") : undefined;
  const mask = spec.tokenMask ? intsOf(spec.tokenMask, op, "tokenMask") : undefined;
  const act = activationFn(ACTIVATIONS.find((n) => ACTIVATION_CODES[n] === a.act)!);
  const keep = kw - 1;
  const state = spec.state ? Float32Array.from(floatsOf(spec.state, op, "state")) : new Float32Array(b * keep * c);
  const out = new Float32Array(b * s * c);
  const win = new Float64Array(kw);
  for (let r = 0; r < b; r++) {
    for (let ch = 0; ch < c; ch++) {
      for (let j = 0; j < keep; j++) win[j] = state[(r * keep + j) * c + ch]!;
      for (let t = 0; t < s; t++) {
        if (mask && mask[r * s + t] === 0) continue;
        win[keep] = xs[(r * s + t) * c + ch]!;
        let acc = bias ? bias[ch]! : 0;
        for (let j = 0; j < kw; j++) acc += w[ch * kw + j]! * win[j]!;
        out[(r * s + t) * c + ch] = act(acc);
        win.copyWithin(0, 1);
      }
      for (let j = 0; j < keep; j++) state[(r * keep + j) * c + ch] = win[j]!;
    }
  }
  return { out, state };
}

export function gatedDeltaRule(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, spec: DeltaRuleSpec, a: DeltaRuleArgs): { out: Float32Array; state: Float32Array } {
  const op = "gatedDeltaRule";
  const { b, s, h, dk, dv, perChannel } = a;
  const qs = floatsOf(q, op, "q");
  const ks = floatsOf(k, op, "k");
  const vs = floatsOf(v, op, "v");
  const bs = floatsOf(beta, op, "beta");
  const ga = floatsOf(spec.gate.a, op, "gate.a");
  const gs = floatsOf(spec.gate.scale, op, "gate.scale");
  const gb = floatsOf(spec.gate.bias, op, "gate.bias");
  const mask = spec.tokenMask ? intsOf(spec.tokenMask, op, "tokenMask") : undefined;
  const state = spec.state ? Float32Array.from(floatsOf(spec.state, op, "state")) : new Float32Array(b * h * dk * dv);
  const out = new Float32Array(b * s * h * dv);
  const S = new Float64Array(dk * dv);
  const decay = new Float64Array(dk);
  const u = new Float64Array(dv);
  for (let r = 0; r < b; r++) {
    for (let hd = 0; hd < h; hd++) {
      const sb = (r * h + hd) * dk * dv;
      for (let i = 0; i < dk * dv; i++) S[i] = state[sb + i]!;
      for (let t = 0; t < s; t++) {
        if (mask && mask[r * s + t] === 0) continue;
        const row = (r * s + t) * h + hd;
        for (let i = 0; i < dk; i++) {
          const g = perChannel ? gs[hd]! * softplus(ga[row * dk + i]! + gb[hd * dk + i]!) : gs[hd]! * softplus(ga[row]! + gb[hd]!);
          decay[i] = Math.exp(g);
        }
        const kb = row * dk;
        const vb = row * dv;
        u.fill(0);
        for (let i = 0; i < dk; i++) {
          const d = decay[i]!;
          const ki = ks[kb + i]!;
          for (let j = 0; j < dv; j++) {
            S[i * dv + j] *= d;
            u[j] += ki * S[i * dv + j]!;
          }
        }
        const bt = bs[row]!;
        for (let j = 0; j < dv; j++) u[j] = (vs[vb + j]! - u[j]!) * bt;
        const ob = row * dv;
        const acc = new Float64Array(dv);
        for (let i = 0; i < dk; i++) {
          const ki = ks[kb + i]!;
          const qi = qs[kb + i]!;
          for (let j = 0; j < dv; j++) {
            S[i * dv + j] += ki * u[j]!;
            acc[j] += qi * S[i * dv + j]!;
          }
        }
        for (let j = 0; j < dv; j++) out[ob + j] = acc[j]!;
      }
      for (let i = 0; i < dk * dv; i++) state[sb + i] = S[i]!;
    }
  }
  return { out, state };
}
