/**
 * The int8 prefill GEMM on q4_k / q6_k weights (native/src/quant/gemm_avx512vnni.cc, gemm_kquant_avx512.h)
 * against the reference backend. Products of 2+ rows quantize the inputs per 32 values (not per 256 as the
 * K-quants' one-row GEMV does), so they must match the reference run on those int8 inputs to float rounding
 * (EXACT) and the float inputs within QUANT_TOL. Shapes: every input-row count 2–17 plus 40 and 64 (the
 * in-register path up to 8 rows, the packed 6 × 2 tiles from 9), weight-row counts that are not whole tiles
 * nor packed runs, K from 256 to 2048 and 5632 (odd super-block counts: a half-empty last group of 16 blocks);
 * edge blocks (zero scales, the largest mins, int8 scales −128 / 127), one-row jobs and non-finite inputs.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import type { QuantFormat } from "../../src/formats/quant/index.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose, cpu, randTensor, rng, threadCounts } from "./helpers.js";
import { EXACT, GEMV_ROWS, GEMV_ROWS_INT8, int8GemmActive, int8Inputs, QUANT_TOL, quantTensor } from "./quant-gemm-helpers.js";

const FORMATS: QuantFormat[] = ["q4_k", "q6_k"];
const ROWS = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 40, 64];
const WEIGHT_ROWS = [1, 3, 5, 7, 13, 65, 67, 129];
const KS = [256, 768, 1280, 2048, 512, 1792, 5632, 1024, 1536];

const b = cpu();
const avx512 = b.supportedIsas().filter((i) => i.startsWith("avx512"));
const vnni = avx512.filter((i) => int8GemmActive(i, "q4_k"));

/** fp16 bits of scales: zero, tiny, ordinary and large. */
const HALVES = [0x0000, 0x0400, 0x2000, 0x2c00, 0x3400, 0x4800];

/**
 * n rows of k values in `format` with edge super-blocks: by block index, all scales zero, the largest 6-bit
 * scales and mins (q4_k; with dmin up to 8) or int8 scales −128 / 127 (q6_k), or random bytes; d and dmin
 * drawn from HALVES.
 */
function edgeWeights(r: () => number, format: QuantFormat, n: number, k: number): Tensor {
  const bytesPer = format === "q4_k" ? 144 : 210;
  const nb = (n * k) / 256;
  const out = new Uint8Array(nb * bytesPer);
  const half = (at: number, h: number) => ((out[at] = h & 0xff), (out[at + 1] = h >> 8));
  for (let i = 0; i < nb; i++) {
    const o = i * bytesPer;
    for (let j = 0; j < bytesPer; j++) out[o + j] = Math.floor(r() * 256);
    const pick = () => HALVES[Math.floor(r() * HALVES.length)]!;
    if (format === "q4_k") {
      half(o, pick());
      half(o + 2, pick());
      if (i % 4 === 0) out.fill(0, o + 4, o + 16); // every scale and min 0
      if (i % 4 === 1) out.fill(0xff, o + 4, o + 16); // every scale and min 63
      if (i % 4 === 2) for (let j = 0; j < 12; j++) out[o + 4 + j] = j % 2 ? 0xff : 0; // some 0, some 63, mixed
    } else {
      half(o + 208, pick());
      if (i % 3 === 0) out.fill(0, o + 192, o + 208);
      if (i % 3 === 1) for (let j = 0; j < 16; j++) out[o + 192 + j] = j % 2 ? 0x7f : 0x80; // 127, −128
    }
  }
  return new Tensor([n, k], format, out);
}

