/**
 * A placement runs the routers and routed experts on another backend than the rest of the model:
 * the same logits and greedy ids as one backend, each part's tensors where the placement says, and
 * clear errors for bad placements. (webgpu beside cpu: test/webgpu/placement.test.ts.)
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Backend } from "../../src/backends/backend.js";
import type { BackendChoice } from "../../src/backends/by-name.js";
import { createCpuBackend } from "../../src/backends/cpu/index.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import type { CausalLM } from "../../src/models/causal-lm.js";
import { loadMoeBlock } from "../../src/models/build/load-moe-block.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir } from "./model-fixtures.js";

const cpu = createCpuBackend();
const QWEN = familyDir(F32, "qwen2_moe");

/** [experts backend, shared-expert backend] of each MoE layer. */
function where(model: CausalLM): [string, string | undefined][] {
  return model.parts.layers.flatMap((l) => {
    if (l.ffn.kind !== "moe") return [];
    const blk = l.ffn.block;
    assert.equal(blk.router.weights.weight.backend, blk.expertsBackend, "the router sits with its experts");
    assert.equal(blk.experts.weights.down.backend, blk.expertsBackend);
    return [[blk.expertsBackend.name, blk.shared?.mlp.down.backend?.name]];
  });
}

async function matchesFixture(family: string, backend: BackendChoice, impl: string) {
  const ex = await expectedTensors(F32, family);
  const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend, expertsImplementation: impl });
  const { logits } = await model.forward(ex.input_ids!);
  assertClose(await logits.data(), await ex.logits!.data(), 1e-4, `${family} ${impl} logits`);
  const s = ex.input_ids!.shape[1]!;
  const prompt = Tensor.from(((await ex.input_ids!.data()) as Int32Array).slice(0, s), [1, s]);
  const out = (await (await model.generate(prompt, { maxNewTokens: 8, minNewTokens: 8, doSample: false })).data()) as Int32Array;
  assert.deepEqual(Array.from(out.slice(s)), Array.from((await ex.greedy_ids!.data()) as Int32Array), `${family} ${impl} greedy ids`);
  return model;
}

describe("placement: routed experts on another backend", () => {
  for (const impl of ["eager", "grouped_mm"]) {
    it(`qwen2_moe (shared expert) with ${impl}: experts on cpu, the rest on reference — the fixture's logits and greedy ids`, async () => {
      const model = await matchesFixture("qwen2_moe", { rest: referenceBackend, experts: cpu }, impl);
      assert.equal(model.backend, referenceBackend);
      assert.deepEqual(where(model), [["cpu", "reference"], ["cpu", "reference"]]);
    });
  }

  it("deepseek_v3 (dense first layers, grouped routing): experts on cpu by name", async () => {
    const model = await matchesFixture("deepseek_v3", { rest: "reference", experts: "cpu" }, "grouped_mm");
    assert.ok(where(model).every(([e]) => e === "cpu"));
  });

  it("expertsLayers: only the first N MoE layers' experts move", async () => {
    const model = await matchesFixture("qwen2_moe", { rest: referenceBackend, experts: cpu, expertsLayers: 1 }, "grouped_mm");
    assert.deepEqual(where(model), [["cpu", "reference"], ["reference", "reference"]]);
    const none = await AutoModelForCausalLM.fromPretrained(QWEN, { backend: { rest: referenceBackend, experts: cpu, expertsLayers: 0 } });
    assert.deepEqual(where(none), [["reference", "reference"], ["reference", "reference"]]);
  });

  it("a cached decode with the experts elsewhere equals recomputation", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(QWEN, { backend: { rest: referenceBackend, experts: cpu } });
    const ids = Int32Array.from([3, 14, 15, 92, 65, 35]);
    const full = await (await model.forward(Tensor.from(ids, [1, 6]))).logits.data();
    const cache = model.newCache();
    await model.forward(Tensor.from(ids.slice(0, 5), [1, 5]), { cache });
    const step = await (await model.forward(Tensor.from(ids.slice(5), [1, 1]), { cache })).logits.data();
    const v = step.length;
    assertClose(step, full.slice(5 * v, 6 * v), 1e-4, "last position");
  });

  it("bad placements are refused, naming what is wrong", async () => {
    const load = (backend: unknown) => AutoModelForCausalLM.fromPretrained(QWEN, { backend: backend as Backend });
    await assert.rejects(load({ rest: "reference" }), /placement: 'experts' is missing/);
    await assert.rejects(load({ rest: "reference", experts: "cpu", gpu: 1 }), /placement: unknown key\(s\) 'gpu'/);
    await assert.rejects(load({ rest: "reference", experts: "cpu", expertsLayers: -1 }), /expertsLayers must be a non-negative integer, got -1/);
    await assert.rejects(load({ rest: "reference", experts: "tpu" }), /backend must be one of "auto", "cpu", "webgpu", "reference" or a Backend object, got "tpu"/);
    await assert.rejects(loadMoeBlock(QWEN, 0, { backend: { rest: "reference", experts: "cpu" } }), /a placement \(\{ rest, experts \}\) applies to a whole model/);
  });

  it("dispose frees the tensors on both backends", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(QWEN, { backend: { rest: referenceBackend, experts: cpu } });
    model.dispose();
    assert.throws(() => model.parts, /was disposed/);
  });
});

describe("moekit generate --experts-on", () => {
  const CHILD = fileURLToPath(new URL("../helpers/cli-child.ts", import.meta.url));
  const run = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(process.execPath, ["--import", "tsx", CHILD, ...args], { timeout: 120_000 }, (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
      ),
    );

  it("generates the same ids with the experts on cpu as on one backend", async () => {
    const args = ["generate", QWEN, "--ids", "3,14,15,92", "--max-new-tokens", "4"];
    const one = await run(...args, "--backend", "reference");
    const split = await run(...args, "--backend", "reference", "--experts-on", "cpu", "--experts-layers", "1");
    assert.equal(one.code, 0, one.stderr);
    assert.equal(split.code, 0, split.stderr);
    assert.equal(split.stdout, one.stdout);
    assert.match(one.stdout, /\d/);
  });

  it("--experts-layers without --experts-on, or an unknown backend, is a usage error (exit 2)", async () => {
    const a = await run("generate", QWEN, "--ids", "1,2", "--experts-layers", "1");
    assert.equal(a.code, 2);
    assert.match(a.stderr, /--experts-layers needs --experts-on/);
    const b = await run("generate", QWEN, "--ids", "1,2", "--experts-on", "tpu");
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--experts-on must be one of auto, cpu, webgpu, reference, got 'tpu'/);
  });
});
