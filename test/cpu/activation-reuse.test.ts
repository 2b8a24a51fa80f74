import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ActivationPool } from "../../src/backends/cpu/activation-pool.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { optionalCpu } from "../helpers/optional-cpu.js";
import { expectedTensors, F32, familyDir } from "../models/model-fixtures.js";

const N = 16;
const tensorOf = (f: Float32Array) => Tensor.from(f, [f.length]);
/** A promise that settles after the event loop turns once (a forward's await points). */
const tick = () => new Promise<void>((r) => setImmediate(r));

describe("ActivationPool", () => {
  it("hands a forward's buffers to the next forward, but not what it returns", async () => {
    const pool = new ActivationPool(N);
    let a!: Float32Array, b!: Float32Array;
    const kept = await pool.run(async () => {
      a = pool.floats(N);
      b = pool.floats(N);
      return tensorOf(b);
    }, (t) => [t]);
    assert.equal(kept.storage, b);
    assert.equal(pool.heldBytes, 4 * N);
    const next = await pool.run(async () => [pool.floats(N), pool.floats(N)], () => []);
    assert.equal(next[0], a, "the buffer the first forward did not return is reused");
    assert.notEqual(next[1], b, "the returned buffer is not");
  });

  it("keeps buffers a cache retained, views included", async () => {
    const pool = new ActivationPool(N);
    let a!: Float32Array;
    await pool.run(async () => {
      a = pool.floats(N);
      pool.retain(tensorOf(a.subarray(4, 8)));
      return null;
    }, () => []);
    assert.equal(pool.heldBytes, 0);
    const again = await pool.run(async () => pool.floats(N), () => []);
    assert.notEqual(again, a);
  });

  it("takes no part outside a forward, below minFloats, or for a forward that throws", async () => {
    const pool = new ActivationPool(N);
    pool.floats(N);
    await pool.run(async () => pool.floats(N - 1), () => []);
    assert.equal(pool.heldBytes, 0);
    await assert.rejects(pool.run(async () => {
      pool.floats(N);
      throw new Error("boom");
    }, () => []), /boom/);
    assert.equal(pool.heldBytes, 0);
  });

  it("keeps forwards that overlap apart, and ops called beside them out", async () => {
    const pool = new ActivationPool(N);
    let fromA!: Float32Array;
    const a = pool.run(async () => {
      fromA = pool.floats(N);
      fromA.fill(7);
      await tick();
      await tick();
      return null;
    }, () => []);
    await tick();
    const beside = pool.floats(N); // another caller, outside any forward, while A runs
    const fromB = await pool.run(async () => pool.floats(N), () => []);
    assert.notEqual(fromB, fromA);
    const fromC = await pool.run(async () => pool.floats(N), () => []);
    assert.equal(fromC, fromB, "B's buffer came back when B ended");
    assert.ok(fromA.every((v) => v === 7), "A's buffer was not handed to B or C while A ran");
    await a;
    const later = await pool.run(async () => [pool.floats(N), pool.floats(N)], () => []);
    assert.ok(later.includes(fromA) && !later.includes(beside));
  });

  it("holds at most capBytes", async () => {
    const pool = new ActivationPool(N, 4 * N * 2);
    await pool.run(async () => [pool.floats(N), pool.floats(N), pool.floats(N)], () => []);
    assert.equal(pool.heldBytes, 4 * N * 2);
  });
});

// Every buffer pooled (reuseActivations: 0): a forward runs on buffers the previous one filled, so an op that
// left a value unwritten, or a cache that kept a buffer without retaining it, changes logits or greedy ids.
const { cpu, why } = await optionalCpu({ reuseActivations: 0 });

describe("whole models with every activation buffer reused", { skip: cpu ? false : `cpu backend unavailable: ${why}` }, () => {
  for (const family of F32.families) {
    it(`${family}: logits kept past the next forward, two forwards at once, greedy ids`, async () => {
      const ex = await expectedTensors(F32, family);
      const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: cpu! });
      const want = await ex.logits!.data();
      // first the ids reversed (the same shapes, other values): the buffers then hold values this input does not give
      const ids = (await ex.input_ids!.data()) as Int32Array;
      const reversed = Tensor.from(ids.slice().reverse(), ex.input_ids!.shape);
      await model.forward(reversed);
      const first = await model.forward(ex.input_ids!);
      await model.forward(reversed);
      assertClose(await first.logits.data(), want, 1e-4, `${family}: logits read after the next forward`);
      const both = await Promise.all([model.forward(ex.input_ids!), model.forward(ex.input_ids!)]);
      for (const r of both) assertClose(await r.logits.data(), want, 1e-4, `${family} overlapping forwards`);
      const s = ex.input_ids!.shape[1]!;
      const prompt = Tensor.from(ids.slice(0, s), [1, s]);
      for (let i = 0; i < 2; i++) {
        const out = (await (await model.generate(prompt, { maxNewTokens: 8, minNewTokens: 8 })).data()) as Int32Array;
        assert.deepEqual(Array.from(out.slice(s)), Array.from((await ex.greedy_ids!.data()) as Int32Array), `${family} greedy ${i}`);
      }
    });
  }
});
