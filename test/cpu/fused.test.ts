/**
 * The fused experts layer (CpuBackend.fusedExperts) and the
 * bfloat16 compute mode, against the reference backend: every instruction set × 1..4 threads, odd
 * sizes, T = 1, K = 1, empty experts, a hot expert (both GEMV and packed schedules, both packed
 * sub-schedules), every gate kind, biases; bf16 compute against a bf16-rounded reference.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { GateSpec } from "../../src/backends/backend.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import type { DType } from "../../src/dtype.js";
import { Experts } from "../../src/experts/experts.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose, configs, cpu, nativeW, randomExpertsWeights as weights, randTensor, rng, threadCounts } from "./helpers.js";

const GATES: GateSpec[] = [
  { kind: "concatenated", act: "silu" },
  { kind: "interleaved", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 7 } },
  { kind: "interleaved", act: "silu" },
  { kind: "none", act: "gelu" },
  { kind: "concatenated", act: "gelu_pytorch_tanh" },
  { kind: "concatenated", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 0.5 } },
];

/** [T, K, routing]: distinct top-k, every slot on experts (hot, 1), or with only some experts hit. */
type Case = [number, number, "random" | "hot" | "few"];
const CASES: Case[] = [
  [1, 1, "random"],
  [1, 4, "random"],
  [3, 2, "few"],
  [9, 3, "random"],
  [40, 2, "random"],
  [20, 2, "hot"],
  [180, 1, "hot"], // a 180-row segment: the packed schedule that packs the weight tile once
];

/** The cpu's fused layer on experts weights in the fused layout. */
function fused(b: CpuBackend, w: ExpertsWeights, hidden: Tensor, topkIndex: Tensor, topkWeights: Tensor): Tensor {
  const projection = (w.gateUp ?? w.up)!;
  return b.fusedExperts({ hidden, topkIndex, topkWeights, projection, down: w.down, projectionBias: w.gateUpBias, downBias: w.downBias, gate: w.gate });
}

function routing(r: () => number, t: number, k: number, e: number, kind: Case[2]): Int32Array {
  const out = new Int32Array(t * k);
  for (let tok = 0; tok < t; tok++) {
    const pool = kind === "few" ? [0, 2, 5] : [...Array(e).keys()];
    for (let j = 0; j < k; j++) {
      out[tok * k + j] = kind === "hot" ? (j === 0 ? 4 : 1) : pool.splice(Math.floor(r() * pool.length), 1)[0]!;
    }
  }
  return out;
}

