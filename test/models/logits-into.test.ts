/**
 * Logits written into a caller's buffer (ForwardOptions.logitsInto, Backend.linear's `into`): the same values as
 * a fresh array whatever the buffer held before, returned as a view of it; the host backends take it, a short
 * buffer is refused by name.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cpuBackendAvailable, CpuBackend } from "../../src/backends/cpu/index.js";
import { ReferenceBackend } from "../../src/backends/reference/index.js";
import { quantizeTensor } from "../../src/models/build/quantize.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { fixtureDir } from "../helpers/fixtures.js";
import { randTensor, rng } from "../cpu/helpers.js";

const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe("logits into a caller's buffer", () => {
  it("cpu linear: every value overwritten (a buffer of NaN), bf16 / float32 / q8_0 weights, GEMV and GEMM rows, with a bias", { skip: !cpuBackendAvailable() }, () => {
    const r = rng(21);
    for (const compute of ["float32", "bfloat16"] as const) {
      const b = new CpuBackend({ threads: 2, compute });
      const weights = [randTensor(r, [96, 64], "bfloat16"), randTensor(r, [96, 64]), quantizeTensor(randTensor(r, [96, 64]), "q8_0", "w")];
      const bias = randTensor(r, [96]);
      for (const w of weights) {
        for (const m of [1, 3, 8, 40]) {
          const x = randTensor(r, [m, 64]);
          const want = b.linear(x, w, { bias }).hostStorage() as Float32Array;
          const into = new Float32Array(m * 96).fill(NaN);
          const got = b.linear(x, w, { bias, into });
          assert.equal(got.hostStorage(), into, "the result is a view of the buffer given");
          assert.deepEqual(bitsOf(into), bitsOf(want), `${w.dtype}, ${m} rows, ${compute} compute`);
        }
      }
    }
  });

  for (const [name, make] of [
    ["reference", () => new ReferenceBackend()],
    ["cpu", () => new CpuBackend({ threads: 2 })],
  ] as const) {
    it(`forward (${name}): the logits equal a forward without the buffer, a short buffer is refused`, { skip: name === "cpu" && !cpuBackendAvailable() }, async () => {
      const model = await AutoModelForCausalLM.fromPretrained(fixtureDir("qwen2_moe"), { backend: make() });
      const ids = Tensor.from(Int32Array.from([3, 17, 40, 2, 9, 11]), [2, 3]);
      const plain = (await model.forward(ids, { logitsToKeep: 1 })).logits;
      const buf = new Float32Array(2 * model.vocabSize + 5).fill(NaN);
      const { logits } = await model.forward(ids, { logitsToKeep: 1, logitsInto: buf });
      assert.deepEqual(logits.shape, plain.shape);
      assert.deepEqual(await logits.data(), await plain.data());
      if (name === "cpu") assert.deepEqual(bitsOf(buf.subarray(0, 2 * model.vocabSize)), bitsOf((await plain.data()) as Float32Array), "written into the buffer");
      await assert.rejects(model.forward(ids, { logitsToKeep: 1, logitsInto: new Float32Array(model.vocabSize) }), new RegExp(`forward: logitsInto holds ${model.vocabSize} floats; these logits need ${2 * model.vocabSize}`));
      await assert.rejects(model.forward(ids, { logitsInto: [1, 2] as never }), /forward: logitsInto must be a Float32Array/);
      model.dispose();
    });
  }
});
