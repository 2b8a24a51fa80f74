import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir } from "./model-fixtures.js";

const IMPLS = ["eager", "batched_mm", "grouped_mm"];

/** Row 0 of input_ids as its own [1, S] prompt. */
async function firstRow(ids: Tensor): Promise<Tensor> {
  const s = ids.shape[1]!;
  return Tensor.from(((await ids.data()) as Int32Array).slice(0, s), [1, s]);
}

for (const family of F32.families) {
  describe(`${family}: whole model matches transformers`, () => {
    for (const impl of IMPLS) {
      it(`${impl}: forward logits and greedy generation of 8 tokens`, async () => {
        const ex = await expectedTensors(F32, family);
        const warnings: string[] = [];
        const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: referenceBackend, expertsImplementation: impl, onWarning: (m) => warnings.push(m) });
        assert.equal(model.getExpertsImplementation(), impl);
        assert.deepEqual(warnings, [], "every tensor is used (or left out by design)");
        const { logits } = await model.forward(ex.input_ids!);
        assert.deepEqual([...logits.shape], [...ex.logits!.shape]);
        assertClose(await logits.data(), await ex.logits!.data(), 1e-4, `${family} ${impl} logits`);
        const prompt = await firstRow(ex.input_ids!);
        // transformers produced greedy_ids with min_new_tokens = 8 (eos suppressed for 8 steps).
        const out = await model.generate(prompt, { maxNewTokens: 8, minNewTokens: 8, doSample: false });
        const ids = (await out.data()) as Int32Array;
        assert.deepEqual(Array.from(ids.slice(0, prompt.shape[1]!)), Array.from((await prompt.data()) as Int32Array), "prompt kept");
        assert.deepEqual(Array.from(ids.slice(prompt.shape[1]!)), Array.from((await ex.greedy_ids!.data()) as Int32Array));
      });
    }
  });
}
