import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { Experts } from "../../src/experts/experts.js";
import { ExpertsInterface, expertsInterface } from "../../src/experts/registry.js";
import type { ExpertsImplementation } from "../../src/experts/types.js";
import { groupedMm } from "../../src/experts/grouped-mm.js";
import { loadMoeBlock } from "../../src/models/build/load-moe-block.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expected, fixtureDir } from "../helpers/fixtures.js";
import { randomExperts } from "../helpers/random.js";

describe("ExpertsInterface", () => {
  it("lists the built-ins with grouped_mm as the default", () => {
    const reg = new ExpertsInterface();
    assert.deepEqual(reg.list(), ["eager", "batched_mm", "grouped_mm", "auto"]);
    const x = randomExperts(1, { t: 2, h: 4, i: 2, e: 3, k: 1 });
    assert.equal(new Experts(x.weights, { registry: reg }).implementation, "grouped_mm");
  });

  it("an unknown name throws an error listing the valid ones", () => {
    const reg = new ExpertsInterface();
    assert.throws(() => reg.get("fast_mm"), /unknown experts implementation "fast_mm": valid are 'eager', 'batched_mm', 'grouped_mm'/);
    const x = randomExperts(1, { t: 2, h: 4, i: 2, e: 3, k: 1 });
    assert.throws(() => new Experts(x.weights, { registry: reg, implementation: "nope" }), /valid are/);
    const ex = new Experts(x.weights, { registry: reg });
    assert.throws(() => (ex.implementation = "nope"), /valid are/);
    assert.equal(ex.implementation, "grouped_mm");
  });

  it("built-in names cannot be replaced and bad registrations are refused", () => {
    const reg = new ExpertsInterface();
    assert.throws(() => reg.register("grouped_mm", groupedMm), /built-in/);
    assert.throws(() => reg.register("has space", groupedMm), /identifier-like/);
    assert.throws(() => reg.register("x", 42 as unknown as ExpertsImplementation), /must be a function/);
  });

  it("a user implementation is selectable at load time and at run time, and is called per forward", async () => {
    const reg = new ExpertsInterface();
    let calls = 0;
    // A custom implementation: grouped_mm, counted (a real user would call their own kernels).
    reg.register("counted_grouped", (w, h, i, k, b) => {
      calls++;
      return groupedMm(w, h, i, k, b);
    });
    assert.ok(reg.list().includes("counted_grouped"));
    const ex = await expected("qwen2_moe");
    const block = await loadMoeBlock(fixtureDir("qwen2_moe"), 0, { registry: reg, expertsImplementation: "counted_grouped" });
    const out = await block.experts.forward(ex.experts_in!, ex.top_k_index!, ex.top_k_weights!);
    assertClose(await out.data(), await ex.experts_out!.data(), 1e-4, "custom implementation");
    assert.equal(calls, 1);
    block.experts.implementation = "eager";
    await block.experts.forward(ex.experts_in!, ex.top_k_index!, ex.top_k_weights!);
    assert.equal(calls, 1, "switched away: the custom implementation is no longer called");
    block.experts.implementation = "counted_grouped";
    await block.forward(ex.moe_in!);
    assert.equal(calls, 2);
  });

  it("the global registry is the default and a wrong output shape is caught", async () => {
    expertsInterface.register("wrong_shape", (_w, h) => h.reshape([-1]));
    try {
      const x = randomExperts(2, { t: 3, h: 4, i: 2, e: 3, k: 1 });
      const e = new Experts(x.weights, { implementation: "wrong_shape" });
      await assert.rejects(e.forward(x.hidden, x.topkIndex, x.topkWeights), /'wrong_shape' returned \[12\], expected \[3, 4\]/);
    } finally {
      expertsInterface.unregister("wrong_shape");
    }
  });
});

describe("experts input validation: a clear error and nothing computed", () => {
  const x = randomExperts(5, { t: 3, h: 4, i: 2, e: 3, k: 2 });
  let ran = 0;
  const reg = new ExpertsInterface();
  reg.register("spy", (w, h, i, k, b) => {
    ran++;
    return groupedMm(w, h, i, k, b);
  });
  const experts = new Experts(x.weights, { registry: reg, implementation: "spy", backend: referenceBackend });
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ["index past E", () => experts.forward(x.hidden, Tensor.from(new Int32Array([0, 1, 2, 3, 0, 1]), [3, 2]), x.topkWeights), /topkIndex\[1, 1\] = 3 is outside \[0, 3\)/],
    ["negative index", () => experts.forward(x.hidden, Tensor.from(new Int32Array([0, -1, 2, 1, 0, 1]), [3, 2]), x.topkWeights), /= -1 is outside/],
    ["NaN routing weight", () => experts.forward(x.hidden, x.topkIndex, Tensor.from(new Float32Array([1, NaN, 1, 1, 1, 1]), [3, 2])), /topkWeights\[0, 1\] is NaN/],
    ["hidden width", () => experts.forward(Tensor.from(new Float32Array(15), [3, 5]), x.topkIndex, x.topkWeights), /hidden must be \[T, 4\], got \[3, 5\]/],
    ["index rows", () => experts.forward(x.hidden, Tensor.from(new Int32Array(4), [2, 2]), x.topkWeights), /topkIndex must be \[3, K\]/],
    ["index dtype", () => experts.forward(x.hidden, Tensor.from(new Float32Array(6), [3, 2]), x.topkWeights), /topkIndex must be int32, got float32/],
    ["weights shape", () => experts.forward(x.hidden, x.topkIndex, Tensor.from(new Float32Array(3), [3, 1])), /topkWeights must match topkIndex \[3, 2\]/],
    ["hidden dtype", () => experts.forward(Tensor.from(new Int32Array(12), [3, 4]), x.topkIndex, x.topkWeights), /hidden must be a float tensor/],
  ];
  for (const [name, run, msg] of cases) {
    it(name, async () => {
      const before = ran;
      await assert.rejects(run(), msg);
      assert.equal(ran, before, "the implementation must not run on bad input");
    });
  }

  it("weights of the wrong shape are refused at construction", () => {
    assert.throws(() => new Experts({ ...x.weights, intermediateSize: 3 }), /gateUp must have shape \[3, 6, 4\], got \[3, 4, 4\]/);
    assert.throws(() => new Experts({ ...x.weights, gateUp: undefined }), /needs gateUp/);
  });
});

describe("loadMoeBlock errors", () => {
  it("a layer without an MoE block", async () => {
    await assert.rejects(loadMoeBlock(fixtureDir("deepseek_v3"), 0), /layer 0 of this deepseek_v3 model has no sparse MoE block/);
  });
  it("a layer out of range", async () => {
    await assert.rejects(loadMoeBlock(fixtureDir("mixtral"), 5), /layer 5 is outside \[0, 2\)/);
  });
  it("a missing directory", async () => {
    await assert.rejects(loadMoeBlock("/nonexistent/model", 0), /does not exist/);
  });
});
