/**
 * The fixture logits suite on webgpu: every family in test/fixtures/transformers, with each of the
 * experts implementations eager, batched_mm and grouped_mm, loaded onto the webgpu backend: forward
 * logits within 1e-4 of max|ref| of transformers' logits and greedy generation of 8 tokens equal to
 * greedy_ids. Skips (printing why) when no WebGPU adapter can be created.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir } from "../models/model-fixtures.js";
import { webgpuOrSkip } from "./setup.js";

const IMPLS = ["eager", "batched_mm", "grouped_mm"];
const { backend: gpu, skip } = await webgpuOrSkip();

/** Row 0 of input_ids as its own [1, S] prompt. */
async function firstRow(ids: Tensor): Promise<Tensor> {
  const s = ids.shape[1]!;
  return Tensor.from(((await ids.data()) as Int32Array).slice(0, s), [1, s]);
}

if (skip) {
  it("webgpu fixture models", { skip }, () => {});
} else {
  const b = gpu!;
  after(() => b.destroy());
  for (const family of F32.families) {
    describe(`webgpu: ${family} whole model matches transformers`, () => {
      for (const impl of IMPLS) {
        it(`${impl}: forward logits and greedy generation of 8 tokens`, async () => {
          const ex = await expectedTensors(F32, family);
          const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: b, expertsImplementation: impl });
          assert.equal(model.getExpertsImplementation(), impl);
          const { logits } = await model.forward(ex.input_ids!);
          assert.equal(logits.backend, b);
          assert.deepEqual([...logits.shape], [...ex.logits!.shape]);
          assertClose(await logits.data(), await ex.logits!.data(), 1e-4, `${family} ${impl} logits`);
          const prompt = await firstRow(ex.input_ids!);
          const out = await model.generate(prompt, { maxNewTokens: 8, minNewTokens: 8, doSample: false });
          const ids = (await out.data()) as Int32Array;
          assert.deepEqual(Array.from(ids.slice(prompt.shape[1]!)), Array.from((await ex.greedy_ids!.data()) as Int32Array), `${family} ${impl} greedy_ids`);
        });
      }
    });
  }

  describe("webgpu: a whole forward stays on the GPU", () => {
    for (const impl of ["batched_mm", "grouped_mm"]) {
      it(`${impl}: prefill and a cached decode step are one command buffer each, submitted at read`, async () => {
        const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "deepseek_v3"), { backend: b, expertsImplementation: impl });
        await b.sync();
        const cache = model.newCache();
        let before = b.runtime.submitted;
        const prefill = await model.forward(Tensor.from(Int32Array.from([1, 2, 3, 4, 5]), [1, 5]), { cache, logitsToKeep: 1 });
        assert.equal(b.runtime.submitted, before, "nothing submitted before the logits are read");
        await prefill.logits.data();
        assert.equal(b.runtime.submitted, before + 1, "prefill: one command buffer");
        before = b.runtime.submitted;
        const step = await model.forward(Tensor.from(Int32Array.from([6]), [1, 1]), { cache, logitsToKeep: 1 });
        await step.logits.data();
        assert.equal(b.runtime.submitted, before + 1, "decode step: one command buffer");
      });
    }
  });
}
