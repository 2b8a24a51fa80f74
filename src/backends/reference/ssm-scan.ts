/** Reference selective state-space scan, step by step in float64. */
import type { Tensor } from "../../tensor.js";
import type { SsmScanSpec } from "../backend.js";
import { floatsOf, intsOf } from "../host/tensors.js";
import type { SsmScanDims } from "../op-args/index.js";

/** torch.nn.functional.softplus with its default threshold 20. */
export function softplus(v: number): number {
  return v > 20 ? v : Math.log1p(Math.exp(v));
}

export function ssmScan(x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec: SsmScanSpec, dims: SsmScanDims): { out: Float32Array; state: Float32Array } {
  const op = "ssmScan";
  const { b, s, h, p, g, n, dtMin, dtMax, softplus: sp } = dims;
  const xs = floatsOf(x, op, "x");
  const dts = floatsOf(dt, op, "dt");
  const as = floatsOf(a, op, "a");
  const bs = floatsOf(bIn, op, "bIn");
  const cs = floatsOf(c, op, "c");
  const dtBias = spec.dtBias ? floatsOf(spec.dtBias, op, "dtBias") : undefined;
  const ds = spec.d ? floatsOf(spec.d, op, "d") : undefined;
  const mask = spec.tokenMask ? intsOf(spec.tokenMask, op, "tokenMask") : undefined;
  const st = spec.state ? Float64Array.from(floatsOf(spec.state, op, "state")) : new Float64Array(b * h * p * n);
  const out = new Float32Array(b * s * h * p);
  const perGroup = h / g;
  for (let bi = 0; bi < b; bi++) {
    for (let t = 0; t < s; t++) {
      for (let hi = 0; hi < h; hi++) {
        const raw = dts[(bi * s + t) * h + hi]! + (dtBias ? dtBias[hi]! : 0);
        const delta = mask && mask[bi * s + t] === 0 ? 0 : Math.min(Math.max(sp ? softplus(raw) : raw, dtMin), dtMax);
        const decay = Math.exp(delta * as[hi]!);
        const gOff = ((bi * s + t) * g + Math.floor(hi / perGroup)) * n;
        for (let pi = 0; pi < p; pi++) {
          const xv = xs[((bi * s + t) * h + hi) * p + pi]!;
          const base = ((bi * h + hi) * p + pi) * n;
          let acc = 0;
          for (let ni = 0; ni < n; ni++) {
            const v = decay * st[base + ni]! + delta * xv * bs[gOff + ni]!;
            st[base + ni] = v;
            acc += v * cs[gOff + ni]!;
          }
          out[((bi * s + t) * h + hi) * p + pi] = acc + (ds ? ds[hi]! * xv : 0);
        }
      }
    }
  }
  return { out, state: Float32Array.from(st) };
}
