/**
 * The recurrent-layer ops (causalConv1d, ssmScan): the reference backend against hand-computed values
 * and written-out definitions; the cpu and webgpu backends against the reference on random shapes (odd
 * sizes, groups, bf16 weights, with and without a previous state); a call split in two, carrying the
 * state, equals one call; bad arguments name what is wrong. webgpu skips (saying why) without an adapter.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Backend, CausalConv1dSpec, SsmScanSpec } from "../../src/backends/backend.js";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { Tensor } from "../../src/tensor.js";
import { expectTensorClose } from "../helpers/assert-close.js";
import { randn, rng, webgpuOrSkip } from "../webgpu/setup.js";

const f = (v: number[], shape: number[]) => Tensor.from(Float32Array.from(v), shape);
const vals = async (t: Tensor) => Array.from(await t.data());
function near(a: number[], e: number[], tol = 1e-6): void {
  assert.equal(a.length, e.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - e[i]!) <= tol * Math.max(1, Math.abs(e[i]!)), `[${i}] ${x} vs ${e[i]}`));
}
const silu = (v: number) => v / (1 + Math.exp(-v));
const softplus = (v: number) => Math.log1p(Math.exp(v));

describe("recurrent ops (reference)", () => {
  it("causalConv1d: taps over the previous inputs, bias, activation, the new state", async () => {
    // B=1, S=3, C=2, L=3; channel 0 weights [1, 2, 3], channel 1 [0, 0, 1] (identity on the current input)
    const x = f([1, 10, 2, 20, 3, 30], [1, 3, 2]);
    const w = f([1, 2, 3, 0, 0, 1], [2, 3]);
    const { y, state } = ref.causalConv1d(x, w);
    near(await vals(y), [3, 10, 2 * 1 + 3 * 2, 20, 1 + 2 * 2 + 3 * 3, 30]);
    near(await vals(state), [2, 20, 3, 30]);
    const prev = f([5, 50, 6, 60], [1, 2, 2]);
    const out = ref.causalConv1d(f([7, 70], [1, 1, 2]), w, { state: prev, bias: f([0.5, -1], [2]), act: "silu" });
    near(await vals(out.y), [silu(0.5 + 5 + 12 + 21), silu(-1 + 70)]);
    near(await vals(out.state), [6, 60, 7, 70]);
    // padding tokens (mask 0) are skipped: they neither enter nor move the window, and their rows are zero
    const x4 = f([9, 90, 1, 10, 8, 80, 2, 20], [1, 4, 2]);
    const masked = ref.causalConv1d(x4, w, { tokenMask: Tensor.from(Int32Array.from([0, 1, 0, 1]), [1, 4]) });
    near(await vals(masked.y), [0, 0, 3, 10, 0, 0, 2 * 1 + 3 * 2, 20]);
    near(await vals(masked.state), [1, 10, 2, 20]);
  });

  it("ssmScan: decay, input, output and skip by hand (one head, P = N = 1), softplus and clamp of dt", async () => {
    // S_t = exp(δ·a)·S + δ·x·b; y = S·c + d·x
    const x = f([1, 2], [1, 2, 1, 1]);
    const dt = f([0.5, 0.25], [1, 2, 1]);
    const bIn = f([2, 3], [1, 2, 1, 1]);
    const c = f([1, -1], [1, 2, 1, 1]);
    const a = f([-1], [1]);
    const { y, state } = ref.ssmScan(x, dt, a, bIn, c, { d: f([0.5], [1]) });
    const s1 = 0.5 * 1 * 2;
    const s2 = Math.exp(-0.25) * s1 + 0.25 * 2 * 3;
    near(await vals(y), [s1 + 0.5, -s2 + 1]);
    near(await vals(state), [s2]);
    const sp = ref.ssmScan(x, dt, a, bIn, c, { dtBias: f([0.1], [1]), dtSoftplus: true, dtMax: 0.9 });
    const d1 = Math.min(softplus(0.6), 0.9);
    const d2 = Math.min(softplus(0.35), 0.9);
    const t1 = d1 * 2;
    const t2 = Math.exp(-d2) * t1 + d2 * 2 * 3;
    near(await vals(sp.y), [t1, -t2]);
    const clamped = ref.ssmScan(x, dt, a, bIn, c, { dtMin: 1 });
    near(await vals(clamped.state), [Math.exp(-1) * 2 + 6]);
    // a padding token (mask 0) leaves the state as it was
    const masked = ref.ssmScan(x, dt, a, bIn, c, { tokenMask: Tensor.from(Int32Array.from([1, 0]), [1, 2]) });
    near(await vals(masked.state), [s1]);
  });

  it("ssmScan equals a written-out decayed linear attention (lightning attention: dt ≡ 1, a = −slope, one group per head)", async () => {
    const r = rng(3);
    const [B, S, H, D] = [2, 5, 3, 4];
    const q = randn(r, [B, S, H, D]);
    const k = randn(r, [B, S, H, D]);
    const v = randn(r, [B, S, H, D]);
    const slopes = [0.5, 0.1, 0.02];
    const ones = f(new Array(B * S * H).fill(1), [B, S, H]);
    const { y } = ref.ssmScan(v, ones, f(slopes.map((s) => -s), [H]), k, q);
    const [qs, ks, vs] = [await q.data(), await k.data(), await v.data()];
    const want: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < S; t++) {
        for (let h = 0; h < H; h++) {
          for (let e = 0; e < D; e++) {
            // y_t = Σ_{j ≤ t} exp(−s·(t − j)) (q_t · k_j) v_j
            let acc = 0;
            for (let j = 0; j <= t; j++) {
              let dot = 0;
              for (let i = 0; i < D; i++) dot += qs[((b * S + t) * H + h) * D + i]! * ks[((b * S + j) * H + h) * D + i]!;
              acc += Math.exp(-slopes[h]! * (t - j)) * dot * vs[((b * S + j) * H + h) * D + e]!;
            }
            want.push(acc);
          }
        }
      }
    }
    near(await vals(y), want, 1e-5);
  });

  it("bad arguments name what is wrong", () => {
    const x = f([1, 2, 3, 4], [1, 2, 2]);
    assert.throws(() => ref.causalConv1d(x, f([1, 2, 3], [3, 1])), /causalConv1d: weight \[3, 1\] must have 2 rows/);
    assert.throws(() => ref.causalConv1d(x, f([1, 2], [2, 1])), /at least 2 taps/);
    assert.throws(() => ref.causalConv1d(x, f([1, 2, 3, 4], [2, 2]), { state: f([0, 0], [1, 2, 1]) }), /causalConv1d: state must have shape \[1, 1, 2\]/);
    assert.throws(() => ref.causalConv1d(x, f([1, 2, 3, 4], [2, 2]), { bias: f([1], [1]) }), /bias \[1\] must have 2 entries/);
    assert.throws(() => ref.causalConv1d(x, f([1, 2, 3, 4], [2, 2]), { tokenMask: Tensor.from(Int32Array.from([1]), [1, 1]) }), /causalConv1d: tokenMask must have shape \[1, 2\]/);
    const xs = f(new Array(8).fill(1), [1, 2, 4, 1]);
    const dt = f(new Array(8).fill(1), [1, 2, 4]);
    const a = f([1, 1, 1, 1], [4]);
    const bc = f(new Array(6).fill(1), [1, 2, 3, 1]);
    assert.throws(() => ref.ssmScan(xs, dt, a, bc, bc), /ssmScan: 4 heads cannot share 3 groups/);
    const b2 = f(new Array(4).fill(1), [1, 2, 2, 1]);
    assert.throws(() => ref.ssmScan(xs, f([1, 1], [1, 2, 1]), a, b2, b2), /ssmScan: dt must have shape \[1, 2, 4\]/);
    assert.throws(() => ref.ssmScan(xs, dt, f([1], [1]), b2, b2), /a \[1\] must have 4 entries/);
    assert.throws(() => ref.ssmScan(xs, dt, a, b2, b2, { dtMin: 2, dtMax: 1 }), /dtMin ≤ dtMax/);
    assert.throws(() => ref.ssmScan(xs, dt, a, b2, b2, { state: f([0], [1, 1, 1, 1]) }), /state must have shape \[1, 4, 1, 1\]/);
    assert.throws(() => ref.ssmScan(xs, dt, a, b2, b2, { tokenMask: Tensor.from(Int32Array.from([1]), [1, 1]) }), /tokenMask must have shape \[1, 2\]/);
  });
});

interface ConvCase {
  b: number;
  s: number;
  c: number;
  l: number;
  spec?: Omit<CausalConv1dSpec, "state" | "bias" | "tokenMask"> & { bias?: boolean; state?: boolean; mask?: boolean };
  bf16?: boolean;
}
const CONV_CASES: ConvCase[] = [
  { b: 2, s: 7, c: 5, l: 3 },
  { b: 1, s: 1, c: 33, l: 4, spec: { bias: true, act: "silu", state: true } },
  { b: 3, s: 13, c: 70, l: 2, spec: { state: true }, bf16: true },
  { b: 2, s: 9, c: 6, l: 4, spec: { bias: true, act: "silu", state: true, mask: true } },
];
interface ScanCase {
  b: number;
  s: number;
  h: number;
  p: number;
  g: number;
  n: number;
  spec?: { dtBias?: boolean; softplus?: boolean; d?: boolean; state?: boolean; dtMin?: number; dtMax?: number; mask?: boolean };
}
const SCAN_CASES: ScanCase[] = [
  { b: 2, s: 9, h: 4, p: 3, g: 2, n: 5, spec: { dtBias: true, softplus: true, d: true } },
  { b: 1, s: 1, h: 3, p: 16, g: 1, n: 16, spec: { dtBias: true, softplus: true, d: true, state: true, dtMin: 0.01, dtMax: 2 } },
  { b: 3, s: 20, h: 2, p: 7, g: 2, n: 9, spec: { state: true } },
  { b: 2, s: 6, h: 4, p: 3, g: 4, n: 4, spec: { dtBias: true, softplus: true, state: true, mask: true } },
];

function convInputs(r: () => number, k: ConvCase): { x: Tensor; w: Tensor; spec: CausalConv1dSpec } {
  const spec: CausalConv1dSpec = { act: k.spec?.act };
  if (k.spec?.bias) spec.bias = randn(r, [k.c]);
  if (k.spec?.state) spec.state = randn(r, [k.b, k.l - 1, k.c]);
  if (k.spec?.mask) spec.tokenMask = Tensor.from(Int32Array.from({ length: k.b * k.s }, (_, i) => (i % k.s < 1 + (i % 3) || i % 4 === 3 ? 0 : 1)), [k.b, k.s]);
  return { x: randn(r, [k.b, k.s, k.c]), w: randn(r, [k.c, k.l], 1, k.bf16 ? "bfloat16" : "float32"), spec };
}

function scanInputs(r: () => number, k: ScanCase): { args: [Tensor, Tensor, Tensor, Tensor, Tensor]; spec: SsmScanSpec } {
  const spec: SsmScanSpec = { dtSoftplus: k.spec?.softplus, dtMin: k.spec?.dtMin, dtMax: k.spec?.dtMax };
  if (k.spec?.dtBias) spec.dtBias = randn(r, [k.h]);
  if (k.spec?.d) spec.d = randn(r, [k.h]);
  if (k.spec?.state) spec.state = randn(r, [k.b, k.h, k.p, k.n]);
  if (k.spec?.mask) spec.tokenMask = Tensor.from(Int32Array.from({ length: k.b * k.s }, (_, i) => (i % k.s < 2 + (i % 2) ? 0 : 1)), [k.b, k.s]);
  const dt = k.spec?.softplus ? randn(r, [k.b, k.s, k.h], 2) : Tensor.from(Float32Array.from({ length: k.b * k.s * k.h }, () => 0.05 + r() * 0.5), [k.b, k.s, k.h]);
  const a = Tensor.from(Float32Array.from({ length: k.h }, () => -0.1 - r() * 2), [k.h]);
  return { args: [randn(r, [k.b, k.s, k.h, k.p]), dt, a, randn(r, [k.b, k.s, k.g, k.n]), randn(r, [k.b, k.s, k.g, k.n])], spec };
}

function agreement(name: string, make: () => Promise<Backend | string>, done?: (b: Backend) => void): void {
  describe(`recurrent ops: ${name} against reference`, async () => {
    const made = await make();
    if (typeof made === "string") {
      it(`${name} recurrent ops`, { skip: made }, () => {});
      return;
    }
    const b = made;
    if (done) after(() => done(b));
    const adopt = (t: Tensor | undefined) => (t ? b.adopt(t) : undefined);

    it("causalConv1d", async () => {
      const r = rng(21);
      for (const k of CONV_CASES) {
        const { x, w, spec } = convInputs(r, k);
        const want = ref.causalConv1d(x, w, spec);
        const got = b.causalConv1d(b.adopt(x), b.adopt(w), { ...spec, bias: adopt(spec.bias), state: adopt(spec.state), tokenMask: adopt(spec.tokenMask) });
        await expectTensorClose(got.y, want.y, 1e-5, `y ${JSON.stringify(k)}`);
        await expectTensorClose(got.state, want.state, 0, `state ${JSON.stringify(k)}`);
      }
    });

    it("ssmScan", async () => {
      const r = rng(22);
      for (const k of SCAN_CASES) {
        const { args, spec } = scanInputs(r, k);
        const want = ref.ssmScan(...args, spec);
        const got = b.ssmScan(...(args.map((t) => b.adopt(t)) as typeof args), { ...spec, dtBias: adopt(spec.dtBias), d: adopt(spec.d), state: adopt(spec.state), tokenMask: adopt(spec.tokenMask) });
        await expectTensorClose(got.y, want.y, 1e-5, `y ${JSON.stringify(k)}`);
        await expectTensorClose(got.state, want.state, 1e-5, `state ${JSON.stringify(k)}`);
      }
    });

    it("a call split in two, carrying the state, equals one call", async () => {
      const r = rng(23);
      const conv: ConvCase = { b: 2, s: 8, c: 6, l: 4, spec: { bias: true, act: "silu" } };
      const { x, w, spec } = convInputs(r, conv);
      const whole = b.causalConv1d(b.adopt(x), b.adopt(w), { ...spec, bias: adopt(spec.bias) });
      const first = b.causalConv1d(b.adopt(ref.slice(x, 1, 0, 5)), b.adopt(w), { ...spec, bias: adopt(spec.bias) });
      const second = b.causalConv1d(b.adopt(ref.slice(x, 1, 5, 3)), b.adopt(w), { ...spec, bias: adopt(spec.bias), state: first.state });
      await expectTensorClose(b.concat([first.y, second.y], 1), whole.y, 1e-6, "conv y");
      await expectTensorClose(second.state, whole.state, 0, "conv state");

      const scan: ScanCase = { b: 2, s: 11, h: 4, p: 5, g: 2, n: 6, spec: { dtBias: true, softplus: true, d: true } };
      const { args, spec: ss } = scanInputs(r, scan);
      const [xs, dt, a, bIn, c] = args.map((t) => b.adopt(t));
      const sp = { ...ss, dtBias: adopt(ss.dtBias), d: adopt(ss.d) };
      const all = b.ssmScan(xs!, dt!, a!, bIn!, c!, sp);
      const part = (t: Tensor, from: number, n: number) => b.slice(t, 1, from, n);
      const p1 = b.ssmScan(part(xs!, 0, 6), part(dt!, 0, 6), a!, part(bIn!, 0, 6), part(c!, 0, 6), sp);
      const p2 = b.ssmScan(part(xs!, 6, 5), part(dt!, 6, 5), a!, part(bIn!, 6, 5), part(c!, 6, 5), { ...sp, state: p1.state });
      await expectTensorClose(b.concat([p1.y, p2.y], 1), all.y, 1e-5, "scan y");
      await expectTensorClose(p2.state, all.state, 1e-5, "scan state");
    });
  });
}

agreement("cpu", async () => new CpuBackend({ threads: 2 }));
agreement(
  "webgpu",
  async () => {
    const { backend, skip } = await webgpuOrSkip();
    return backend ?? skip!;
  },
  (b) => (b as { destroy(): void } & Backend).destroy(),
);
