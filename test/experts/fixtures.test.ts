import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { loadMoeBlock } from "../../src/models/build/load-moe-block.js";
import { assertClose } from "../helpers/assert-close.js";
import { expected, firstSparseLayer, fixtureDir, TOP_K_FAMILIES, UNSORTED_TOP_K } from "../helpers/fixtures.js";
import { assertSameChoices, choices } from "../helpers/router-out.js";

const IMPLS = ["eager", "batched_mm", "grouped_mm"];

for (const family of TOP_K_FAMILIES) {
  describe(`MoE block of ${family} matches transformers`, () => {
    it("router reproduces top_k_index exactly and top_k_weights", async () => {
      const ex = await expected(family);
      const block = await loadMoeBlock(fixtureDir(family), firstSparseLayer(family), { backend: referenceBackend });
      const { index, weights } = block.route(ex.experts_in!);
      assert.deepEqual([...index.shape], [...ex.top_k_index!.shape]);
      if (UNSORTED_TOP_K.includes(family)) {
        assertSameChoices(await choices(index, weights), await choices(ex.top_k_index!, ex.top_k_weights!), 1e-4, "routing");
      } else {
        assert.deepEqual(Array.from(await index.data()), Array.from(await ex.top_k_index!.data()));
        assertClose(await weights.data(), await ex.top_k_weights!.data(), 1e-4, "top_k_weights");
      }
    });
    for (const impl of IMPLS) {
      it(`${impl}: experts.forward reproduces experts_out and forward(moe_in) reproduces moe_out`, async () => {
        const ex = await expected(family);
        const block = await loadMoeBlock(fixtureDir(family), firstSparseLayer(family), { backend: referenceBackend, expertsImplementation: impl });
        assert.equal(block.experts.implementation, impl);
        const out = await block.runExperts(ex.experts_in!, ex.top_k_index!, ex.top_k_weights!);
        assertClose(await out.data(), await ex.experts_out!.data(), 1e-4, "experts_out");
        const moe = await block.forward(ex.moe_in!);
        assertClose(await moe.data(), await ex.moe_out!.data(), 1e-4, "moe_out");
      });
    }
  });
}
