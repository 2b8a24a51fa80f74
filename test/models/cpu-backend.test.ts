import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir } from "./model-fixtures.js";
import { optionalCpu } from "../helpers/optional-cpu.js";

// The cpu backend inherits the model-layer ops from the reference backend and runs the hot products natively.
const { cpu, why } = await optionalCpu();

describe("whole models on the cpu backend", { skip: cpu ? false : `cpu backend unavailable: ${why}` }, () => {
  for (const family of F32.families) {
    it(`${family}: logits and greedy ids with eager, batched_mm and grouped_mm`, async () => {
      const ex = await expectedTensors(F32, family);
      const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: cpu! });
      const s = ex.input_ids!.shape[1]!;
      const prompt = Tensor.from(((await ex.input_ids!.data()) as Int32Array).slice(0, s), [1, s]);
      for (const impl of ["eager", "batched_mm", "grouped_mm"]) {
        model.setExpertsImplementation(impl);
        assertClose(await (await model.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 1e-4, `${family} ${impl}`);
        const out = (await (await model.generate(prompt, { maxNewTokens: 8, minNewTokens: 8 })).data()) as Int32Array;
        assert.deepEqual(Array.from(out.slice(s)), Array.from((await ex.greedy_ids!.data()) as Int32Array), `${family} ${impl} greedy`);
      }
    });
  }
});
