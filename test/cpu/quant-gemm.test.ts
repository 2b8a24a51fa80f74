/**
 * The int8 prefill GEMM (native/src/quant/gemm_*.cc: q8_0, q4_0, q5_0, mxfp4 on AVX-512 VNNI) against the
 * reference backend. The GEMM multiplies the same int8 inputs as the decode GEMV (ggml's per-32 amax / 127
 * codes), so it must match the reference run on those inputs to float rounding (EXACT), and the plain float
 * inputs within QUANT_TOL (the error int8 inputs add; as the GEMV's). Edge shapes: rows that are not whole
 * groups of 16 blocks (K = 32, 96, 160, 1408), every input-row count from 2 to 17, weight-row counts that are not
 * whole register tiles (6) nor whole packed runs (64),
 * one-row jobs (the GEMV limit set to 0 sends every job to the GEMM), and non-finite inputs.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import type { GateSpec } from "../../src/backends/backend.js";
import { Experts } from "../../src/experts/experts.js";
import type { QuantFormat } from "../../src/formats/quant/index.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose, cpu, randTensor, rng, threadCounts } from "./helpers.js";
import { EXACT, FUSED_TOL, GEMV_ROWS, GEMV_ROWS_INT8, int8GemmActive, int8Inputs, QUANT_TOL, quantTensor } from "./quant-gemm-helpers.js";

const FORMATS: QuantFormat[] = ["q8_0", "q4_0", "q5_0", "mxfp4"];

const b = cpu();
const avx512 = b.supportedIsas().filter((i) => i.startsWith("avx512"));

for (const isa of avx512) {
  for (const threads of threadCounts()) {
    test(`int8 GEMM linear matches reference on its int8 inputs (${isa}, ${threads} threads)`, async (t) => {
      b.setIsa(isa as "avx512");
      b.setThreads(threads);
      if (!int8GemmActive(isa, "q8_0")) return t.skip("no AVX-512 VNNI here");
      const r = rng(8000 + threads);
      for (const format of FORMATS) {
        // [M, K, N]: partial groups of 16 blocks (K = 32, 96, 160, 1408), every M from 2 to 17 (odd ones, tails of the
        // 6 × 2 register tile), N not a multiple of 6 and past the 64 weight rows packed at a time, many tiles
        for (const [m, k, n] of [
          [2, 512, 7],
          [3, 1408, 131],
          [4, 64, 1],
          [5, 1408, 67],
          [6, 160, 64],
          [7, 160, 65],
          [8, 2048, 13],
          [10, 96, 6],
          [11, 32, 70],
          [13, 544, 5],
          [14, 96, 129],
          [15, 1408, 12],
          [16, 32, 64],
          [9, 32, 3],
          [17, 96, 33],
          [12, 160, 70],
          [40, 512, 130],
          [64, 1408, 65],
        ] as const) {
          const w = quantTensor(r, [n, k], format);
          const x = randTensor(r, [m, k]);
          const bias = randTensor(r, [n], "bfloat16");
          const what = `${format} linear ${m}x${k}x${n}`;
          await assertClose(b.linear(x, w, { bias }), ref.linear(int8Inputs(x, format), w, { bias }), EXACT, `${what} (int8 inputs)`);
          await assertClose(b.linear(x, w), ref.linear(x, w), QUANT_TOL, what);
        }
      }
    });
  }
}

test("int8 GEMM: one-row jobs, grouped experts with single rows, non-finite inputs", async (t) => {
  if (avx512.length === 0) return t.skip("no AVX-512 here");
  const isa = avx512.at(-1)!;
  b.setIsa(isa as "avx512");
  if (!int8GemmActive(isa, "q4_0")) return t.skip("no AVX-512 VNNI here");
  const r = rng(8100);
  try {
    b.native.setGemvMaxRows(8, 256, 256, 0); // every block-format job on the GEMM, one-row jobs included
    for (const format of FORMATS) {
      const k = 96;
      const w = quantTensor(r, [3, 40, k], format);
      const x = randTensor(r, [1, k]);
      await assertClose(b.linear(x, w, { expert: 2 }), ref.linear(int8Inputs(x, format), w, { expert: 2 }), EXACT, `${format} one row`);
      const counts = [1, 0, 20];
      const s = counts.reduce((a, c) => a + c, 0);
      const xs = randTensor(r, [s, k]);
      const offsets = Tensor.from(Int32Array.from([0, 1, 1, 21]), [4]);
      await assertClose(b.groupedLinear(xs, w, offsets), ref.groupedLinear(int8Inputs(xs, format), w, offsets), EXACT, `${format} groupedLinear`);
    }
    b.native.setGemvMaxRows(8, 256, 256, GEMV_ROWS, GEMV_ROWS_INT8);
    const w = quantTensor(r, [20, 128], "q8_0");
    const xv = (await randTensor(r, [12, 128]).data()) as Float32Array;
    xv[3 * 128 + 40] = NaN; // row 3: NaN everywhere; row 7: +inf
    xv[7 * 128 + 127] = Infinity;
    const y = await b.linear(Tensor.from(Float32Array.from(xv), [12, 128]), w).data();
    for (let m = 0; m < 12; m++)
      for (let n = 0; n < 20; n++) assert.equal(Number.isNaN(y[m * 20 + n]!), m === 3 || m === 7, `row ${m} column ${n}: ${y[m * 20 + n]}`);
  } finally {
    b.native.setGemvMaxRows(8, 256, 256, GEMV_ROWS, GEMV_ROWS_INT8);
  }
});

test("int8 GEMM in the fused experts layer (every job on the GEMM) matches reference within the int8 tolerance", async (t) => {
  if (!avx512.some((i) => int8GemmActive(i, "q4_0"))) return t.skip("no AVX-512 VNNI here");
  const r = rng(8200);
  const gates: GateSpec[] = [
    { kind: "concatenated", act: "silu" },
    { kind: "interleaved", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 7 } },
    { kind: "none", act: "gelu" },
  ];
  b.setIsa(avx512.at(-1) as "avx512");
  try {
    for (const format of FORMATS) {
      const gate = gates[FORMATS.indexOf(format) % gates.length]!;
      const [e, h, i] = [6, 64, 96];
      const width = gate.kind === "none" ? i : 2 * i;
      const proj = quantTensor(r, [e, width, h], format, 0.3);
      const down = quantTensor(r, [e, h, i], format, 0.3);
      const biases = format !== "q4_0";
      const w = {
        numExperts: e,
        hiddenSize: h,
        intermediateSize: i,
        ...(gate.kind === "none" ? { up: proj } : { gateUp: proj }),
        down,
        ...(biases ? { gateUpBias: randTensor(r, [e, width], "float32", 0.1), downBias: randTensor(r, [e, h], "float32", 0.1) } : {}),
        gate,
      };
      for (const [tk, k] of [
        [5, 3],
        [40, 2],
      ] as const) {
        const hidden = randTensor(r, [tk, h]);
        const idx = Tensor.from(Int32Array.from({ length: tk * k }, (_, s) => (s * 7 + Math.floor(s / k)) % 6), [tk, k]);
        const wts = randTensor(r, [tk, k]);
        const expected = await new Experts(w, { backend: ref, implementation: "eager" }).forward(hidden, idx, wts);
        const run = () => b.fusedExperts({ hidden, topkIndex: idx, topkWeights: wts, projection: proj, down, projectionBias: w.gateUpBias, downBias: w.downBias, gate });
        b.native.setGemvMaxRows(8, 256, 256, 0);
        await assertClose(run(), expected, FUSED_TOL, `${format} ${gate.kind} T=${tk} (int8 GEMM)`);
        b.native.setGemvMaxRows(8, 256, 256, GEMV_ROWS, GEMV_ROWS_INT8);
        await assertClose(run(), expected, FUSED_TOL, `${format} ${gate.kind} T=${tk} (GEMV and GEMM)`);
      }
    }
  } finally {
    b.native.setGemvMaxRows(8, 256, 256, GEMV_ROWS, GEMV_ROWS_INT8);
  }
});
