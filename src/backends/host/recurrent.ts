/**
 * The cpu backend's recurrent-layer ops in float32 TypeScript (the reference twin, in float64, is
 * ../reference/recurrent.ts): the convolution walks each channel's tokens with its window in a small
 * buffer; the delta rule updates the state in place in the returned array, head by head, with two passes
 * over its rows per token (decay + read, then write + output). See CausalConvSpec /
 * DeltaRuleSpec in ../backend.ts; arguments are checked by op-args.
 */
import type { Tensor } from "../../tensor.js";
import type { CausalConvSpec, DeltaRuleSpec } from "../backend.js";
import { ACTIVATIONS, ACTIVATION_CODES } from "../activation.js";
import type { CausalConvArgs, DeltaRuleArgs } from "../op-args/index.js";
import { activationFn, softplus } from "./activations.js";
import { floatsOf, intsOf } from "./tensors.js";

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
  const win = new Float32Array(kw);
  for (let r = 0; r < b; r++) {
    for (let ch = 0; ch < c; ch++) {
      for (let j = 0; j < keep; j++) win[j] = state[(r * keep + j) * c + ch]!;
      const wb = ch * kw;
      const b0 = bias ? bias[ch]! : 0;
      for (let t = 0; t < s; t++) {
        if (mask && mask[r * s + t] === 0) continue;
        const at = (r * s + t) * c + ch;
        win[keep] = xs[at]!;
        let acc = b0;
        for (let j = 0; j < kw; j++) acc += w[wb + j]! * win[j]!;
        out[at] = act(acc);
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
  const decay = new Float32Array(dk);
  const u = new Float32Array(dv);
  for (let r = 0; r < b; r++) {
    for (let hd = 0; hd < h; hd++) {
      const S = state.subarray((r * h + hd) * dk * dv, (r * h + hd + 1) * dk * dv);
      for (let t = 0; t < s; t++) {
        if (mask && mask[r * s + t] === 0) continue;
        const row = (r * s + t) * h + hd;
        if (perChannel) for (let i = 0; i < dk; i++) decay[i] = Math.exp(gs[hd]! * softplus(ga[row * dk + i]! + gb[hd * dk + i]!));
        else decay.fill(Math.exp(gs[hd]! * softplus(ga[row]! + gb[hd]!)));
        const kb = row * dk;
        u.fill(0);
        for (let i = 0; i < dk; i++) {
          const d = decay[i]!;
          const ki = ks[kb + i]!;
          const base = i * dv;
          for (let j = 0; j < dv; j++) {
            const x = S[base + j]! * d;
            S[base + j] = x;
            u[j]! += ki * x;
          }
        }
        const bt = bs[row]!;
        const vb = row * dv;
        for (let j = 0; j < dv; j++) u[j] = (vs[vb + j]! - u[j]!) * bt;
        const o = out.subarray(row * dv, (row + 1) * dv);
        for (let i = 0; i < dk; i++) {
          const ki = ks[kb + i]!;
          const qi = qs[kb + i]!;
          const base = i * dv;
          for (let j = 0; j < dv; j++) {
            const x = S[base + j]! + ki * u[j]!;
            S[base + j] = x;
            o[j]! += qi * x;
          }
        }
      }
    }
  }
  return { out, state };
}
