/** Native gates and slot bookkeeping against the reference backend. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Activation, GateSpec } from "../../src/backends/backend.js";
import { ACTIVATIONS } from "../../src/backends/activation.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose, configs, cpu, randInts, randTensor, rng } from "./helpers.js";

for (const { isa, threads } of configs()) {
  test(`gate matches reference for every kind and activation (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(10 + threads);
    const specs: GateSpec[] = [
      ...ACTIVATIONS.map((act): GateSpec => ({ kind: "concatenated", act })),
      ...ACTIVATIONS.map((act): GateSpec => ({ kind: "none", act })),
      { kind: "interleaved", act: "silu" },
      { kind: "interleaved", act: "silu" as Activation, clampedSwiglu: { alpha: 1.702, limit: 7 } },
      { kind: "concatenated", act: "silu" as Activation, clampedSwiglu: { alpha: 1.702, limit: 7 } },
    ];
    for (const spec of specs) {
      for (const [s, inter] of [
        [1, 1],
        [3, 37],
        [70, 48],
      ] as const) {
        const width = spec.kind === "none" ? inter : 2 * inter;
        const p = randTensor(r, [s, width], "float32", 9);
        await assertClose(b.gate(p, spec), ref.gate(p, spec), 2e-6, `gate ${JSON.stringify(spec)} ${s}x${width}`, 1);
      }
    }
  });

  test(`combineSlots, sortByExpert, gatherRows, accumulateRows match reference (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(20 + threads);
    for (const [t, k, h] of [
      [1, 1, 1],
      [5, 4, 37],
      [300, 2, 64],
    ] as const) {
      const y = randTensor(r, [t * k, h]);
      const w = randTensor(r, [t, k]);
      await assertClose(b.combineSlots(y, w), ref.combineSlots(y, w), 1e-6, `combine ${t}x${k}x${h}`);
      const ids = Tensor.from(randInts(r, t * k, 7), [t * k]);
      const sb = b.sortByExpert(ids, 7);
      const sr = ref.sortByExpert(ids, 7);
      for (const key of ["order", "position", "offsets"] as const) {
        assert.deepEqual(await sb[key].data(), await sr[key].data(), `sortByExpert ${key}`);
        assert.equal(sb[key].dtype, "int32");
      }
      await assertClose(b.combineSlots(y, w, sb.position), ref.combineSlots(y, w, sr.position), 1e-6, "combine with slotRow");
      const rows = Tensor.from(randInts(r, 2 * t, t * k), [2 * t]);
      await assertClose(b.gatherRows(y, rows), ref.gatherRows(y, rows), 0, "gatherRows");
      const outB = b.zeros([t, h]);
      const outR = ref.zeros([t, h]);
      const acc = randTensor(r, [2 * t, h]);
      const accRows = Tensor.from(randInts(r, 2 * t, t), [2 * t]);
      const accW = randTensor(r, [2 * t]);
      b.accumulateRows(outB, acc, accRows, accW);
      ref.accumulateRows(outR, acc, accRows, accW);
      await assertClose(outB, outR, 1e-6, "accumulateRows");
    }
    // Skewed and empty experts in the sort.
    const allOne = Tensor.from(new Int32Array(9).fill(3), [9]);
    const s1 = b.sortByExpert(allOne, 5);
    assert.deepEqual([...(await s1.offsets.data())], [0, 0, 0, 0, 9, 9]);
    assert.deepEqual([...(await s1.order.data())], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const empty = b.sortByExpert(Tensor.from(new Int32Array(0), [0]), 3);
    assert.deepEqual([...(await empty.offsets.data())], [0, 0, 0, 0]);
  });
}

test("gate on a bfloat16 projection widens it first", async () => {
  const b = cpu();
  const p = randTensor(rng(5), [4, 20], "bfloat16", 4);
  const spec: GateSpec = { kind: "concatenated", act: "silu" };
  await assertClose(b.gate(p, spec), ref.gate(p, spec), 2e-6, "gate bf16");
});
