/**
 * Decode products (GEMV) on the paths that long row runs and several input rows take:
 * - with MOEKIT_GEMV_TASKS (contiguous GEMV tasks, set below) a task spans many 64-row tiles when a product
 *   has thousands of output rows: plain and bf16-compute products and the fused experts layer against the
 *   reference;
 * - the quant GEMV decodes each weight block once for several input rows (AVX-512 q8_0 / q4_0 / q5_0 /
 *   mxfp4): each of M = 1..8 rows gets bit for bit what it gets alone, for row lengths that end in a partial
 *   group of 8 or 4 blocks and odd row counts;
 * - the bf16-compute GEMV reads up to 8 inputs per pass over the weights (3 weight rows at a time for 7-8
 *   inputs, else 4): each of M = 1..15 rows, and each token of the fused experts layer, gets bit for bit what
 *   it gets alone (the serve engine's deterministic mode relies on it).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import { quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { Tensor } from "../../src/tensor.js";
import type { GateSpec } from "../../src/backends/backend.js";
import type { DType } from "../../src/dtype.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import { assertClose, configs, cpu, randomExpertsWeights, randTensor, rng } from "./helpers.js";
import { GEMV_ROWS, GEMV_ROWS_INT8 } from "./quant-gemm-helpers.js";

const bf = (t: Tensor) => ref.cast(ref.cast(t, "bfloat16"), "float32");

// Contiguous GEMV tasks (off by default): on for this file's process, read when the addon's runtime starts.
process.env.MOEKIT_GEMV_TASKS ??= "4";

test("GEMV products with thousands of output rows (tasks over many tiles) match the reference, float32 and bf16 compute", async () => {
  const r = rng(515);
  const f32 = cpu();
  const b16 = new CpuBackend({ compute: "bfloat16" });
  for (const { isa, threads } of configs()) {
    for (const b of [f32, b16]) {
      b.setIsa(isa as "avx512");
      b.setThreads(threads);
    }
    for (const [m, k, n] of [
      [1, 40, 4099],
      [5, 33, 2600],
    ] as [number, number, number][]) {
      const x = randTensor(r, [m, k]);
      for (const dt of ["bfloat16", "float32"] as DType[]) {
        const w = randTensor(r, [n, k], dt);
        const bias = randTensor(r, [n], dt);
        const what = `${isa}/${threads} ${m}x${k}x${n} ${dt}`;
        await assertClose(f32.linear(x, w, { bias }), ref.linear(x, w, { bias }), 2e-5, `linear ${what}`);
        await assertClose(b16.linear(x, w, { bias }), ref.linear(bf(x), w, { bias }), 2e-5, `bf16 linear ${what}`);
        // Rows gathered and scattered by id: two "experts" of n / 2 rows each.
        const ids = Int32Array.from({ length: m }, (_, i) => i % 2);
        const w2 = randTensor(r, [2, Math.floor(n / 2), k], dt);
        const idt = Tensor.from(ids, [m], "int32");
        await assertClose(f32.gatheredLinear(x, w2, idt), ref.gatheredLinear(x, w2, idt), 2e-5, `gatheredLinear ${what}`);
      }
    }
    // The fused experts layer with a wide gate|up (two experts of width 2 · 1100: gate epilogues over many tiles).
    const w = randomExpertsWeights(r, 3, 24, 1100, { kind: "concatenated", act: "silu" }, "bfloat16", false);
    const hidden = randTensor(r, [2, 24]);
    const topkIndex = Tensor.from(Int32Array.from([0, 2, 2, 1]), [2, 2], "int32");
    const topkWeights = randTensor(r, [2, 2]);
    const got = f32.fusedExperts({ hidden, topkIndex, topkWeights, projection: w.gateUp!, down: w.down, gate: w.gate });
    const ids = topkIndex.reshape([4]);
    const { order, position, offsets } = ref.sortByExpert(ids, 3);
    const p = ref.groupedLinear(hidden, w.gateUp!, offsets, { rowIndex: order, rowsPerInput: 2 });
    const y = ref.groupedLinear(ref.gate(p, w.gate), w.down, offsets);
    await assertClose(got, ref.combineSlots(y, topkWeights, position), 1e-4, `fused experts ${isa}/${threads}`);
  }
  f32.setIsa(f32.supportedIsas()[0]!);
  f32.setThreads(2);
});

test("quant GEMV: each of M = 1..8 input rows gets exactly its one-row result (several rows per weight pass)", async () => {
  const r = rng(8080);
  const b = cpu();
  const FORMATS: QuantFormat[] = ["q8_0", "q4_0", "q5_0", "mxfp4", "q4_k"];
  // Jobs of 2+ rows go to the int8 GEMM where it takes the format (quant_gemv_max_rows_int8 = 1): the GEMV's own
  // several-row passes are what this test checks, so it keeps every job of up to 8 rows on the GEMV.
  b.native.setGemvMaxRows(8, 256, 256, GEMV_ROWS, GEMV_ROWS);
  for (const { isa, threads } of configs()) {
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    for (const format of FORMATS) {
      // Row lengths in blocks of 32: 13 = 8 + 4 + 1 (every loop of the kernels), 5 = 4 + 1, 64; q4_k needs 256s.
      const ks = format === "q4_k" ? [256, 512] : [13 * 32, 5 * 32, 64 * 32];
      for (const k of ks) {
        const n = 37;
        const v = Float32Array.from({ length: n * k }, () => r() * 2 - 1);
        const w = new Tensor([n, k], format, quantizeRows(v, n, k, format));
        const x = randTensor(r, [8, k]);
        const xs = (await x.data()) as Float32Array;
        const alone: Float32Array[] = [];
        for (let i = 0; i < 8; i++) alone.push((await b.linear(Tensor.from(xs.slice(i * k, (i + 1) * k), [1, k]), w).data()) as Float32Array);
        for (let m = 2; m <= 8; m++) {
          const y = (await b.linear(Tensor.from(xs.slice(0, m * k), [m, k]), w).data()) as Float32Array;
          for (let i = 0; i < m; i++) assert.deepEqual(y.subarray(i * n, (i + 1) * n), alone[i], `${isa}/${threads} ${format} K=${k} M=${m} row ${i}`);
        }
      }
    }
  }
  b.native.setGemvMaxRows(8, 256, 256, GEMV_ROWS, GEMV_ROWS_INT8);
  b.setIsa(b.supportedIsas()[0]!);
  b.setThreads(2);
});

test("bf16 compute GEMV: each of M = 1..15 input rows gets exactly its one-row result (odd K tails, odd row counts)", async () => {
  const r = rng(1616);
  const b = new CpuBackend({ compute: "bfloat16" });
  for (const { isa, threads } of configs()) {
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    // K: a partial 32-step (13·32 + 5), exact steps (64, 2048), shorter than one step (21); N: tiles of 64
    // ending in blocks of 3 or 4 rows and a 1-row tail (37, 67, 130).
    for (const [k, n] of [
      [13 * 32 + 5, 37],
      [64, 67],
      [21, 130],
      [2048, 37],
    ] as [number, number][]) {
      const w = randTensor(r, [n, k], "bfloat16");
      const bias = randTensor(r, [n], "bfloat16");
      const xs = (await randTensor(r, [15, k]).data()) as Float32Array;
      const alone: Float32Array[] = [];
      for (let i = 0; i < 15; i++) alone.push((await b.linear(Tensor.from(xs.slice(i * k, (i + 1) * k), [1, k]), w, { bias }).data()) as Float32Array);
      for (let m = 2; m <= 15; m++) {
        const y = (await b.linear(Tensor.from(xs.slice(0, m * k), [m, k]), w, { bias }).data()) as Float32Array;
        for (let i = 0; i < m; i++) assert.deepEqual(y.subarray(i * n, (i + 1) * n), alone[i], `${isa}/${threads} K=${k} N=${n} M=${m} row ${i}`);
      }
      // ... and the right values (against the reference on bf16-rounded inputs).
      const x8 = Tensor.from(xs.slice(0, 8 * k), [8, k]);
      await assertClose(b.linear(x8, w, { bias }), ref.linear(bf(x8), w, { bias }), 2e-5, `${isa}/${threads} K=${k} N=${n} M=8`);
    }
  }
});

/** The fused experts layer on tokens [t0, t1) of hs [T, H], routed by ids / ws [T, K] (for lone-against-batch checks). */
function tokenRange(b: CpuBackend, w: ExpertsWeights, hs: Float32Array, ids: Int32Array, ws: Float32Array, H: number, K: number) {
  return (t0: number, t1: number) =>
    b
      .fusedExperts({
        hidden: Tensor.from(hs.slice(t0 * H, t1 * H), [t1 - t0, H]),
        topkIndex: Tensor.from(ids.slice(t0 * K, t1 * K), [t1 - t0, K], "int32"),
        topkWeights: Tensor.from(ws.slice(t0 * K, t1 * K), [t1 - t0, K]),
        projection: (w.gateUp ?? w.up)!,
        down: w.down,
        projectionBias: w.gateUpBias,
        downBias: w.downBias,
        gate: w.gate,
      })
      .data() as Promise<Float32Array>;
}

