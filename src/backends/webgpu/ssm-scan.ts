/// <reference types="@webgpu/types" />
/** Webgpu ssmScan, the selective state-space scan (kernels in kernels/ssm-scan.wgsl.ts). */
import type { SsmScanSpec } from "../backend.js";
import * as args from "../op-args/index.js";
import type { Tensor } from "../../tensor.js";
import type { GpuContext } from "./context.js";
import { SSM_DELTA_WGSL, SSM_SCAN_WGSL } from "./kernels/ssm-scan.wgsl.js";
import { Params } from "./runtime.js";

const ceil = (a: number, b: number) => Math.ceil(a / b);

export function ssmScan(g: GpuContext, x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec: SsmScanSpec = {}): { out: Tensor; state: Tensor } {
  const op = "ssmScan";
  const d = args.ssmScanArgs(x, dt, a, bIn, c, spec);
  const out = g.output(op, [d.b, d.s, d.h, d.p]);
  const state = g.output(`${op}.state`, [d.b, d.h, d.p, d.n]);
  if (spec.state && state.t.size > 0) g.runtime.copy(g.floats(spec.state, op, "state"), state.buf, state.t.size * 4);
  if (out.t.size === 0) return { out: out.t, state: state.t };
  const delta = stepSizes(g, dt, spec, d.h, d.softplus, d.dtMin, d.dtMax);
  const xb = g.floats(x, op, "x");
  const db = spec.d ? g.floats(spec.d, op, "d") : xb;
  const k = g.runtime.kernel("ssmScan", ["r", "r", "r", "r", "r", "r", "rw", "rw"], () => SSM_SCAN_WGSL);
  const params = new Params().u32(d.b).u32(d.s).u32(d.h).u32(d.p).u32(d.g).u32(d.n).u32(spec.d ? 1 : 0);
  const bufs = [xb, delta, g.floats(a, op, "a"), db, g.floats(bIn, op, "bIn"), g.floats(c, op, "c"), state.buf, out.buf];
  g.runtime.dispatch(g.label(op), k, params, bufs, ceil(d.b * d.h * d.p, 64));
  return { out: out.t, state: state.t };
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
