/// <reference types="@webgpu/types" />
/** Webgpu recurrent-layer ops: causalConv1d and gatedDeltaRule (kernels in kernels/recurrent.wgsl.ts). */
import type { CausalConvSpec, DeltaRuleSpec } from "../backend.js";
import * as args from "../op-args/index.js";
import type { Tensor } from "../../tensor.js";
import type { GpuContext } from "./context.js";
import { causalConvWgsl, DELTA_GATE_WGSL, deltaRuleWgsl, MAX_CONV_WIDTH, MAX_DELTA_KEY_DIM } from "./kernels/recurrent.wgsl.js";
import { Params } from "./runtime.js";

const ceil = (a: number, b: number) => Math.ceil(a / b);

/** A fresh output holding `initial`'s values (or zeros): the kernels update states in place. */
function stateOutput(g: GpuContext, op: string, initial: Tensor | undefined, shape: number[]): { t: Tensor; buf: GPUBuffer } {
  const o = g.output(op, shape);
  if (initial && o.t.size > 0) g.runtime.copy(g.floats(initial, op, "state"), o.buf, o.t.size * 4);
  return o;
}

export function causalConv1d(g: GpuContext, x: Tensor, weight: Tensor, spec: CausalConvSpec = {}): { out: Tensor; state: Tensor } {
  const op = "causalConv1d";
  const { b, s, c, kw, act } = args.causalConv1dArgs(x, weight, spec);
  if (kw > MAX_CONV_WIDTH) throw new Error(`${op}: kernel width ${kw} exceeds the webgpu kernel's ${MAX_CONV_WIDTH}`);
  const out = g.output(op, [b, s, c]);
  const state = stateOutput(g, op, spec.state, [b, kw - 1, c]);
  if (b * c === 0 || s === 0) return { out: out.t, state: state.t };
  const xb = g.floats(x, op, "x");
  const wb = g.weight(weight, op, "weight");
  const bb = spec.bias ? g.floats(spec.bias, op, "bias") : xb;
  const mb = spec.tokenMask ? g.ints(spec.tokenMask, op, "tokenMask") : xb;
  const variant = { bias: !!spec.bias, mask: !!spec.tokenMask };
  const k = g.runtime.kernel(`causalConv.${wb.type}${variant.bias ? ".bias" : ""}${variant.mask ? ".mask" : ""}`, ["r", "r", "r", "r", "rw", "rw"], () => causalConvWgsl(wb.type, variant));
  g.runtime.dispatch(g.label(op), k, new Params().u32(b).u32(s).u32(c).u32(kw).u32(act), [xb, wb.buffer, bb, mb, out.buf, state.buf], ceil(b * c, 64));
  return { out: out.t, state: state.t };
}

export function gatedDeltaRule(g: GpuContext, q: Tensor, k: Tensor, v: Tensor, beta: Tensor, spec: DeltaRuleSpec): { out: Tensor; state: Tensor } {
  const op = "gatedDeltaRule";
  const { b, s, h, dk, dv, perChannel } = args.gatedDeltaRuleArgs(q, k, v, beta, spec);
  if (dk > MAX_DELTA_KEY_DIM) throw new Error(`${op}: key head dim ${dk} exceeds the webgpu kernel's ${MAX_DELTA_KEY_DIM}`);
  const out = g.output(op, [b, s, h, dv]);
  const state = stateOutput(g, op, spec.state, [b, h, dk, dv]);
  if (b * h * dv === 0 || s === 0) return { out: out.t, state: state.t };
  const per = perChannel ? dk : 1;
  const decay = g.output(`${op}.decay`, spec.gate.a.shape);
  const gk = g.runtime.kernel("deltaGate", ["r", "r", "r", "rw"], () => DELTA_GATE_WGSL);
  const n = decay.t.size;
  g.runtime.dispatch(g.label(op), gk, new Params().u32(n).u32(h).u32(per), [g.floats(spec.gate.a, op, "gate.a"), g.floats(spec.gate.scale, op, "gate.scale"), g.floats(spec.gate.bias, op, "gate.bias"), decay.buf], ceil(n, 256));
  const qb = g.floats(q, op, "q");
  const mb = spec.tokenMask ? g.ints(spec.tokenMask, op, "tokenMask") : qb;
  const blocks = ceil(dv, 64);
  const rk = g.runtime.kernel(`deltaRule${spec.tokenMask ? ".mask" : ""}`, ["r", "r", "r", "r", "r", "r", "rw", "rw"], () => deltaRuleWgsl({ mask: !!spec.tokenMask }));
  const params = new Params().u32(b).u32(s).u32(h).u32(dk).u32(dv).u32(per).u32(blocks);
  g.runtime.dispatch(g.label(op), rk, params, [qb, g.floats(k, op, "k"), g.floats(v, op, "v"), g.floats(beta, op, "beta"), decay.buf, mb, out.buf, state.buf], b * h * blocks);
  g.runtime.release(decay.buf);
  return { out: out.t, state: state.t };
}
