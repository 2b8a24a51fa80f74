/**
 * The selective state-space scan on the host, for the cpu backend: a float32 state (each row's sum in
 * float64), the loops ordered so each head's state stays in cache over the sequence. The float64 twin is
 * reference/ssm-scan.ts.
 */
import type { Backend, SsmScanSpec } from "../backend.js";
import type { Tensor } from "../../tensor.js";
import { ssmScanArgs } from "../op-args/index.js";
import { floatsOf, hostTensor, intsOf } from "./tensors.js";

const softplus = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));

export function ssmScan(owner: Backend, x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec: SsmScanSpec = {}): { out: Tensor; state: Tensor } {
  const op = "ssmScan";
  const { b, s, h, p, g, n, dtMin, dtMax, softplus: sp } = ssmScanArgs(x, dt, a, bIn, c, spec);
  const xs = floatsOf(x, op, "x");
  const dts = floatsOf(dt, op, "dt");
  const as = floatsOf(a, op, "a");
  const bs = floatsOf(bIn, op, "bIn");
  const cs = floatsOf(c, op, "c");
  const dtBias = spec.dtBias ? floatsOf(spec.dtBias, op, "dtBias") : undefined;
  const ds = spec.d ? floatsOf(spec.d, op, "d") : undefined;
  const mask = spec.tokenMask ? intsOf(spec.tokenMask, op, "tokenMask") : undefined;
  const state = spec.state ? Float32Array.from(floatsOf(spec.state, op, "state")) : new Float32Array(b * h * p * n);
  const out = new Float32Array(b * s * h * p);
  const perGroup = h / g;
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const head = state.subarray((bi * h + hi) * p * n, (bi * h + hi + 1) * p * n);
      const gi = Math.floor(hi / perGroup);
      for (let t = 0; t < s; t++) {
        const row = (bi * s + t) * h + hi;
        const raw = Math.fround(dts[row]! + (dtBias ? dtBias[hi]! : 0));
        const delta = mask && mask[bi * s + t] === 0 ? 0 : Math.fround(Math.min(Math.max(sp ? softplus(raw) : raw, dtMin), dtMax));
        const decay = Math.fround(Math.exp(delta * as[hi]!));
        const gOff = ((bi * s + t) * g + gi) * n;
        // B and C of this token as views (the inner loop indexes them from 0)
        const bt = bs.subarray(gOff, gOff + n);
        const ct = cs.subarray(gOff, gOff + n);
        for (let pi = 0; pi < p; pi++) {
          const xv = xs[row * p + pi]!;
          const dx = delta * xv;
          const base = pi * n;
          let acc = 0;
          for (let ni = 0; ni < n; ni++) {
            const v = decay * head[base + ni]! + dx * bt[ni]!;
            head[base + ni] = v;
            acc += v * ct[ni]!;
          }
          out[row * p + pi] = ds ? acc + ds[hi]! * xv : acc;
        }
      }
    }
  }
  return { out: hostTensor(owner, out, [b, s, h, p]), state: hostTensor(owner, state, [b, h, p, n]) };
}
