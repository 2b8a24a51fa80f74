/** The three experts implementations on the cpu backend agree with the reference backend. */
import { test } from "node:test";
import type { GateSpec } from "../../src/backends/backend.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { Experts } from "../../src/experts/experts.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose, cpu, randomExpertsWeights as weights, randInts, randTensor, rng } from "./helpers.js";

const GATES: GateSpec[] = [
  { kind: "concatenated", act: "silu" },
  { kind: "interleaved", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 7 } },
  { kind: "none", act: "gelu" },
];

for (const dtype of ["float32", "bfloat16", "float16"] as const) {
  test(`experts implementations on cpu match reference (${dtype} weights)`, async () => {
    const b = cpu();
    b.setIsa(b.supportedIsas()[0]!);
    b.setThreads(2);
    const r = rng(dtype.length);
    for (const [gi, gate] of GATES.entries()) {
      const w = weights(r, 6, 48, 40, gate, dtype, gi !== 0);
      for (const [t, k, skew] of [
        [1, 2, false],
        [5, 2, false],
        [37, 3, false],
        [20, 2, true],
      ] as const) {
        const hidden = randTensor(r, [t, 48]);
        // skew: every token routes to experts 4 and 1 (one hot expert, others empty)
        const ids = skew ? Int32Array.from({ length: t * k }, (_, s) => (s % k === 0 ? 4 : 1)) : distinctTopK(r, t, k, 6);
        const idx = Tensor.from(ids, [t, k]);
        const wts = randTensor(r, [t, k]);
        const expected = await new Experts(w, { backend: ref, implementation: "eager" }).forward(hidden, idx, wts);
        for (const impl of ["eager", "batched_mm", "grouped_mm"]) {
          const got = await new Experts(w, { backend: b, implementation: impl }).forward(hidden, idx, wts);
          await assertClose(got, expected, 1e-4, `${impl} ${JSON.stringify(gate)} T=${t} K=${k}${skew ? " skewed" : ""}`);
        }
      }
    }
  });
}

function distinctTopK(r: () => number, t: number, k: number, e: number): Int32Array {
  const out = new Int32Array(t * k);
  for (let tok = 0; tok < t; tok++) {
    const pool = [...Array(e).keys()];
    for (let j = 0; j < k; j++) out[tok * k + j] = pool.splice(Math.floor(r() * pool.length), 1)[0]!;
  }
  return out;
}

test("a T = 1 decode step with random ids over 60 experts", async () => {
  const b = cpu();
  b.setThreads(2);
  const r = rng(99);
  const w = weights(r, 60, 64, 24, GATES[0]!, "bfloat16", false);
  const hidden = randTensor(r, [1, 64]);
  const idx = Tensor.from(randInts(r, 4, 60), [1, 4]);
  const wts = randTensor(r, [1, 4]);
  const expected = await new Experts(w, { backend: ref, implementation: "grouped_mm" }).forward(hidden, idx, wts);
  for (const impl of ["eager", "batched_mm", "grouped_mm"]) {
    await assertClose(await new Experts(w, { backend: b, implementation: impl }).forward(hidden, idx, wts), expected, 1e-4, impl);
  }
});
