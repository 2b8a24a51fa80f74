/**
 * Weights as views of row segments on the reference backend: every product reads them through
 * weightRows (copying only rows at unaligned offsets) and gives results bit-equal to the contiguous
 * stack; host tensor plumbing (adopt, data) keeps a view a view.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { narrowFromF32, type DType } from "../../src/dtype.js";
import { Experts } from "../../src/experts/experts.js";
import { Tensor } from "../../src/tensor.js";
import { rng } from "../../src/bench/random.js";
import { viewOf, type ViewLayout } from "../helpers/views.js";

function rand(r: () => number, shape: number[], dtype: DType = "float32"): Tensor {
  const v = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
  return new Tensor(shape, dtype, narrowFromF32(v, dtype));
}

async function bitEqual(a: Tensor, b: Tensor, what: string): Promise<void> {
  assert.deepEqual([...a.shape], [...b.shape], what);
  assert.deepEqual(Array.from(await a.data()), Array.from(await b.data()), what);
}

test("reference products, embedding and experts on weight views equal the contiguous stack bit for bit", async () => {
  const r = rng(11);
  const [e, h, i, t] = [3, 12, 6, 5];
  for (const dtype of ["float32", "bfloat16", "float16"] as DType[]) {
    const gateUp = rand(r, [e, 2 * i, h], dtype);
    const down = rand(r, [e, h, i], dtype);
    const x = rand(r, [t, h]);
    const ids = Tensor.from(Int32Array.from({ length: 2 * t }, (_, s) => (s * 5) % e), [t, 2]);
    const flat = ids.reshape([2 * t]);
    for (const layout of ["perExpert", "gateUpParts", "unaligned", "perRow"] as ViewLayout[]) {
      const gv = viewOf(gateUp, layout);
      assert.ok(gv.isView);
      const what = `${dtype} ${layout}`;
      await bitEqual(ref.adopt(gv), gateUp, `adopt/data ${what}`);
      assert.ok(ref.adopt(gv).isView, "adopt keeps a view a view");
      await bitEqual(ref.linear(x, gv, { expert: 1 }), ref.linear(x, gateUp, { expert: 1 }), `linear ${what}`);
      await bitEqual(ref.gatheredLinear(x, gv, flat, { rowsPerInput: 2 }), ref.gatheredLinear(x, gateUp, flat, { rowsPerInput: 2 }), `gathered ${what}`);
      const { order, offsets } = ref.sortByExpert(flat, e);
      await bitEqual(ref.groupedLinear(x, gv, offsets, { rowIndex: order, rowsPerInput: 2 }), ref.groupedLinear(x, gateUp, offsets, { rowIndex: order, rowsPerInput: 2 }), `grouped ${what}`);
      const table = gateUp.reshape([e * 2 * i, h]);
      const tokens = Tensor.from(Int32Array.from([0, 13, 35]), [3]);
      await bitEqual(ref.embedding(viewOf(table, layout), tokens), ref.embedding(table, tokens), `embedding ${what}`);
      const weights = { gateUp, down, gate: { kind: "concatenated", act: "silu" } as const, numExperts: e, hiddenSize: h, intermediateSize: i };
      const views = { ...weights, gateUp: gv, down: viewOf(down, layout) };
      const topkWeights = rand(r, [t, 2]);
      for (const impl of ["eager", "batched_mm", "grouped_mm"]) {
        const want = await new Experts(weights, { backend: ref, implementation: impl }).forward(x, ids, topkWeights);
        await bitEqual(await new Experts(views, { backend: ref, implementation: impl }).forward(x, ids, topkWeights), want, `experts ${impl} ${what}`);
      }
    }
  }
});
