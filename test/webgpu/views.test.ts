/**
 * Weights as views of row segments on the webgpu backend: a view uploads by copying its segments straight
 * into the device buffer(s) — unsplit, and split into chunks of whole experts or of rows — giving the same
 * device values as the contiguous stack (read back bit for bit), so the products on a view equal those on
 * the stack (within webgpu's tolerance of the reference; bit-equal to the stack on the same device).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import type { DType } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";
import { WebGpuBackend } from "../../src/backends/webgpu/index.js";
import type { GpuStorage } from "../../src/backends/webgpu/runtime.js";
import { assertClose } from "../helpers/assert-close.js";
import { viewOf, type ViewLayout } from "../helpers/views.js";
import { ints, randint, randn, rng, webgpuOrSkip } from "./setup.js";

const { backend: gpu, skip } = await webgpuOrSkip();
const LAYOUTS: ViewLayout[] = ["perExpert", "gateUpParts", "unaligned", "perRow"];

if (skip) {
  it("webgpu weight views", { skip }, () => {});
} else {
  const base = gpu!;
  after(() => base.destroy());
  // [5, 16, 12] f32 is 768 B per expert: 2 KiB chunks hold two experts, 512 B chunks split experts by rows.
  const backends = [
    ["unsplit", base],
    ["expert chunks", new WebGpuBackend(base.device, { maxChunkBytes: 2048 })],
    ["row chunks", new WebGpuBackend(base.device, { maxChunkBytes: 512 })],
  ] as const;

  describe("webgpu: weight views upload segment by segment and compute as the stack", () => {
    for (const [name, b] of backends) {
      for (const dtype of ["float32", "float16", "bfloat16"] as DType[]) {
        it(`${name}, ${dtype}`, async () => {
          const r = rng(dtype.length * 7 + name.length);
          const [e, n, k, s] = [5, 16, 12, 9];
          const w = randn(r, [e, n, k], 0.5, dtype);
          const gw = b.adopt(w);
          const x = randn(r, [s, k], 1);
          const ids = ints(randint(r, 2 * s, e));
          const sorted = ref.sortByExpert(ids, e);
          for (const layout of LAYOUTS) {
            const view = viewOf(w, layout);
            const gv = b.adopt(view);
            assert.equal(!!(gv.storage as GpuStorage).chunked, !!(gw.storage as GpuStorage).chunked, "same layout on the device");
            assert.deepEqual(Array.from(await b.read(gv)), Array.from(await b.read(gw)), `${layout}: device values`);
            const what = `${name} ${dtype} ${layout}`;
            for (const m of [1, 7]) {
              const xm = randn(r, [m, k], 1);
              assertClose(await b.linear(xm, gv, { expert: 3 }).data(), await ref.linear(xm, w, { expert: 3 }).data(), 1e-4, `linear m=${m} ${what}`);
            }
            assertClose(await b.gatheredLinear(x, gv, ids, { rowsPerInput: 2 }).data(), await ref.gatheredLinear(x, w, ids, { rowsPerInput: 2 }).data(), 1e-4, `gathered ${what}`);
            const grouped = b.groupedLinear(x, gv, sorted.offsets, { rowIndex: sorted.order, rowsPerInput: 2 });
            assertClose(await grouped.data(), await ref.groupedLinear(x, w, sorted.offsets, { rowIndex: sorted.order, rowsPerInput: 2 }).data(), 1e-4, `grouped ${what}`);
            assert.deepEqual(
              Array.from(await grouped.data()),
              Array.from(await b.groupedLinear(x, gw, sorted.offsets, { rowIndex: sorted.order, rowsPerInput: 2 }).data()),
              `grouped ${what}: as the stack`,
            );
            const table = w.reshape([e * n, k]);
            const tokens = Tensor.from(Int32Array.from([0, 17, 79]), [3]);
            assertClose(await b.embedding(viewOf(table, layout), tokens).data(), await ref.embedding(table, tokens).data(), 0, `embedding ${what}`);
          }
        });
      }
    }
  });
}
