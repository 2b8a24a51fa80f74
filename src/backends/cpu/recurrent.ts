/**
 * The cpu backend's recurrent-layer ops on the native addon (native/src/recurrent/): the causal convolution
 * and the gated delta rule, each a fresh output and a fresh state (the input state is copied, never changed).
 * Arguments are checked by op-args first; the reference twins are ../reference/recurrent.ts.
 */
import type { Tensor } from "../../tensor.js";
import type { CausalConvSpec, DeltaRuleSpec } from "../backend.js";
import type { CausalConvArgs, DeltaRuleArgs } from "../op-args/index.js";
import { floatsOf, intsOf, parameterFloatsOf } from "../host/tensors.js";
import type { NativeAddon } from "./native.js";

export function causalConv1d(native: NativeAddon, x: Tensor, weight: Tensor, spec: CausalConvSpec, a: CausalConvArgs): { out: Float32Array; state: Float32Array } {
  const op = "causalConv1d";
  const { b, s, c, kw } = a;
  const state = spec.state ? floatsOf(spec.state, op, "state").slice() : new Float32Array(b * (kw - 1) * c);
  const out = new Float32Array(b * s * c);
  native.causalConv1d({
    x: floatsOf(x, op, "x"),
    b,
    s,
    c,
    kw,
    weight: parameterFloatsOf(weight, op, "weight"),
    bias: spec.bias ? parameterFloatsOf(spec.bias, op, "bias") : undefined,
    state,
    tokenMask: spec.tokenMask ? intsOf(spec.tokenMask, op, "tokenMask") : undefined,
    act: a.act,
    out,
  });
  return { out, state };
}

export function gatedDeltaRule(native: NativeAddon, q: Tensor, k: Tensor, v: Tensor, beta: Tensor, spec: DeltaRuleSpec, a: DeltaRuleArgs): { out: Float32Array; state: Float32Array } {
  const op = "gatedDeltaRule";
  const { b, s, h, dk, dv, perChannel } = a;
  const state = spec.state ? floatsOf(spec.state, op, "state").slice() : new Float32Array(b * h * dk * dv);
  const out = new Float32Array(b * s * h * dv);
  native.gatedDeltaRule({
    q: floatsOf(q, op, "q"),
    k: floatsOf(k, op, "k"),
    v: floatsOf(v, op, "v"),
    beta: floatsOf(beta, op, "beta"),
    b,
    s,
    h,
    dk,
    dv,
    perChannel: perChannel ? 1 : 0,
    gateA: floatsOf(spec.gate.a, op, "gate.a"),
    gateScale: parameterFloatsOf(spec.gate.scale, op, "gate.scale"),
    gateBias: parameterFloatsOf(spec.gate.bias, op, "gate.bias"),
    state,
    tokenMask: spec.tokenMask ? intsOf(spec.tokenMask, op, "tokenMask") : undefined,
    out,
  });
  return { out, state };
}
