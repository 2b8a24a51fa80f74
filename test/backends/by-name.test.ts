import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import type { Backend } from "../../src/backends/backend.js";
import { createBackendResolver, environmentProbe, resolveBackend, type BackendProbe } from "../../src/backends/by-name.js";
import { cpuBackendAvailable } from "../../src/backends/cpu/index.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { generateCommand } from "../../src/cli/generate.js";
import { loadMoeBlock } from "../../src/models/build/load-moe-block.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { F32, familyDir } from "../models/model-fixtures.js";

const QWEN = familyDir(F32, "qwen2_moe");
const VALID = /one of "auto", "cpu", "webgpu", "reference" or a Backend object/;
const noCpu = cpuBackendAvailable() ? false : "the native addon is not built here";

/** The environment's probe, with the cpu addon or the GPU adapter made to fail. */
function probe(over: Partial<BackendProbe>): BackendProbe {
  return { ...environmentProbe, ...over };
}
const missingAddon = () => Promise.reject(new Error("cpu backend: the native addon is not built (looked for build/Release/moekit_native.node)"));
const noAdapter = () => Promise.reject(new Error("webgpu: requestAdapter() returned no adapter"));

describe("backends by name", () => {
  it("reference and a Backend object", async () => {
    assert.equal(await resolveBackend("reference"), referenceBackend);
    assert.equal(await resolveBackend(referenceBackend), referenceBackend);
  });

  it("cpu, and auto in Node when the addon loads", { skip: noCpu }, async () => {
    const cpu = await resolveBackend("cpu", { threads: 2, compute: "bfloat16" });
    assert.equal(cpu.name, "cpu");
    assert.equal((cpu as Backend & { compute: string }).compute, "bfloat16");
    const warn = mock.method(console, "warn", () => {});
    try {
      assert.equal((await resolveBackend("auto")).name, "cpu");
      assert.equal((await resolveBackend()).name, "cpu", "auto is the default");
      assert.equal(warn.mock.callCount(), 0, "no fallback, no warning");
    } finally {
      warn.mock.restore();
    }
  });

  it("webgpu (skips when there is no adapter)", async (t) => {
    if (process.env.MOEKIT_SKIP_WEBGPU) return t.skip("MOEKIT_SKIP_WEBGPU is set");
    let gpu: Backend;
    try {
      gpu = await resolveBackend("webgpu");
    } catch (e) {
      assert.match((e as Error).message, /^backend "webgpu" is unavailable: /);
      return t.skip(`no WebGPU adapter: ${(e as Error).message}`);
    }
    assert.equal(gpu.name, "webgpu");
    assert.equal(gpu.isHost, false);
    (gpu as Backend & { destroy(): void }).destroy();
  });

  it("auto falls back to reference without the addon, and says why once", async () => {
    const resolve = createBackendResolver(probe({ inNode: () => true, cpu: missingAddon }));
    const warn = mock.method(console, "warn", () => {});
    try {
      assert.equal(await resolve("auto"), referenceBackend);
      assert.equal(await resolve(undefined), referenceBackend);
      assert.equal(warn.mock.callCount(), 1, "said once");
      assert.match(String(warn.mock.calls[0]!.arguments[0]), /cpu backend's native addon did not load \(cpu backend: the native addon is not built .*\); using the reference backend/);
    } finally {
      warn.mock.restore();
    }
  });

  it("auto in a browser without an adapter falls back to reference; a caller may take the reason itself", async () => {
    const resolve = createBackendResolver(probe({ inNode: () => false, webgpu: noAdapter }));
    const reasons: string[] = [];
    assert.equal(await resolve("auto", { onFallback: (r) => reasons.push(r) }), referenceBackend);
    assert.equal(await resolve("auto", { onFallback: (r) => reasons.push(r) }), referenceBackend);
    assert.deepEqual(reasons, ["no WebGPU adapter (webgpu: requestAdapter() returned no adapter)", "no WebGPU adapter (webgpu: requestAdapter() returned no adapter)"]);
  });

  it("a backend named but unavailable is an error, not a fallback", async () => {
    const resolve = createBackendResolver(probe({ cpu: missingAddon, webgpu: noAdapter }));
    await assert.rejects(resolve("cpu"), /^Error: backend "cpu" is unavailable: cpu backend: the native addon is not built/);
    await assert.rejects(resolve("webgpu"), /^Error: backend "webgpu" is unavailable: webgpu: requestAdapter\(\) returned no adapter/);
  });

  it("bad values name the valid ones", async () => {
    for (const [bad, says] of [
      ["nope", /got "nope"/],
      ["CPU", /got "CPU"/],
      [42, /got number 42/],
      [null, /got object null/],
      [{}, /a plain object is not a Backend \(it lacks name, isHost, fromHost, adopt, read/],
      [{ name: "mine", isHost: true, linear() {} }, /is not a Backend \(it lacks fromHost, adopt, read, zeros, embedding/],
    ] as const) {
      await assert.rejects(resolveBackend(bad as never), (e: Error) => VALID.test(e.message) && says.test(e.message), String(bad));
    }
  });

  it("every entry takes names: fromPretrained, loadMoeBlock, the CLI", { skip: noCpu }, async () => {
    const model = await AutoModelForCausalLM.fromPretrained(QWEN, { backend: "cpu" }); // used to fail with "b.adopt is not a function"
    assert.equal(model.backend.name, "cpu");
    assert.equal((await AutoModelForCausalLM.fromPretrained(QWEN)).backend.name, "cpu", "auto picks cpu in Node");
    assert.equal((await AutoModelForCausalLM.fromPretrained(QWEN, { backend: "reference" })).backend, referenceBackend);
    assert.equal((await loadMoeBlock(QWEN, 0, { backend: "cpu" })).backend.name, "cpu");
    await assert.rejects(AutoModelForCausalLM.fromPretrained(QWEN, { backend: "nope" as never }), VALID);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(QWEN, { backend: 42 as never }), VALID);
    await assert.rejects(loadMoeBlock(QWEN, 0, { backend: { name: "x" } as never }), /is not a Backend \(it lacks isHost, fromHost/);
    let err = "";
    const code = await generateCommand([QWEN, "--ids", "1,2", "--backend", "nope"], { out: () => {}, err: (s) => (err += s) });
    assert.equal(code, 2, "a usage mistake");
    assert.match(err, /--backend must be one of auto, cpu, webgpu, reference, got 'nope'/);
  });
});
