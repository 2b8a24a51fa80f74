import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cpuBackendAvailable, createCpuBackend } from "../../src/backends/cpu/index.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { batchedMm } from "../../src/experts/batched-mm.js";
import { Experts } from "../../src/experts/experts.js";
import { groupedMm } from "../../src/experts/grouped-mm.js";
import { ExpertsInterface } from "../../src/experts/registry.js";
import type { ExpertsImplementation } from "../../src/experts/types.js";
import { assertClose } from "../helpers/assert-close.js";
import { randomExperts } from "../helpers/random.js";

describe("experts registry: implementations per backend", () => {
  it("an implementation registered for one backend is listed and runnable there only", async () => {
    const reg = new ExpertsInterface();
    reg.register("cpu_only", groupedMm, { backend: "cpu" });
    assert.ok(reg.list("cpu").includes("cpu_only"));
    assert.ok(!reg.list("reference").includes("cpu_only"));
    assert.ok(reg.list().includes("cpu_only"), "the full listing names every entry");
    const x = randomExperts(3, { t: 2, h: 8, i: 4, e: 4, k: 2 });
    assert.throws(
      () => new Experts(x.weights, { registry: reg, implementation: "cpu_only", backend: referenceBackend }),
      /experts implementation 'cpu_only' cannot run on backend 'reference' \(it is registered for 'cpu' only\); 'reference' runs 'eager', 'batched_mm', 'grouped_mm', 'auto'/,
    );
    const ex = new Experts(x.weights, { registry: reg, backend: referenceBackend });
    assert.throws(() => (ex.implementation = "cpu_only"), /cannot run on backend 'reference'/);
    assert.equal(ex.implementation, "grouped_mm");
    assert.throws(() => reg.get("cpu_only"), /runs only on backend 'cpu'; say which backend runs it/);
  });

  it("a backend's own version of a built-in name replaces it on that backend only", async () => {
    const reg = new ExpertsInterface();
    let calls = 0;
    const counted: ExpertsImplementation = (w, h, i, k, b) => {
      calls++;
      return batchedMm(w, h, i, k, b);
    };
    assert.throws(() => reg.register("grouped_mm", counted), /built-in/);
    assert.throws(() => reg.register("auto", counted, { backend: "reference" }), /built-in/);
    reg.register("grouped_mm", counted, { backend: "reference" });
    const x = randomExperts(4, { t: 3, h: 8, i: 4, e: 4, k: 2 });
    const ex = new Experts(x.weights, { registry: reg, backend: referenceBackend });
    const out = await ex.forward(x.hidden, x.topkIndex, x.topkWeights);
    assert.equal(calls, 1);
    const portable = await new Experts(x.weights, { backend: referenceBackend }).forward(x.hidden, x.topkIndex, x.topkWeights);
    assertClose(await out.data(), await portable.data(), 1e-6, "reference's grouped_mm version");
    assert.equal(reg.resolve("grouped_mm", "webgpu").backend, undefined, "other backends keep the portable grouped_mm");
    assert.throws(() => reg.unregister("grouped_mm"), /built-in/);
    assert.equal(reg.unregister("grouped_mm", { backend: "reference" }), true);
    assert.equal(reg.resolve("grouped_mm", "reference").backend, undefined);
  });

  it("describe() names each entry's backend; the cpu backend supplies its own grouped_mm", () => {
    const reg = new ExpertsInterface();
    const rows = reg.describe();
    const grouped = rows.filter((r) => r.name === "grouped_mm");
    assert.deepEqual(grouped.map((r) => r.backend ?? "any"), ["any", "cpu"]);
    assert.ok(grouped.every((r) => r.builtin && r.autoCandidate));
    assert.equal(reg.resolve("grouped_mm", "cpu").backend, "cpu");
    assert.equal(reg.resolve("batched_mm", "cpu").backend, undefined, "batched_mm on cpu is the portable schedule");
  });

  it("on the cpu backend eager, batched_mm and grouped_mm are different code with the same result", { skip: !cpuBackendAvailable() && "native addon not built" }, async () => {
    const cpu = createCpuBackend({ threads: 2 });
    const x = randomExperts(5, { t: 9, h: 32, i: 16, e: 6, k: 2 });
    const reg = new ExpertsInterface();
    const ref = await new Experts(x.weights, { backend: referenceBackend, implementation: "eager" }).forward(x.hidden, x.topkIndex, x.topkWeights);
    const fused = reg.get("grouped_mm", cpu);
    assert.notEqual(fused, groupedMm, "cpu resolves grouped_mm to its own version");
    assert.equal(reg.get("batched_mm", cpu), batchedMm);
    for (const impl of ["eager", "batched_mm", "grouped_mm", "auto"]) {
      const out = await new Experts(x.weights, { backend: cpu, implementation: impl, registry: reg }).forward(x.hidden, x.topkIndex, x.topkWeights);
      assertClose(await out.data(), await ref.data(), 1e-5, `cpu ${impl}`);
    }
    // The portable grouped_mm still runs on cpu (through the cpu's ops) when called directly.
    const portable = await groupedMm(x.weights, cpu.adopt(x.hidden), cpu.adopt(x.topkIndex), cpu.adopt(x.topkWeights), cpu);
    assertClose(await portable.data(), await ref.data(), 1e-5, "portable grouped_mm on cpu ops");
  });
});