test("int8 GEMM on q4_k / q6_k matches reference on its int8 inputs and within the int8 tolerance on float inputs", async (t) => {
  if (vnni.length === 0) return t.skip("no AVX-512 VNNI here");
  const r = rng(8600);
  for (const format of FORMATS) {
    for (let i = 0; i < ROWS.length; i++) {
      const [m, n, k] = [ROWS[i]!, WEIGHT_ROWS[i % WEIGHT_ROWS.length]!, KS[i % KS.length]!];
      const w = quantTensor(r, [n, k], format);
      const x = randTensor(r, [m, k]);
      const bias = randTensor(r, [n], "bfloat16");
      const exact = ref.linear(int8Inputs(x, format, 32), w, { bias });
      const plain = ref.linear(x, w);
      for (const isa of vnni) {
        b.setIsa(isa as "avx512");
        for (const threads of threadCounts()) {
          b.setThreads(threads);
          const what = `${format} linear ${m}x${k}x${n} (${isa}, ${threads} threads)`;
          await assertClose(b.linear(x, w, { bias }), exact, EXACT, `${what} (int8 inputs)`);
          // against a handful of outputs max |y| is no scale for the inputs' rounding: the float check needs many
          if (m * n >= 40) await assertClose(b.linear(x, w), plain, QUANT_TOL, what);
        }
      }
    }
  }
});

test("int8 GEMM on q4_k / q6_k: edge blocks (zero scales, largest mins, int8 scales −128 / 127)", async (t) => {
  if (vnni.length === 0) return t.skip("no AVX-512 VNNI here");
  b.setIsa(vnni.at(-1) as "avx512");
  const r = rng(8700);
  for (const format of FORMATS) {
    for (const [m, n, k] of [
      [3, 13, 768],
      [8, 7, 2048],
      [12, 67, 1280],
      [40, 65, 512],
    ] as const) {
      const w = edgeWeights(r, format, n, k);
      const x = randTensor(r, [m, k]);
      await assertClose(b.linear(x, w), ref.linear(int8Inputs(x, format, 32), w), EXACT, `${format} edge blocks ${m}x${k}x${n}`);
    }
  }
});

test("int8 GEMM on q4_k / q6_k: one-row jobs, grouped experts, non-finite inputs", async (t) => {
  if (vnni.length === 0) return t.skip("no AVX-512 VNNI here");
  b.setIsa(vnni.at(-1) as "avx512");
  const r = rng(8800);
  try {
    b.native.setGemvMaxRows(8, 256, 256, 0); // every block-format job on the GEMM, one-row jobs included
    for (const format of FORMATS) {
      const k = 768;
      const w = quantTensor(r, [3, 40, k], format);
      const x = randTensor(r, [1, k]);
      await assertClose(b.linear(x, w, { expert: 2 }), ref.linear(int8Inputs(x, format, 32), w, { expert: 2 }), EXACT, `${format} one row`);
      const counts = [1, 0, 20];
      const s = counts.reduce((a, c) => a + c, 0);
      const xs = randTensor(r, [s, k]);
      const offsets = Tensor.from(Int32Array.from([0, 1, 1, 21]), [4]);
      await assertClose(b.groupedLinear(xs, w, offsets), ref.groupedLinear(int8Inputs(xs, format, 32), w, offsets), EXACT, `${format} groupedLinear`);
    }
    b.native.setGemvMaxRows(8, 256, 256, GEMV_ROWS, GEMV_ROWS_INT8);
    for (const format of FORMATS) {
      const w = quantTensor(r, [20, 512], format);
      const xv = (await randTensor(r, [12, 512]).data()) as Float32Array;
      xv[3 * 512 + 40] = NaN; // row 3: NaN everywhere; row 7: −inf
      xv[7 * 512 + 511] = -Infinity;
      const y = await b.linear(Tensor.from(Float32Array.from(xv), [12, 512]), w).data();
      for (let m = 0; m < 12; m++)
        for (let n = 0; n < 20; n++) assert.equal(Number.isNaN(y[m * 20 + n]!), m === 3 || m === 7, `${format} row ${m} column ${n}: ${y[m * 20 + n]}`);
    }
  } finally {
    b.native.setGemvMaxRows(8, 256, 256, GEMV_ROWS, GEMV_ROWS_INT8);
  }
});