for (const { isa, threads } of configs()) {
  test(`fused experts layer matches reference (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(500 + threads);
    for (const [gi, gate] of GATES.entries()) {
      // Odd sizes: H = 37 / 48, I = 21 (a partial gate group for every kernel width) / 40.
      const [h, i] = gi % 2 === 0 ? [37, 21] : [48, 40];
      const dtype: DType = (["float32", "bfloat16", "float16"] as const)[gi % 3]!;
      const w = weights(r, 6, h, i, gate, dtype, gi !== 0);
      for (const [t, k, kind] of CASES) {
        const hidden = randTensor(r, [t, h]);
        const idx = Tensor.from(routing(r, t, k, 6, kind), [t, k]);
        const wts = randTensor(r, [t, k]);
        const expected = await new Experts(w, { backend: ref, implementation: "eager" }).forward(hidden, idx, wts);
        await assertClose(fused(b, w, hidden, idx, wts), expected, 1e-4, `fused ${JSON.stringify(gate)} ${dtype} T=${t} K=${k} ${kind}`);
      }
    }
  });
}

test("fused layer: larger K and I cross the K blocks and the streamed/packed schedules", async () => {
  const b = cpu();
  const r = rng(77);
  for (const isa of b.supportedIsas()) {
    b.setIsa(isa);
    b.setThreads(2);
    for (const dtype of ["float32", "bfloat16"] as const) {
      const w = weights(r, 5, 600, 90, GATES[0]!, dtype, true);
      for (const [t, k, kind] of [
        [2, 2, "random"],
        [60, 3, "random"],
        [130, 2, "hot"],
      ] as Case[]) {
        const hidden = randTensor(r, [t, 600]);
        const idx = Tensor.from(routing(r, t, k, 5, kind), [t, k]);
        const wts = randTensor(r, [t, k]);
        const expected = await new Experts(w, { backend: ref, implementation: "grouped_mm" }).forward(hidden, idx, wts);
        await assertClose(fused(b, w, hidden, idx, wts), expected, 1e-4, `${isa} ${dtype} T=${t} K=${k} ${kind}`);
      }
    }
  }
});

// ---- bfloat16 compute ---------------------------------------------------------------------------

const bf = (t: Tensor) => ref.cast(ref.cast(t, "bfloat16"), "float32");

/** The bf16-compute experts layer on the reference backend: each product's input rounded to bfloat16. */
function bf16Reference(w: ExpertsWeights, hidden: Tensor, idx: Tensor, wts: Tensor): Tensor {
  const k = idx.shape[1]!;
  const ids = idx.reshape([idx.size]);
  const { order, position, offsets } = ref.sortByExpert(ids, w.numExperts);
  const p = ref.groupedLinear(bf(hidden), (w.gateUp ?? w.up)!, offsets, { bias: w.gateUpBias, rowIndex: order, rowsPerInput: k });
  const a = bf(ref.gate(p, w.gate));
  const y = ref.groupedLinear(a, w.down, offsets, { bias: w.downBias });
  return ref.combineSlots(y, wts, position);
}

test("bfloat16 compute: experts layer within bf16 tolerance of a bf16-rounded reference, every isa and 1..4 threads", async () => {
  const r = rng(4242);
  const b = new CpuBackend({ compute: "bfloat16" });
  assert.equal(b.compute, "bfloat16");
  for (const { isa, threads } of configs()) {
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    for (const [gi, gate] of GATES.slice(0, 4).entries()) {
      const [h, i] = gi % 2 === 0 ? [37, 21] : [600, 40];
      const w = weights(r, 6, h, i, gate, "bfloat16", gi % 2 === 1);
      for (const [t, k, kind] of CASES) {
        const hidden = randTensor(r, [t, h]);
        const idx = Tensor.from(routing(r, t, k, 6, kind), [t, k]);
        const wts = randTensor(r, [t, k]);
        const expected = bf16Reference(w, hidden, idx, wts);
        for (const impl of ["fused", "grouped_mm", "eager"]) {
          const got = impl === "fused" ? fused(b, w, hidden, idx, wts) : await new Experts(w, { backend: b, implementation: impl }).forward(hidden, idx, wts);
          // Same rounded inputs: differences come from float32 summation order and from an activation
          // that lands on the other side of a bf16 rounding boundary (1 bf16 ulp, 2^-8 relative).
          await assertClose(got, expected, 8e-3, `bf16 ${isa}/${threads} ${impl} ${JSON.stringify(gate)} T=${t} K=${k} ${kind}`);
        }
      }
    }
  }
  b.setIsa(b.supportedIsas()[0]!);
  b.setThreads(2);
});

test("bfloat16 compute: linear, groupedLinear, gatheredLinear against bf16-rounded inputs", async () => {
  const r = rng(99);
  const b = new CpuBackend({ compute: "bfloat16" });
  for (const isa of b.supportedIsas()) {
    b.setIsa(isa);
    for (const threads of threadCounts()) {
      b.setThreads(threads);
      for (const [m, k, n] of [
        [1, 1, 1],
        [3, 33, 45],
        [20, 1025, 70],
        [200, 300, 33],
        [45, 512, 75], // even K, 16+ rows: inputs packed token-major (tokens 32 + 13 left to the dot kernel)
      ] as [number, number, number][]) {
        const x = randTensor(r, [m, k]);
        for (const dt of ["bfloat16", "float32", "float16"] as DType[]) {
          const w = randTensor(r, [n, k], dt);
          const bias = randTensor(r, [n], dt);
          // Only the activations are rounded: float32 / float16 weights multiply as stored.
          await assertClose(b.linear(x, w, { bias }), ref.linear(bf(x), w, { bias }), 2e-5 * Math.sqrt(k), `linear bf16 ${isa}/${threads} ${m}x${k}x${n} ${dt}`);
        }
        const w3 = randTensor(r, [3, n, k], "bfloat16");
        const ids = Tensor.from(Int32Array.from({ length: m }, (_, s) => s % 3), [m]);
        await assertClose(b.gatheredLinear(x, w3, ids), ref.gatheredLinear(bf(x), w3, ids), 2e-5 * Math.sqrt(k), `gathered bf16 ${isa}/${threads}`);
        const offsets = Tensor.from(Int32Array.from([0, Math.floor(m / 2), Math.floor(m / 2), m]), [4]);
        await assertClose(b.groupedLinear(x, w3, offsets), ref.groupedLinear(bf(x), w3, offsets), 2e-5 * Math.sqrt(k), `grouped bf16 ${isa}/${threads}`);
      }
    }
  }
  assert.throws(() => new CpuBackend({ compute: "float16" as "float32" }), /compute must be "float32" or "bfloat16"/);
});

// ---- bad arguments ------------------------------------------------------------------------------

test("fusedExperts rejects bad ids and short buffers, in TS and in the addon", () => {
  const b = cpu();
  const r = rng(5);
  const w = weights(r, 3, 8, 4, GATES[0]!, "float32", false);
  const hidden = randTensor(r, [2, 8]);
  const wts = randTensor(r, [2, 2]);
  const args = (ids: number[]) => ({ hidden, topkIndex: Tensor.from(Int32Array.from(ids), [2, 2]), topkWeights: wts, projection: w.gateUp!, down: w.down, gate: w.gate });
  assert.throws(() => b.fusedExperts(args([0, 1, 3, 0])), /fusedExperts: expert id 3 at slot 2 outside \[0, 3\)/);
  assert.throws(() => b.fusedExperts(args([0, -1, 2, 0])), /expert id -1 at slot 1 outside/);
  assert.throws(() => b.fusedExperts({ ...args([0, 1, 2, 0]), down: randTensor(r, [3, 7, 4]) }), /down must have shape \[3, 8, 4\], got \[3, 7, 4\]/);
  const n = b.native;
  const x = new Float32Array(16);
  const gu = w.gateUp!.storage as Float32Array;
  const dn = w.down.storage as Float32Array;
  const out = new Float32Array(16);
  const base = { x, t: 2, h: 8, topk: 2, weights: new Float32Array(4), experts: 3, inter: 4, gateUp: nativeW(gu, 24, 8), down: nativeW(dn, 24, 4), gateKind: 0, act: 0, out };
  const call = (ids: number[], over: Partial<typeof base> = {}) => n.fusedExperts({ ...base, ids: Int32Array.from(ids), ...over });
  call([0, 1, 2, 0]);
  assert.throws(() => call([0, 1, 7, 0]), /moekit native fusedExperts: expert id 7 at slot 2 outside \[0, 3\)/);
  assert.throws(() => call([0, 1, 2, -5]), /expert id -5 at slot 3/);
  assert.throws(() => call([0, 1]), /ids has 2 elements, needs 4/);
  assert.throws(() => call([0, 1, 2, 0], { out: new Float32Array(15) }), /out has 15 elements, needs 16/);
  assert.throws(() => call([0, 1, 2, 0], { gateUp: nativeW(gu.subarray(1), 24, 8) }), /gateUp.segments\[0\]: 24 rows of 32 bytes from byte 0 run past its 764-byte buffer/);
  assert.throws(() => call([0, 1, 2, 0], { experts: 4 }), /gateUp has 24 rows, needs 32/);
  assert.throws(() => call([0, 1, 2, 0], { inter: 3 }), /gateUp has 24 rows, needs 18/);
  assert.throws(() => n.fusedExperts({ ...base, ids: Int32Array.from([0, 1, 2, 0]), compute: 2 }), /compute = 2/);
  assert.throws(() => n.fusedExperts({ ...base, ids: Int32Array.from([0, 1, 2, 0]), gateKind: 2, gateUp: nativeW(gu, 12, 8), clamp: 1, alpha: 1, limit: 7 }), /clamped swiglu needs a gated projection/);
});
