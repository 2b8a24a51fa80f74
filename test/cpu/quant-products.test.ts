/**
 * The cpu products on block-format weights (q8_0 … fp8_e4m3_b128) against the reference backend on the same
 * quantized weights, every instruction set × thread count:
 * - widened panels (rows above the quant GEMV limit, formats without an int8 GEMM here) match the reference's
 *   float32 widening to float rounding; the int8 GEMM (q8_0, q4_0, q5_0, mxfp4 on AVX-512 VNNI) multiplies the
 *   same int8 inputs as the GEMV and is held to the same bounds (test/cpu/quant-gemm.test.ts covers its edges);
 * - the integer-dot GEMV (few rows) matches the reference run on the int8-quantized inputs it computes with
 *   (ggml's per-block amax / 127 codes, emulated below) to float rounding, and the plain float inputs within
 *   QUANT_TOL (the error int8 inputs add; measured ≤ 5.6e-3 of max |y| on uniform inputs).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import type { GateSpec } from "../../src/backends/backend.js";
import { Experts } from "../../src/experts/experts.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import type { QuantFormat } from "../../src/formats/quant/index.js";
import { segmentsOf } from "../../src/formats/segments.js";
import { formatInfo, rowBytes } from "../../src/formats/table.js";
import { Tensor } from "../../src/tensor.js";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import { assertClose, configs, cpu, randTensor, rng } from "./helpers.js";
import { viewOf } from "../helpers/views.js";
import { EXACT, FUSED_TOL, GEMV_ROWS, GEMV_ROWS_INT8, inputBlock, int8GemmActive, int8Inputs, QUANT_TOL, quantTensor } from "./quant-gemm-helpers.js";

const FORMATS: QuantFormat[] = ["q8_0", "q4_0", "q5_0", "q4_k", "q6_k", "mxfp4", "fp8_e4m3_b128"];

/** A row length of whole blocks for the format: 256 for the K-quants, else the given one. */
function kFor(format: QuantFormat, k: number): number {
  const be = formatInfo(format).blockElems;
  return Math.ceil(k / be) * be;
}

