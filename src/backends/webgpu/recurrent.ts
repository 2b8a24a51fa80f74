/// <reference types="@webgpu/types" />
/** Webgpu recurrent layers: causalConv1d and ssmScan (kernels in kernels/recurrent.wgsl.ts). */
import { activationCode } from "../activation.js";
import type { CausalConv1dSpec, SsmScanSpec, WithState } from "../backend.js";
import * as args from "../op-args/index.js";
import type { Tensor } from "../../tensor.js";
import type { GpuContext } from "./context.js";
import * as ew from "./elementwise.js";
import { CAUSAL_CONV1D_WGSL, SSM_SCAN_WGSL } from "./kernels/recurrent.wgsl.js";
import { Params } from "./runtime.js";

const ceil = (a: number, b: number) => Math.ceil(a / b);

export function causalConv1d(g: GpuContext, x: Tensor, weight: Tensor, spec: CausalConv1dSpec = {}): WithState {
  const op = "causalConv1d";
  const { b, s, c, l } = args.causalConv1dArgs(x, weight, spec);
  const y = g.output(op, [b, s, c]);
  const state = g.output(`${op}.state`, [b, l - 1, c]);
  if (b * c === 0) return { y: y.t, state: state.t };
  const xb = g.floats(x, op, "x");
  const wb = g.floats(weight, op, "weight");
  const bb = spec.bias ? g.floats(spec.bias, op, "bias") : xb;
  const sb = spec.state ? g.floats(spec.state, op, "state") : xb;
  const k = g.runtime.kernel("causalConv1d", ["r", "r", "r", "r", "rw", "rw"], () => CAUSAL_CONV1D_WGSL);
  const params = new Params()
    .u32(b)
    .u32(s)
    .u32(c)
    .u32(l)
    .u32(activationCode(spec.act ?? "identity", op))
    .u32(spec.bias ? 1 : 0)
    .u32(spec.state ? 1 : 0);
  g.runtime.dispatch(g.label(op), k, params, [xb, wb, bb, sb, y.buf, state.buf], ceil(b * c, 64));
  return { y: y.t, state: state.t };
}

export function ssmScan(g: GpuContext, x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec: SsmScanSpec = {}): WithState {
  const op = "ssmScan";
  const d = args.ssmScanArgs(x, dt, a, bIn, c, spec);
  const y = g.output(op, [d.b, d.s, d.h, d.p]);
  const state = g.output(`${op}.state`, [d.b, d.h, d.p, d.n]);
  if (spec.state && state.t.size > 0) g.runtime.copy(g.floats(spec.state, op, "state"), state.buf, state.t.size * 4);
  if (y.t.size === 0) return { y: y.t, state: state.t };
  // dtBias joins dt first, so the kernel binds no more than 8 storage buffers
  const dtIn = spec.dtBias ? ew.add(g, dt, spec.dtBias) : dt;
  const xb = g.floats(x, op, "x");
  const db = spec.d ? g.floats(spec.d, op, "d") : xb;
  const k = g.runtime.kernel("ssmScan", ["r", "r", "r", "r", "r", "r", "rw", "rw"], () => SSM_SCAN_WGSL);
  const finite = (v: number) => Number.isFinite(v);
  const params = new Params()
    .u32(d.b)
    .u32(d.s)
    .u32(d.h)
    .u32(d.p)
    .u32(d.g)
    .u32(d.n)
    .u32(d.softplus ? 1 : 0)
    .u32(spec.d ? 1 : 0)
    .u32(finite(d.dtMin) ? 1 : 0)
    .u32(finite(d.dtMax) ? 1 : 0)
    .f32(finite(d.dtMin) ? d.dtMin : 0)
    .f32(finite(d.dtMax) ? d.dtMax : 0);
  const bufs = [xb, g.floats(dtIn, op, "dt"), g.floats(a, op, "a"), db, g.floats(bIn, op, "bIn"), g.floats(c, op, "c"), state.buf, y.buf];
  g.runtime.dispatch(g.label(op), k, params, bufs, ceil(d.b * d.h * d.p, 64));
  return { y: y.t, state: state.t };
}
