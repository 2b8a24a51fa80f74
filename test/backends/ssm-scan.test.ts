/**
 * ssmScan (the selective state-space scan): the reference backend against hand-computed values and a
 * written-out decayed linear attention; the cpu and webgpu backends against the reference on random
 * shapes (odd sizes, groups, softplus / clamp of dt, padding, with and without a previous state); a call
 * split in two, carrying the state, equals one call; bad arguments name what is wrong. webgpu skips
 * (saying why) without an adapter.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Backend, SsmScanSpec } from "../../src/backends/backend.js";
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
const softplus = (v: number) => Math.log1p(Math.exp(v));

describe("ssmScan (reference)", () => {
  it("ssmScan: decay, input, output and skip by hand (one head, P = N = 1), softplus and clamp of dt", async () => {
    // S_t = exp(δ·a)·S + δ·x·b; y = S·c + d·x
    const x = f([1, 2], [1, 2, 1, 1]);
    const dt = f([0.5, 0.25], [1, 2, 1]);
    const bIn = f([2, 3], [1, 2, 1, 1]);
    const c = f([1, -1], [1, 2, 1, 1]);
    const a = f([-1], [1]);
    const { out, state } = ref.ssmScan(x, dt, a, bIn, c, { d: f([0.5], [1]) });
    const s1 = 0.5 * 1 * 2;
    const s2 = Math.exp(-0.25) * s1 + 0.25 * 2 * 3;
    near(await vals(out), [s1 + 0.5, -s2 + 1]);
    near(await vals(state), [s2]);
    const sp = ref.ssmScan(x, dt, a, bIn, c, { dtBias: f([0.1], [1]), dtSoftplus: true, dtMax: 0.9 });
    const d1 = Math.min(softplus(0.6), 0.9);
    const d2 = Math.min(softplus(0.35), 0.9);
    const t1 = d1 * 2;
    const t2 = Math.exp(-d2) * t1 + d2 * 2 * 3;
    near(await vals(sp.out), [t1, -t2]);
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
    const { out } = ref.ssmScan(v, ones, f(slopes.map((s) => -s), [H]), k, q);
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
    near(await vals(out), want, 1e-5);
  });

  it("bad arguments name what is wrong", () => {
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
  describe(`ssmScan: ${name} against reference`, async () => {
    const made = await make();
    if (typeof made === "string") {
      it(`${name} ssmScan`, { skip: made }, () => {});
      return;
    }
    const b = made;
    if (done) after(() => done(b));
    const adopt = (t: Tensor | undefined) => (t ? b.adopt(t) : undefined);

    it("ssmScan", async () => {
      const r = rng(22);
      for (const k of SCAN_CASES) {
        const { args, spec } = scanInputs(r, k);
        const want = ref.ssmScan(...args, spec);
        const got = b.ssmScan(...(args.map((t) => b.adopt(t)) as typeof args), { ...spec, dtBias: adopt(spec.dtBias), d: adopt(spec.d), state: adopt(spec.state), tokenMask: adopt(spec.tokenMask) });
        await expectTensorClose(got.out, want.out, 1e-5, `y ${JSON.stringify(k)}`);
        await expectTensorClose(got.state, want.state, 1e-5, `state ${JSON.stringify(k)}`);
      }
    });

    it("a call split in two, carrying the state, equals one call", async () => {
      const r = rng(23);
      const scan: ScanCase = { b: 2, s: 11, h: 4, p: 5, g: 2, n: 6, spec: { dtBias: true, softplus: true, d: true } };
      const { args, spec: ss } = scanInputs(r, scan);
      const [xs, dt, a, bIn, c] = args.map((t) => b.adopt(t));
      const sp = { ...ss, dtBias: adopt(ss.dtBias), d: adopt(ss.d) };
      const all = b.ssmScan(xs!, dt!, a!, bIn!, c!, sp);
      const part = (t: Tensor, from: number, n: number) => b.slice(t, 1, from, n);
      const p1 = b.ssmScan(part(xs!, 0, 6), part(dt!, 0, 6), a!, part(bIn!, 0, 6), part(c!, 0, 6), sp);
      const p2 = b.ssmScan(part(xs!, 6, 5), part(dt!, 6, 5), a!, part(bIn!, 6, 5), part(c!, 6, 5), { ...sp, state: p1.state });
      await expectTensorClose(b.concat([p1.out, p2.out], 1), all.out, 1e-5, "scan out");
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