for (const { isa, threads } of configs()) {
  test(`quantized linear matches reference (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(7000 + threads);
    for (const format of FORMATS) {
      // [M, K, N]: T = 1, GEMV with several input rows, the limit, widened panels with K blocking and many tiles.
      for (const [m, k0, n] of [
        [1, 64, 33],
        [3, 256, 70],
        [GEMV_ROWS, 96, 16],
        [GEMV_ROWS + 1, 300, 65],
        [40, 512, 130],
      ] as const) {
        const k = kFor(format, k0);
        const w = quantTensor(r, [n, k], format);
        const x = randTensor(r, [m, k]);
        const bias = randTensor(r, [n], "bfloat16");
        const what = `${format} linear ${m}x${k}x${n}`;
        if (m <= GEMV_ROWS || int8GemmActive(isa, format)) {
          await assertClose(b.linear(x, w, { bias }), ref.linear(int8Inputs(x, format, inputBlock(isa, format, m)), w, { bias }), EXACT, `${what} (int8 inputs)`);
          await assertClose(b.linear(x, w), ref.linear(x, w), QUANT_TOL, what);
        } else {
          await assertClose(b.linear(x, w, { bias }), ref.linear(x, w, { bias }), EXACT, what);
        }
      }
      // A stacked weight used in place by expert.
      const k = kFor(format, 128);
      const w3 = quantTensor(r, [3, 20, k], format);
      const x3 = randTensor(r, [2, k]);
      const x3q = int8Inputs(x3, format, inputBlock(isa, format, 2));
      for (let e = 0; e < 3; e++) await assertClose(b.linear(x3, w3, { expert: e }), ref.linear(x3q, w3, { expert: e }), EXACT, `${format} linear expert ${e}`);
    }
  });

  test(`quantized groupedLinear / gatheredLinear match reference (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(7100 + threads);
    for (const format of FORMATS) {
      const k = kFor(format, 96);
      const n = 40;
      const e = 4;
      const counts = [3, 0, 20, 1]; // GEMV segments, an empty expert, a widened one
      const s = counts.reduce((a, c) => a + c, 0);
      const w = quantTensor(r, [e, n, k], format);
      const x = randTensor(r, [s, k]);
      const offsets = Tensor.from(Int32Array.from([0, ...counts.map((_, i) => counts.slice(0, i + 1).reduce((a, c) => a + c, 0))]), [e + 1]);
      const got = await b.groupedLinear(x, w, offsets).data();
      // one-row segments (the GEMV) and the others (the int8 GEMM where it runs) quantize their inputs per block of their own
      const exactGemv = await ref.groupedLinear(int8Inputs(x, format, inputBlock(isa, format, 1)), w, offsets).data();
      const exactMulti = await ref.groupedLinear(int8Inputs(x, format, inputBlock(isa, format, 2)), w, offsets).data();
      const exact = Float32Array.from(exactMulti, (v, i) => (Math.floor(i / n) === 23 ? exactGemv[i]! : v));
      const plain = await ref.groupedLinear(x, w, offsets).data();
      // Rows of GEMV experts compare with the int8 inputs, rows of the widened one (rows 3..22) with the float
      // ones (with the int8 inputs too where the int8 GEMM runs).
      const widened = (i: number) => !int8GemmActive(isa, format) && Math.floor(i / n) >= 3 && Math.floor(i / n) < 23;
      const want = Float32Array.from(exact, (v, i) => (widened(i) ? plain[i]! : v));
      await assertClose(Tensor.from(Float32Array.from(got), [s, n]), Tensor.from(want, [s, n]), EXACT, `${format} groupedLinear`);
      // gatheredLinear: 5 inputs × 2 slots; every expert gets ≤ 8 slots (GEMV).
      const xg = randTensor(r, [5, k]);
      const ids = Tensor.from(Int32Array.from([0, 3, 1, 3, 2, 0, 3, 1, 0, 2]), [10]);
      const xgq = int8Inputs(xg, format, inputBlock(isa, format, 2)); // every expert gets 2 or 3 slots
      await assertClose(b.gatheredLinear(xg, w, ids, { rowsPerInput: 2 }), ref.gatheredLinear(xgq, w, ids, { rowsPerInput: 2 }), EXACT, `${format} gatheredLinear`);
    }
  });
}

const GATES: GateSpec[] = [
  { kind: "concatenated", act: "silu" },
  { kind: "interleaved", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 7 } },
  { kind: "none", act: "gelu" },
];

function quantExperts(r: () => number, format: QuantFormat, e: number, h: number, i: number, gate: GateSpec, biases: boolean): ExpertsWeights {
  const width = gate.kind === "none" ? i : 2 * i;
  const proj = quantTensor(r, [e, width, h], format, 0.3);
  return {
    numExperts: e,
    hiddenSize: h,
    intermediateSize: i,
    ...(gate.kind === "none" ? { up: proj } : { gateUp: proj }),
    down: quantTensor(r, [e, h, i], format, 0.3),
    ...(biases ? { gateUpBias: randTensor(r, [e, width], "float32", 0.1), downBias: randTensor(r, [e, h], "float32", 0.1) } : {}),
    gate,
  };
}

function fused(w: ExpertsWeights, hidden: Tensor, topkIndex: Tensor, topkWeights: Tensor): Tensor {
  return cpu().fusedExperts({ hidden, topkIndex, topkWeights, projection: (w.gateUp ?? w.up)!, down: w.down, projectionBias: w.gateUpBias, downBias: w.downBias, gate: w.gate });
}

