import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import {
  chooseExperts, lastAutoChoice, predictMs, setAutoProfile, validateProfile, type AutoProfile, type AutoShape,
} from "../../src/experts/auto.js";
import { ExpertsInterface } from "../../src/experts/registry.js";
import { loadMoeBlock } from "../../src/models/build/load-moe-block.js";
import { assertClose } from "../helpers/assert-close.js";
import { expected, firstSparseLayer, fixtureDir } from "../helpers/fixtures.js";

const qwen = (tokens: number, over: Partial<AutoShape> = {}): AutoShape => ({
  tokens, topK: 4, experts: 60, hidden: 2048, intermediate: 1408, dtype: "bfloat16", backend: "cpu", isHost: true, ...over,
});
const BOTH = ["batched_mm", "grouped_mm"];

const profile: AutoProfile = {
  version: 1,
  entries: [{
    backend: "cpu", dtype: "bfloat16", dims: { experts: 60, hidden: 2048, intermediate: 1408, topK: 4 },
    points: [
      { slots: 4, ms: { batched_mm: 2, grouped_mm: 3 } },
      { slots: 16, ms: { batched_mm: 6, grouped_mm: 7 } },
      { slots: 64, ms: { batched_mm: 30, grouped_mm: 20 } },
      { slots: 512, ms: { batched_mm: 200, grouped_mm: 60 } },
    ],
  }],
};

describe("auto cost model", () => {
  it("built-in defaults on a host backend: grouped_mm at every size (transformers' CPU ranking; the cpu backend's own grouped_mm is one native call)", () => {
    for (const t of [1, 4, 16, 128, 512]) {
      const c = chooseExperts(qwen(t), BOTH, null);
      assert.equal(c.name, "grouped_mm", `T=${t}`);
      assert.ok(c.predicted.grouped_mm! < c.predicted.batched_mm!);
    }
  });
  it("built-in defaults on a device backend gather below 64 slots", () => {
    assert.equal(chooseExperts(qwen(8, { isHost: false, backend: "webgpu" }), BOTH, null).name, "batched_mm");
    assert.equal(chooseExperts(qwen(16, { isHost: false, backend: "webgpu" }), BOTH, null).name, "grouped_mm");
  });
  it("a measured profile decides, interpolating between its points", () => {
    assert.equal(chooseExperts(qwen(1), BOTH, profile).name, "batched_mm");
    assert.equal(chooseExperts(qwen(4), BOTH, profile).name, "batched_mm");
    assert.equal(chooseExperts(qwen(16), BOTH, profile).name, "grouped_mm");
    assert.equal(chooseExperts(qwen(1024), BOTH, profile).name, "grouped_mm");
    const mid = predictMs("batched_mm", qwen(8), profile)!;
    assert.ok(mid > 6 && mid < 30, `interpolated ${mid}`);
    // Another backend or dtype does not use this entry.
    assert.equal(chooseExperts(qwen(1, { dtype: "float32" }), BOTH, profile).predicted.batched_mm, predictMs("batched_mm", qwen(1, { dtype: "float32" }), null));
  });
  it("registered candidates compete only where the profile measured them", () => {
    const withFast: AutoProfile = structuredClone(profile);
    for (const p of withFast.entries[0]!.points) p.ms.my_kernel = 1;
    assert.equal(chooseExperts(qwen(16), [...BOTH, "my_kernel"], withFast).name, "my_kernel");
    assert.equal(chooseExperts(qwen(16), [...BOTH, "my_kernel"], null).name, "grouped_mm", "no cost entry without a profile");
  });
  it("rejects malformed profiles", () => {
    assert.throws(() => validateProfile({ version: 2, entries: [] }, "p.json"), /p.json: not a moekit auto profile \(version 2/);
    assert.throws(() => validateProfile({ version: 1, entries: [{}] }, "p.json"), /lacks backend/);
  });
});

describe("auto experts implementation", () => {
  it("is registered, runs its pick and matches it exactly", async () => {
    const registry = new ExpertsInterface();
    assert.ok(registry.has("auto"));
    assert.equal(registry.isAutoCandidate("auto"), false);
    const ex = await expected("qwen2_moe");
    const layer = firstSparseLayer("qwen2_moe");
    setAutoProfile(null);
    try {
      const block = await loadMoeBlock(fixtureDir("qwen2_moe"), layer, { backend: referenceBackend, expertsImplementation: "auto", registry });
      const out = await block.experts.forward(ex.experts_in!, ex.top_k_index!, ex.top_k_weights!);
      const picked = lastAutoChoice()!;
      assert.ok(["batched_mm", "grouped_mm"].includes(picked));
      block.experts.implementation = picked;
      const ref = await block.experts.forward(ex.experts_in!, ex.top_k_index!, ex.top_k_weights!);
      assert.deepEqual(Array.from(await out.data()), Array.from(await ref.data()));
      assertClose(await out.data(), await ex.experts_out!.data(), 1e-4, "experts_out");
      // With a profile saying batched_mm always wins on this backend, auto runs batched_mm.
      const w = block.experts.weights;
      setAutoProfile({
        version: 1,
        entries: [{ backend: "reference", dtype: w.down.dtype, dims: { experts: w.numExperts, hidden: w.hiddenSize, intermediate: w.intermediateSize, topK: 2 },
          points: [{ slots: 1, ms: { batched_mm: 1, grouped_mm: 2 } }, { slots: 1000, ms: { batched_mm: 10, grouped_mm: 20 } }] }],
      });
      block.experts.implementation = "auto";
      await block.experts.forward(ex.experts_in!, ex.top_k_index!, ex.top_k_weights!);
      assert.equal(lastAutoChoice(), "batched_mm");
    } finally {
      setAutoProfile(null);
    }
  });
});
