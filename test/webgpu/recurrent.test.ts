/**
 * The webgpu recurrent-layer ops against the reference backend: causalConv1d (kernel widths 1–5, bias,
 * activation, carried window, padding masks, float16 / bfloat16 weights) and gatedDeltaRule (per-head
 * and per-channel gates, carried state, padding masks, value dims above one 64-column block).
 */
import { after, describe, it } from "node:test";
import type { Backend } from "../../src/backends/backend.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import type { DType } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";
import { expectTensorClose } from "../helpers/assert-close.js";
import { randn, rng, webgpuOrSkip } from "./setup.js";

const { backend: gpu, skip } = await webgpuOrSkip();

function mask(r: () => number, b: number, s: number): Tensor {
  const m = Int32Array.from({ length: b * s }, () => (r() < 0.3 ? 0 : 1));
  return Tensor.from(m, [b, s]);
}

if (skip) {
  it("webgpu recurrent ops", { skip }, () => {});
} else {
  const g = gpu!;
  after(() => g.destroy());
  const on = (b: Backend, t: Tensor | undefined) => (t ? b.adopt(t) : undefined);

  describe("webgpu: causalConv1d", () => {
    const cases: [number, number, number, number, DType, boolean, boolean][] = [
      [1, 1, 3, 1, "float32", false, false],
      [2, 9, 37, 4, "float32", true, true],
      [3, 5, 70, 5, "float16", true, false],
      [2, 6, 16, 3, "bfloat16", false, true],
    ];
    for (const [B, S, C, K, dt, withBias, withMask] of cases) {
      it(`B ${B} S ${S} C ${C} Kw ${K} ${dt}${withBias ? " bias" : ""}${withMask ? " mask" : ""}`, async () => {
        const r = rng(B * 100 + C);
        const x = randn(r, [B, S, C]);
        const w = randn(r, [C, K], 1, dt);
        const bias = withBias ? randn(r, [C]) : undefined;
        const state = K > 1 ? randn(r, [B, K - 1, C]) : undefined;
        const tokenMask = withMask ? mask(r, B, S) : undefined;
        const run = (b: Backend) => b.causalConv1d(b.adopt(x), b.adopt(w), { bias: on(b, bias), state: on(b, state), act: "silu", tokenMask: on(b, tokenMask) });
        const want = run(ref);
        const got = run(g);
        await expectTensorClose(got.out, want.out, 1e-5, "out");
        await expectTensorClose(got.state, want.state, 1e-6, "state");
      });
    }
  });

  describe("webgpu: gatedDeltaRule", () => {
    const cases: [number, number, number, number, number, boolean, boolean][] = [
      [1, 1, 1, 1, 1, false, false],
      [2, 7, 3, 16, 16, false, true],
      [1, 5, 2, 12, 70, true, false],
      [2, 9, 2, 32, 20, true, true],
    ];
    for (const [B, S, H, Dk, Dv, perChannel, withMask] of cases) {
      it(`B ${B} S ${S} H ${H} Dk ${Dk} Dv ${Dv}${perChannel ? " per-channel" : ""}${withMask ? " mask" : ""}`, async () => {
        const r = rng(B * 1000 + Dk * 10 + Dv);
        const q = randn(r, [B, S, H, Dk], 0.3);
        const k = randn(r, [B, S, H, Dk], 0.3);
        const v = randn(r, [B, S, H, Dv]);
        const beta = randn(r, [B, S, H], 0.5);
        const a = randn(r, perChannel ? [B, S, H, Dk] : [B, S, H], 3);
        const scale = randn(r, [H], 2);
        const bias = randn(r, [perChannel ? H * Dk : H]);
        const state = randn(r, [B, H, Dk, Dv]);
        const tokenMask = withMask ? mask(r, B, S) : undefined;
        const run = (b: Backend) =>
          b.gatedDeltaRule(b.adopt(q), b.adopt(k), b.adopt(v), b.adopt(beta), {
            gate: { a: b.adopt(a), scale: b.adopt(scale), bias: b.adopt(bias) },
            state: b.adopt(state),
            tokenMask: on(b, tokenMask),
          });
        const want = run(ref);
        const got = run(g);
        await expectTensorClose(got.out, want.out, 1e-5, "out");
        await expectTensorClose(got.state, want.state, 1e-5, "state");
      });
    }
  });
}