test("quantized fused experts layer matches reference: widened panels to float rounding, the int8 GEMV within its tolerance", async () => {
  const b = cpu();
  const r = rng(7200);
  try {
    for (const isa of b.supportedIsas()) {
      b.setIsa(isa as "avx512");
      for (const format of FORMATS) {
        const gate = GATES[FORMATS.indexOf(format) % GATES.length]!;
        const blk = formatInfo(format).blockElems;
        const [h, i] = blk === 256 ? [256, 256] : blk === 128 ? [128, 256] : [64, 96];
        const w = quantExperts(r, format, 6, h, i, gate, format !== "q4_0");
        for (const [t, k] of [
          [1, 2],
          [5, 3],
          [30, 2],
        ] as const) {
          const hidden = randTensor(r, [t, h]);
          const idx = Tensor.from(Int32Array.from({ length: t * k }, (_, s) => (s % k === 0 ? 4 : (s * 7 + Math.floor(s / k)) % 6 === 4 ? 1 : (s * 7 + Math.floor(s / k)) % 6)), [t, k]);
          const wts = randTensor(r, [t, k]);
          const expected = await new Experts(w, { backend: ref, implementation: "eager" }).forward(hidden, idx, wts);
          const what = `${isa} ${format} ${gate.kind} T=${t} K=${k}`;
          b.native.setGemvMaxRows(8, 256, 256, 0);
          const gemm = int8GemmActive(isa, format);
          await assertClose(fused(w, hidden, idx, wts), expected, gemm ? FUSED_TOL : 1e-4, `${what} (${gemm ? "int8 GEMM" : "widened"})`);
          b.native.setGemvMaxRows(8, 256, 256, 1 << 20);
          await assertClose(fused(w, hidden, idx, wts), expected, format === "fp8_e4m3_b128" ? 1e-4 : FUSED_TOL, `${what} (int8 GEMV)`);
        }
      }
    }
  } finally {
    b.native.setGemvMaxRows(8, 256, 256, GEMV_ROWS, GEMV_ROWS_INT8);
    b.setIsa(b.supportedIsas().at(-1) as "avx512");
  }
});

test("quantized weights as row-segment views and embeddings read as the reference reads them", async () => {
  const b = cpu();
  const r = rng(7300);
  const format: QuantFormat = "q4_k";
  const [e, n, k] = [3, 24, 512];
  const whole = quantTensor(r, [e, n, k], format);
  const bytes = whole.storage as Uint8Array;
  const rb = rowBytes(format, k);
  // Experts 0..2 stored as three uneven pieces (an expert slice spans two of them).
  const view = new Tensor([e, n, k], format, segmentsOf([{ data: bytes.slice(0, 30 * rb), rows: 30 }, { data: bytes.slice(30 * rb, 31 * rb), rows: 1 }, { data: bytes.slice(31 * rb), rows: e * n - 31 }]));
  for (const m of [2, 20]) {
    const x = randTensor(r, [m, k]);
    for (let ex = 0; ex < e; ex++) await assertClose(b.linear(x, view, { expert: ex }), b.linear(x, whole, { expert: ex }), 0, `view expert ${ex}, ${m} rows`);
  }
  const table = quantTensor(r, [10, 256], "q6_k");
  const ids = Tensor.from(Int32Array.from([9, 0, 3, 3]), [4]);
  await assertClose(b.embedding(table, ids), ref.embedding(table, ids), 0, "q6_k embedding");
});

test("quantized products: a block-format bias and a row that is not whole blocks are refused by name", () => {
  const b = cpu();
  const r = rng(7400);
  const w = quantTensor(r, [32, 64], "q8_0");
  const x = randTensor(r, [2, 64]);
  const qb = quantTensor(r, [1, 32], "q8_0");
  const n = b.native;
  const desc = (t: Tensor, rows: number, cols: number) => ({ format: formatInfo(t.dtype).code, rows, cols, segments: [{ data: t.storage as Uint8Array, byteOffset: 0, rows }] });
  assert.throws(() => n.linear({ x: x.storage as Float32Array, m: 2, k: 64, n: 32, w: desc(w, 32, 64), bias: desc(qb, 1, 32), y: new Float32Array(64) }), /linear: .*bias is in q8_0; a bias must be float32, bfloat16 or float16/);
  assert.throws(() => n.linear({ x: new Float32Array(2 * 48), m: 2, k: 48, n: 8, w: desc(w, 8, 48), y: new Float32Array(16) }), /w: a row of 48 q8_0 values is not whole blocks/);
});

