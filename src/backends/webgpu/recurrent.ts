/// <reference types="@webgpu/types" />
/** Webgpu recurrent layers: causalConv1d and ssmScan (kernels in kernels/recurrent.wgsl.ts). */
import { activationCode } from "../activation.js";
import type { CausalConv1dSpec, SsmScanSpec, WithState } from "../backend.js";
import * as args from "../op-args/index.js";
import type { Tensor } from "../../tensor.js";
import type { GpuContext } from "./context.js";
import { CAUSAL_CONV1D_WGSL, MAX_CONV_TAPS, SSM_DELTA_WGSL, SSM_SCAN_WGSL } from "./kernels/recurrent.wgsl.js";
import { Params } from "./runtime.js";

const ceil = (a: number, b: number) => Math.ceil(a / b);

export function causalConv1d(g: GpuContext, x: Tensor, weight: Tensor, spec: CausalConv1dSpec = {}): WithState {
  const op = "causalConv1d";
  const { b, s, c, l } = args.causalConv1dArgs(x, weight, spec);
  if (l > MAX_CONV_TAPS) throw new Error(`${op}: ${l} taps exceed the webgpu kernel's ${MAX_CONV_TAPS}`);
  const y = g.output(op, [b, s, c]);
  const state = g.output(`${op}.state`, [b, l - 1, c]);
  if (b * c === 0) return { y: y.t, state: state.t };
  const xb = g.floats(x, op, "x");
  const wb = g.floats(weight, op, "weight");
  const bb = spec.bias ? g.floats(spec.bias, op, "bias") : xb;
  const sb = spec.state ? g.floats(spec.state, op, "state") : xb;
  const mb = spec.tokenMask ? g.ints(spec.tokenMask, op, "tokenMask") : xb;
  const k = g.runtime.kernel("causalConv1d", ["r", "r", "r", "r", "r", "rw", "rw"], () => CAUSAL_CONV1D_WGSL);
  const params = new Params()
    .u32(b)
    .u32(s)
    .u32(c)
    .u32(l)
    .u32(activationCode(spec.act ?? "identity", op))
    .u32(spec.bias ? 1 : 0)
    .u32(spec.state ? 1 : 0)
    .u32(spec.tokenMask ? 1 : 0);
  g.runtime.dispatch(g.label(op), k, params, [xb, wb, bb, sb, mb, y.buf, state.buf], ceil(b * c, 64));
  return { y: y.t, state: state.t };
}

export function ssmScan(g: GpuContext, x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec: SsmScanSpec = {}): WithState {
  const op = "ssmScan";
  const d = args.ssmScanArgs(x, dt, a, bIn, c, spec);
  const y = g.output(op, [d.b, d.s, d.h, d.p]);
  const state = g.output(`${op}.state`, [d.b, d.h, d.p, d.n]);
  if (spec.state && state.t.size > 0) g.runtime.copy(g.floats(spec.state, op, "state"), state.buf, state.t.size * 4);
  if (y.t.size === 0) return { y: y.t, state: state.t };
  const delta = stepSizes(g, dt, spec, d.h, d.softplus, d.dtMin, d.dtMax);
  const xb = g.floats(x, op, "x");
  const db = spec.d ? g.floats(spec.d, op, "d") : xb;
  const k = g.runtime.kernel("ssmScan", ["r", "r", "r", "r", "r", "r", "rw", "rw"], () => SSM_SCAN_WGSL);
  const params = new Params().u32(d.b).u32(d.s).u32(d.h).u32(d.p).u32(d.g).u32(d.n).u32(spec.d ? 1 : 0);
  const bufs = [xb, delta, g.floats(a, op, "a"), db, g.floats(bIn, op, "bIn"), g.floats(c, op, "c"), state.buf, y.buf];
  g.runtime.dispatch(g.label(op), k, params, bufs, ceil(d.b * d.h * d.p, 64));
  return { y: y.t, state: state.t };
}

/** δ [B, S, H] from dt: + dtBias, softplus, clamp, 0 at padding (a separate pass, so the scan binds 8 storage buffers). */
function stepSizes(g: GpuContext, dt: Tensor, spec: SsmScanSpec, h: number, softplus: boolean, lo: number, hi: number): GPUBuffer {
  const op = "ssmScan";
  const out = g.output(`${op}.delta`, dt.shape);
  const dtb = g.floats(dt, op, "dt");
  const bias = spec.dtBias ? g.floats(spec.dtBias, op, "dtBias") : dtb;
  const mask = spec.tokenMask ? g.ints(spec.tokenMask, op, "tokenMask") : dtb;
  const k = g.runtime.kernel("ssmDelta", ["r", "r", "r", "rw"], () => SSM_DELTA_WGSL);
  const finite = (v: number) => Number.isFinite(v);
  const params = new Params()
    .u32(dt.size)
    .u32(h)
    .u32(softplus ? 1 : 0)
    .u32(spec.dtBias ? 1 : 0)
    .u32(spec.tokenMask ? 1 : 0)
    .u32(finite(lo) ? 1 : 0)
    .u32(finite(hi) ? 1 : 0)
    .f32(finite(lo) ? lo : 0)
    .f32(finite(hi) ? hi : 0);
  g.runtime.dispatch(g.label(`${op}.delta`), k, params, [dtb, bias, mask, out.buf], ceil(dt.size, 256));
  g.runtime.release(out.buf);
  return out.buf;
}
