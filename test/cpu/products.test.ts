/** Native products (linear, groupedLinear, gatheredLinear) against the reference backend. */
import { test } from "node:test";
import { Tensor } from "../../src/tensor.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import type { DType } from "../../src/dtype.js";
import { assertClose, configs, cpu, randInts, randTensor, rng } from "./helpers.js";

const DTYPES: DType[] = ["float32", "bfloat16", "float16"];
const TOL = 2e-5;

// [M, K, N]: odd sizes, T = 1, K = 1, GEMV and packed paths, K and M blocking (KC = 256, MC ≥ 48).
const LINEAR_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 17, 33],
  [3, 64, 40],
  [8, 31, 7],
  [9, 33, 65],
  [14, 16, 32],
  [29, 300, 97],
  [130, 260, 50],
];

for (const { isa, threads } of configs()) {
  test(`linear matches reference (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(1000 + threads);
    for (const [m, k, n] of LINEAR_SHAPES) {
      for (const dt of DTYPES) {
        const x = randTensor(r, [m, k]);
        const w = randTensor(r, [n, k], dt);
        const bias = randTensor(r, [n], dt);
        await assertClose(b.linear(x, w), ref.linear(x, w), TOL, `linear ${m}x${k}x${n} ${dt}`);
        await assertClose(b.linear(x, w, { bias }), ref.linear(x, w, { bias }), TOL, `linear+bias ${m}x${k}x${n} ${dt}`);
      }
    }
    // A stacked weight used in place with `expert`, a 3-d input, an unaligned sub-array view.
    const w3 = randTensor(r, [3, 21, 19], "bfloat16");
    const b3 = randTensor(r, [3, 21]);
    const x3 = randTensor(r, [2, 5, 19]);
    for (let e = 0; e < 3; e++) await assertClose(b.linear(x3, w3, { expert: e, bias: b3 }), ref.linear(x3, w3, { expert: e, bias: b3 }), TOL, `linear expert ${e}`);
    const big = randTensor(r, [1 + 7 * 13]).storage as Float32Array;
    const xv = Tensor.from(big.subarray(1), [7, 13]);
    const wv = randTensor(r, [11, 13]);
    await assertClose(b.linear(xv, wv), ref.linear(xv, wv), TOL, "linear unaligned view");
  });

  test(`groupedLinear matches reference (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(2000 + threads);
    const cases: { e: number; counts: number[]; k: number; n: number; rpi: number }[] = [
      { e: 4, counts: [3, 0, 20, 1], k: 37, n: 45, rpi: 2 },
      { e: 5, counts: [0, 0, 0, 64, 0], k: 260, n: 70, rpi: 4 }, // all slots on one expert
      { e: 3, counts: [1, 0, 0], k: 1, n: 9, rpi: 1 }, // S = 1, K = 1
      { e: 6, counts: [9, 2, 0, 17, 5, 0], k: 64, n: 33, rpi: 1 },
    ];
    for (const c of cases) {
      const s = c.counts.reduce((a, v) => a + v, 0);
      const offsets = new Int32Array(c.e + 1);
      c.counts.forEach((v, i) => (offsets[i + 1] = offsets[i]! + v));
      const off = Tensor.from(offsets, [c.e + 1]);
      for (const dt of DTYPES) {
        const w = randTensor(r, [c.e, c.n, c.k], dt);
        const bias = randTensor(r, [c.e, c.n], dt);
        // With the fused gather: x has ceil(S / rpi) rows, rowIndex in [0, rows · rpi).
        const rows = Math.ceil(s / c.rpi);
        const x = randTensor(r, [rows, c.k]);
        const rowIndex = Tensor.from(randInts(r, s, rows * c.rpi), [s]);
        const opts = { rowIndex, rowsPerInput: c.rpi, bias };
        await assertClose(b.groupedLinear(x, w, off, opts), ref.groupedLinear(x, w, off, opts), TOL, `grouped gather ${JSON.stringify(c)} ${dt}`);
        // Without it: x[S, K] rows are the segments themselves.
        const xs = randTensor(r, [s, c.k]);
        await assertClose(b.groupedLinear(xs, w, off), ref.groupedLinear(xs, w, off), TOL, `grouped ${JSON.stringify(c)} ${dt}`);
      }
    }
  });

  test(`gatheredLinear matches reference (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(3000 + threads);
    const cases: { e: number; t: number; rpi: number; k: number; n: number; one?: boolean }[] = [
      { e: 8, t: 1, rpi: 1, k: 1, n: 5 },
      { e: 8, t: 1, rpi: 4, k: 48, n: 67 },
      { e: 6, t: 5, rpi: 2, k: 33, n: 40 },
      { e: 4, t: 16, rpi: 4, k: 70, n: 36, one: true }, // every slot on one expert: a packed product
      { e: 60, t: 7, rpi: 4, k: 40, n: 24 },
    ];
    for (const c of cases) {
      const s = c.t * c.rpi;
      const ids = Tensor.from(c.one ? new Int32Array(s).fill(2) : randInts(r, s, c.e), [s]);
      for (const dt of DTYPES) {
        const w = randTensor(r, [c.e, c.n, c.k], dt);
        const bias = randTensor(r, [c.e, c.n], dt);
        const x = randTensor(r, [c.t, c.k]);
        const opts = { rowsPerInput: c.rpi, bias };
        await assertClose(b.gatheredLinear(x, w, ids, opts), ref.gatheredLinear(x, w, ids, opts), TOL, `gathered ${JSON.stringify(c)} ${dt}`);
        await assertClose(b.gatheredLinear(x, w, ids, { rowsPerInput: c.rpi }), ref.gatheredLinear(x, w, ids, { rowsPerInput: c.rpi }), TOL, `gathered nobias ${dt}`);
      }
    }
  });
}

test("a large product splits across threads and stays exact (gemm path, 2 tiles per thread)", async () => {
  const b = cpu();
  b.setIsa(b.supportedIsas()[0]!);
  b.setThreads(2);
  const r = rng(7);
  const x = randTensor(r, [40, 300]);
  const w = randTensor(r, [1100, 300], "bfloat16");
  await assertClose(b.linear(x, w), ref.linear(x, w), TOL, "linear 40x300x1100");
});

test("linear with K = 0: every row is the bias (or zeros), as the reference", async () => {
  const b = cpu();
  const x = Tensor.from(new Float32Array(0), [3, 0]);
  const w = Tensor.from(new Float32Array(0), [2, 0]);
  const bias = Tensor.from(Float32Array.from([1.5, -2]), [2]);
  const want = Tensor.from(Float32Array.from([1.5, -2, 1.5, -2, 1.5, -2]), [3, 2]);
  await assertClose(b.linear(x, w, { bias }), want, 0, "cpu");
  await assertClose(ref.linear(x, w, { bias }), want, 0, "reference");
  await assertClose(b.linear(x, w), Tensor.from(new Float32Array(6), [3, 2]), 0, "cpu, no bias");
});