test("every experts implementation runs on quantized stacks on the cpu backend", async () => {
  const b = cpu();
  const r = rng(7500);
  const gate: GateSpec = { kind: "concatenated", act: "silu" };
  const w = quantExperts(r, "q4_0", 6, 64, 96, gate, false);
  const gemm = int8GemmActive(b.supportedIsas().at(-1)!, "q4_0");
  for (const [t, tol] of [
    [1, FUSED_TOL],
    [40, gemm ? FUSED_TOL : 1e-4],
  ] as const) {
    const hidden = randTensor(r, [t, 64]);
    const idx = Tensor.from(Int32Array.from({ length: 2 * t }, (_, s) => (s * 5) % 6), [t, 2]);
    const wts = randTensor(r, [t, 2]);
    const expected = await new Experts(w, { backend: ref, implementation: "eager" }).forward(hidden, idx, wts);
    for (const implementation of ["eager", "batched_mm", "grouped_mm", "auto"] as const) {
      await assertClose(await new Experts(w, { backend: b, implementation }).forward(hidden, idx, wts), expected, tol, `${implementation} T=${t}`);
    }
  }
});

test("bfloat16 compute on quantized stacks (inputs rounded to bf16; widened panels in bf16 on AVX512_BF16)", async () => {
  const b = new CpuBackend({ compute: "bfloat16" });
  const r = rng(7600);
  const gate: GateSpec = { kind: "concatenated", act: "silu" };
  for (const format of ["q8_0", "q4_k"] as const) {
    const h = format === "q4_k" ? 256 : 64;
    const w = quantExperts(r, format, 6, h, h, gate, true);
    for (const t of [1, 40]) {
      const hidden = randTensor(r, [t, h]);
      const idx = Tensor.from(Int32Array.from({ length: 2 * t }, (_, s) => (s * 5) % 6), [t, 2]);
      const wts = randTensor(r, [t, 2]);
      const expected = await new Experts(w, { backend: ref, implementation: "eager" }).forward(hidden, idx, wts);
      const got = b.fusedExperts({ hidden, topkIndex: idx, topkWeights: wts, projection: w.gateUp!, down: w.down, projectionBias: w.gateUpBias, downBias: w.downBias, gate });
      // bf16 rounding of the inputs (and of the widened weights) with the int8 GEMV error: measured ≤ 2.2e-2 (T = 1), ≤ 5e-3 (T = 40).
      await assertClose(got, expected, FUSED_TOL, `bf16 compute ${format} T=${t}`);
    }
  }
});

/** Hidden size, expert width and expert count of the small fused-layer tests: whole blocks of each format. */
function smallExpertsDims(format: QuantFormat): [number, number, number] {
  const blk = formatInfo(format).blockElems;
  return blk === 256 ? [256, 256, 5] : blk === 128 ? [128, 256, 5] : [64, 96, 7];
}