test("bf16 compute fused experts: each of 8 tokens decoding together gets exactly its lone result", async () => {
  const r = rng(2727);
  const b = new CpuBackend({ compute: "bfloat16" });
  const E = 6;
  const H = 96;
  const w = randomExpertsWeights(r, E, H, 80, { kind: "concatenated", act: "silu" }, "bfloat16", false);
  const T = 8;
  const K = 3;
  // Expert 5 is every token's (as a shared expert run as an always-selected one: 8 rows), the others 1-4 rows.
  const ids = Int32Array.from({ length: T * K }, (_, s) => (s % K === K - 1 ? 5 : (s * 7 + Math.floor(s / K)) % 5));
  const hs = (await randTensor(r, [T, H]).data()) as Float32Array;
  const ws = (await randTensor(r, [T, K]).data()) as Float32Array;
  for (const { isa, threads } of configs()) {
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const run = tokenRange(b, w, hs, ids, ws, H, K);
    const all = await run(0, T);
    for (let t = 0; t < T; t++) assert.deepEqual(all.subarray(t * H, (t + 1) * H), await run(t, t + 1), `${isa}/${threads} token ${t}`);
  }
});

test("fused experts: jobs of up to 8 slots run their gate after the products and give exactly what it gives inside a job of 12", async () => {
  // 12 tokens all routed to expert 1: its job (12 slots) runs the gate inside its products; each token alone (1 slot)
  // runs it after them on the sums kept in weight-row order. Every gate kind, with biases and a width (40) that ends
  // in a partial group of the gate's column order.
  const r = rng(4141);
  const E = 3;
  const H = 48;
  const I = 40;
  const T = 12;
  const gates: GateSpec[] = [
    { kind: "concatenated", act: "silu" },
    { kind: "interleaved", act: "silu" },
    { kind: "interleaved", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 7 } },
    { kind: "concatenated", act: "gelu" },
    { kind: "none", act: "silu" },
  ];
  const hs = (await randTensor(r, [T, H]).data()) as Float32Array;
  const ws = (await randTensor(r, [T, 2]).data()) as Float32Array;
  const ids = Int32Array.from({ length: T * 2 }, (_, s) => (s % 2 === 0 ? 1 : s % 3 === 0 ? 0 : 2));
  for (const [compute, dtype] of [["float32", "float32"], ["bfloat16", "bfloat16"]] as const) {
    const b = new CpuBackend({ compute });
    for (const gate of gates) {
      const w = randomExpertsWeights(r, E, H, I, gate, dtype, true);
      for (const { isa, threads } of configs()) {
        b.setIsa(isa as "avx512");
        b.setThreads(threads);
        const run = tokenRange(b, w, hs, ids, ws, H, 2);
        const all = await run(0, T);
        const what = `${compute} ${gate.kind}/${gate.act}${"clampedSwiglu" in gate && gate.clampedSwiglu ? "+clamp" : ""} ${isa}/${threads}`;
        for (let t = 0; t < T; t++) assert.deepEqual(await run(t, t + 1), all.subarray(t * H, (t + 1) * H), `${what} token ${t}`);
      }
    }
  }
});
