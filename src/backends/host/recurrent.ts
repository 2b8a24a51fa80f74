/**
 * Host recurrent layers for the cpu backend (float32 state and sums, the loops ordered so each head's
 * state stays in cache over the sequence): causal depthwise convolution with state, and the selective
 * state-space scan. The float64 step-by-step twins are in reference/recurrent.ts.
 */
import type { Backend, CausalConv1dSpec, SsmScanSpec, WithState } from "../backend.js";
import type { Tensor } from "../../tensor.js";
import { causalConv1dArgs, ssmScanArgs } from "../op-args/index.js";
import { activationFn } from "./activations.js";
import { floatsOf, hostTensor, intsOf } from "./tensors.js";

export function causalConv1d(owner: Backend, x: Tensor, weight: Tensor, spec: CausalConv1dSpec = {}): WithState {
  const op = "causalConv1d";
  const { b, s, c, l } = causalConv1dArgs(x, weight, spec);
  const xs = floatsOf(x, op, "x");
  const w = floatsOf(weight, op, "weight");
  const bias = spec.bias ? floatsOf(spec.bias, op, "bias") : undefined;
  const prev = spec.state ? floatsOf(spec.state, op, "state") : undefined;
  const mask = spec.tokenMask ? intsOf(spec.tokenMask, op, "tokenMask") : undefined;
  const act = spec.act && spec.act !== "identity" ? activationFn(spec.act) : undefined;
  const k = l - 1;
  const y = new Float32Array(b * s * c);
  const state = new Float32Array(b * k * c);
  // a ring of the last k inputs per batch row: slot (head + r) % k holds the r-th oldest
  const ring = new Float32Array(k * c);
  for (let bi = 0; bi < b; bi++) {
    if (prev) ring.set(prev.subarray(bi * k * c, (bi + 1) * k * c));
    else ring.fill(0);
    let head = 0;
    for (let t = 0; t < s; t++) {
      if (mask && mask[bi * s + t] === 0) continue;
      const row = (bi * s + t) * c;
      for (let ch = 0; ch < c; ch++) {
        let acc = bias ? bias[ch]! : 0;
        for (let j = 0; j < k; j++) acc = Math.fround(acc + Math.fround(w[ch * l + j]! * ring[((head + j) % k) * c + ch]!));
        acc = Math.fround(acc + Math.fround(w[ch * l + k]! * xs[row + ch]!));
        y[row + ch] = act ? act(acc) : acc;
      }
      ring.set(xs.subarray(row, row + c), head * c);
      head = (head + 1) % k;
    }
    for (let r = 0; r < k; r++) state.set(ring.subarray(((head + r) % k) * c, ((head + r) % k + 1) * c), (bi * k + r) * c);
  }
  return { y: hostTensor(owner, y, [b, s, c]), state: hostTensor(owner, state, [b, k, c]) };
}

const softplus = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));

export function ssmScan(owner: Backend, x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec: SsmScanSpec = {}): WithState {
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
  const y = new Float32Array(b * s * h * p);
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
        for (let pi = 0; pi < p; pi++) {
          const xv = xs[row * p + pi]!;
          const dx = Math.fround(delta * xv);
          let acc = 0;
          for (let ni = 0; ni < n; ni++) {
            const v = Math.fround(decay * head[pi * n + ni]! + dx * bs[gOff + ni]!);
            head[pi * n + ni] = v;
            acc = Math.fround(acc + v * cs[gOff + ni]!);
          }
          y[row * p + pi] = ds ? acc + ds[hi]! * xv : acc;
        }
      }
    }
  }
  return { y: hostTensor(owner, y, [b, s, h, p]), state: hostTensor(owner, state, [b, h, p, n]) };
}