test("quantized fused experts layer: each token's row prepared once for all its experts gives the bits of each slot's own row", async () => {
  const b = cpu();
  const r = rng(7500);
  const gate: GateSpec = { kind: "concatenated", act: "silu" };
  try {
    for (const isa of b.supportedIsas()) {
      b.setIsa(isa as "avx512");
      for (const threads of [1, 3]) {
        b.setThreads(threads);
        for (const format of FORMATS) {
          const [h, i, e] = smallExpertsDims(format);
          const w = quantExperts(r, format, e, h, i, gate, false);
          // slot 0 of every token: expert e − 1 (every token's row in order: read from the shared rows in place);
          // the others spread (rows copied out of them), some experts with one row (the GEMV), some with many
          for (const [t, k] of [[1, 3], [6, 3], [40, 3]] as const) {
            const ids = Int32Array.from({ length: t * k }, (_, s) => (s % k === 0 ? e - 1 : (Math.floor(s / k) * 3 + (s % k) * 5) % (e - 1)));
            const hidden = randTensor(r, [t, h]);
            const wts = randTensor(r, [t, k]);
            const got = (await fused(w, hidden, Tensor.from(ids, [t, k]), wts).data()) as Float32Array;
            // the same slots, each on its own copy of its token's row (no row read twice)
            const hv = (await hidden.data()) as Float32Array;
            const rows = Float32Array.from({ length: t * k * h }, (_, j) => hv[Math.floor(j / (k * h)) * h + (j % h)]!);
            const slots = (await fused(w, Tensor.from(rows, [t * k, h]), Tensor.from(ids, [t * k, 1]), Tensor.from((await wts.data()) as Float32Array, [t * k, 1])).data()) as Float32Array;
            const want = new Float32Array(t * h);
            for (let tok = 0; tok < t; tok++) {
              for (let c = 0; c < h; c++) {
                let o = slots[tok * k * h + c]!;
                for (let j = 1; j < k; j++) o = Math.fround(o + slots[(tok * k + j) * h + c]!);
                want[tok * h + c] = o;
              }
            }
            assert.deepEqual(got, want, `${isa} ${threads} threads ${format} T=${t} K=${k}`);
          }
        }
      }
    }
  } finally {
    b.setIsa(b.supportedIsas().at(-1) as "avx512");
  }
});

test("quantized fused experts layer: decode steps in one pool run give the bits of the two-run schedule", async () => {
  const b = cpu();
  const r = rng(7600);
  const layouts = ["perExpert", "perRow"] as const;
  const threads0 = b.native.getThreads();
  try {
    for (const isa of b.supportedIsas()) {
      b.setIsa(isa as "avx512");
      for (const threads of [2, 3]) {
        b.setThreads(threads);
        for (const format of FORMATS) {
          const gate = GATES[(FORMATS.indexOf(format) + threads) % GATES.length]!;
          const [h, i, e] = smallExpertsDims(format);
          const stacked = quantExperts(r, format, e, h, i, gate, format !== "q5_0");
          const layout = layouts[FORMATS.indexOf(format) % 2]!;
          // per-expert buffers or one buffer per row (row-run tables made for both kinds of job before either runs)
          const viewed = { ...stacked, down: viewOf(stacked.down, layout), ...(stacked.gateUp ? { gateUp: viewOf(stacked.gateUp, layout) } : { up: viewOf(stacked.up!, layout) }) };
          // T = 1 (top-1 to top-4; the same expert twice), then a few tokens sharing experts
          for (const ids of [[3], [0, 6 % e, 2, 1], [4, 4], [1, 2, 2, 1, 0, 3]]) {
            const k = ids.length === 6 ? 2 : ids.length;
            const t = ids.length / k;
            const idx = Tensor.from(Int32Array.from(ids), [t, k]);
            const hidden = randTensor(r, [t, h]);
            const wts = randTensor(r, [t, k]);
            for (const w of [stacked, viewed]) {
              const what = `${isa} ${threads} threads ${format} ${gate.kind} ${w === viewed ? layout : "stacked"} ids ${ids}`;
              // the one-run schedule first: the layer's buffers then hold another input's values, not these
              const before = b.native.decodePipeline(true);
              const got = (await fused(w, hidden, idx, wts).data()) as Float32Array;
              const ran = b.native.decodePipeline(false) - before;
              const want = (await fused(w, hidden, idx, wts).data()) as Float32Array;
              assert.equal(b.native.decodePipeline(), before + ran, `${what}: off`);
              // one slot per expert: within every format's GEMV, so the one-run schedule runs
              if (new Set(ids).size === ids.length) assert.equal(ran, 1, `${what}: one-run schedule taken`);
              assert.deepEqual(got, want, what);
            }
          }
        }
      }
    }
  } finally {
    b.native.decodePipeline(true);
    b.setThreads(threads0);
    b.setIsa(b.supportedIsas().at(-1) as "avx512");
  }
});
