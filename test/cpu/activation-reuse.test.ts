import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ActivationPool } from "../../src/backends/cpu/activation-pool.js";
import { StateSlots } from "../../src/models/cache/state-slots.js";
import { TensorGroups } from "../../src/models/cache/tensor-groups.js";
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

describe("caches under activation reuse", { skip: cpu ? false : `cpu backend unavailable: ${why}` }, () => {
  // rank-4 [B, L, H, D] rows made by a pooled op (slice), so their buffers would go back at the forward's end
  const rows = (value: number, tokens: number) => cpu!.slice(cpu!.fromHost(new Float32Array(2 * tokens * 4).fill(value), [2, tokens, 1, 4], "float32"), 0, 0, 1);
  /** A forward that takes every buffer the free lists hold for these lengths and fills it with -1. */
  const scribble = () => cpu!.forwardScope!(async () => {
    for (let t = 1; t <= 3; t++) for (let i = 0; i < 8; i++) (rows(-1, t).storage as Float32Array).fill(-1);
    return null;
  }, () => []);

  it("TensorGroups' keys, values, slices and concatenations outlive the forward that made them", async () => {
    const groups = new TensorGroups(cpu!, 0);
    const first = await cpu!.forwardScope!(async () => groups.append([1], [0], rows(1, 1), rows(2, 1)), () => []);
    await scribble();
    assert.deepEqual(Array.from((await first.k.data()) as Float32Array), [1, 1, 1, 1]);
    const second = await cpu!.forwardScope!(async () => groups.append([1], [1], rows(3, 2), rows(4, 2)), () => []);
    await scribble();
    assert.deepEqual(Array.from((await second.k.data()) as Float32Array), [1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3]);
    assert.deepEqual(Array.from((await second.v.data()) as Float32Array), [2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4]);
  });

  it("StateSlots' states, split per sequence, outlive the forward that made them", async () => {
    const slots = new StateSlots(0, [1, 4]);
    const state = () => cpu!.slice(cpu!.fromHost(Float32Array.from({ length: 16 }, (_, i) => i), [4, 1, 4], "float32"), 0, 0, 2);
    const split = await cpu!.forwardScope!(async () => slots.split(cpu!, [7, 8], state()), () => []);
    slots.set(split);
    await scribble();
    const both = (await slots.read(cpu!, [7, 8]).data()) as Float32Array;
    assert.deepEqual(Array.from(both), [0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
