/**
 * Experts on the cpu beside webgpu: attention, norms, shared experts and the lm head on the GPU, the
 * routers and routed experts in system memory on the cpu backend, the hidden states crossing once each
 * way per MoE layer. Same logits (1e-4 of max|ref|) and greedy ids as transformers. Skips (printing
 * why) without a WebGPU adapter.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createCpuBackend } from "../../src/backends/cpu/index.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir } from "../models/model-fixtures.js";
import { webgpuOrSkip } from "./setup.js";

const { backend: gpu, skip } = await webgpuOrSkip();

if (skip) {
  it("webgpu placement", { skip }, () => {});
} else {
  const b = gpu!;
  const cpu = createCpuBackend();
  after(() => b.destroy());
  describe("webgpu with the experts on cpu", () => {
    for (const [family, layers] of [["qwen2_moe", undefined], ["gpt_oss", undefined], ["deepseek_v3", 1]] as const) {
      it(`${family}${layers === undefined ? "" : ` (first ${layers} MoE layer)`}: logits and 8 greedy ids as transformers`, async () => {
        const ex = await expectedTensors(F32, family);
        const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: { rest: b, experts: cpu, expertsLayers: layers } });
        const moe = model.parts.layers.flatMap((l) => (l.ffn.kind === "moe" ? [l.ffn.block] : []));
        assert.equal(moe[0]!.expertsBackend, cpu);
        assert.equal(moe[0]!.experts.weights.down.backend, cpu);
        if (layers !== undefined) assert.ok(moe.slice(layers).every((blk) => blk.expertsBackend === b));
        const { logits } = await model.forward(ex.input_ids!);
        assert.equal(logits.backend, b);
        assertClose(await logits.data(), await ex.logits!.data(), 1e-4, `${family} logits`);
        const s = ex.input_ids!.shape[1]!;
        const prompt = Tensor.from(((await ex.input_ids!.data()) as Int32Array).slice(0, s), [1, s]);
        const out = (await (await model.generate(prompt, { maxNewTokens: 8, minNewTokens: 8, doSample: false })).data()) as Int32Array;
        assert.deepEqual(Array.from(out.slice(s)), Array.from((await ex.greedy_ids!.data()) as Int32Array));
        model.dispose();
      });
    }
  });
}
