/**
 * Weights as views of row segments on the cpu backend: linear, groupedLinear, gatheredLinear, embedding
 * and the fused experts layer read them in place and give results bit-equal to the contiguous stack,
 * for every instruction set, weight format, compute mode and view layout (per expert; gate / up parts;
 * odd byte offsets; a segment per row, which the addon binds through a row-run table per expert slice).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import type { DType } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";
import { viewOf, type ViewLayout } from "../helpers/views.js";
import { cpu, randTensor, rng } from "./helpers.js";

const LAYOUTS: ViewLayout[] = ["perExpert", "gateUpParts", "unaligned", "perRow"];

function assertBitEqual(a: Tensor, b: Tensor, what: string): void {
  assert.deepEqual([...a.shape], [...b.shape], `${what}: shape`);
  const av = a.storage as Float32Array;
  const bv = b.storage as Float32Array;
  for (let i = 0; i < av.length; i++) if (!Object.is(av[i], bv[i])) assert.fail(`${what}: element ${i}: ${av[i]} on the view, ${bv[i]} on the stack`);
}

test("products and the fused layer on weight views equal the contiguous stack bit for bit (every isa, format, compute)", () => {
  const r = rng(321);
  const [e, h, i] = [4, 72, 40];
  const f32 = cpu();
  const bf = new CpuBackend({ compute: "bfloat16" });
  for (const isa of f32.supportedIsas()) {
    for (const b of [f32, bf]) {
      b.setIsa(isa);
      b.setThreads(2);
      for (const dtype of ["float32", "bfloat16", "float16"] as DType[]) {
        const gateUp = randTensor(r, [e, 2 * i, h], dtype, 0.2);
        const down = randTensor(r, [e, h, i], dtype, 0.2);
        const gateUpBias = randTensor(r, [e, 2 * i], dtype);
        for (const layout of LAYOUTS) {
          const gv = viewOf(gateUp, layout);
          const dv = viewOf(down, layout);
          const what = `${isa} ${b.compute} ${dtype} ${layout}`;
          for (const t of [1, 40, 300]) {
            const x = randTensor(r, [t, h]);
            // token t's experts: hot expert 2 first, then a spread (segments of 1..t rows)
            const ids = Int32Array.from({ length: t * 2 }, (_, s) => (s % 2 === 0 ? 2 : (s * 7) % e));
            const topkIndex = Tensor.from(ids, [t, 2]);
            const topkWeights = randTensor(r, [t, 2]);
            const flat = Tensor.from(ids, [t * 2]);
            const args = { hidden: x, topkIndex, topkWeights, down, gate: { kind: "concatenated", act: "silu" } as const };
            assertBitEqual(b.fusedExperts({ ...args, projection: gv, down: dv }), b.fusedExperts({ ...args, projection: gateUp }), `fused ${what} T=${t}`);
            assertBitEqual(
              b.fusedExperts({ ...args, projection: gv, down: dv, projectionBias: viewOf(gateUpBias, layout) }),
              b.fusedExperts({ ...args, projection: gateUp, projectionBias: gateUpBias }),
              `fused+bias ${what} T=${t}`,
            );
            assertBitEqual(b.gatheredLinear(x, gv, flat, { rowsPerInput: 2 }), b.gatheredLinear(x, gateUp, flat, { rowsPerInput: 2 }), `gathered ${what} T=${t}`);
            const { order, offsets } = b.sortByExpert(flat, e);
            const opts = { rowIndex: order, rowsPerInput: 2, bias: gateUpBias };
            assertBitEqual(b.groupedLinear(x, gv, offsets, opts), b.groupedLinear(x, gateUp, offsets, opts), `grouped ${what} T=${t}`);
            assertBitEqual(b.linear(x, gv, { expert: 3 }), b.linear(x, gateUp, { expert: 3 }), `linear expert ${what} T=${t}`);
          }
          const plain = gateUp.reshape([e * 2 * i, h]);
          const x = randTensor(r, [5, h]);
          assertBitEqual(b.linear(x, viewOf(plain, layout)), b.linear(x, plain), `linear [N, K] ${what}`);
          const ids = Tensor.from(Int32Array.from([0, 7, 159, 3]), [2, 2]);
          assertBitEqual(b.embedding(viewOf(plain, layout), ids), b.embedding(plain, ids), `embedding ${what}`);
        }
      }
    }
  }
  f32.setIsa(f32.supportedIsas()[0]!);
});
