import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { qwen15MoeConfig } from "../../src/bench/qwen-dims.js";
import { qwen2MoeTensors } from "../../src/bench/qwen-synthetic.js";
import { syntheticCheckpoint } from "../../src/bench/synthetic.js";
import { expectedActiveExperts, expertsWork, iterationWork, type MoeDims } from "../../src/bench/work-model.js";
import { loadMoeBlock } from "../../src/models/build/load-moe-block.js";
import { Tensor } from "../../src/tensor.js";

const tinyConfig = () => ({
  ...qwen15MoeConfig(2),
  hidden_size: 16, moe_intermediate_size: 8, shared_expert_intermediate_size: 12, num_experts: 6, num_experts_per_tok: 2,
  num_attention_heads: 2, num_key_value_heads: 2, head_dim: 8, vocab_size: 32,
});

describe("synthetic checkpoint", () => {
  it("has Qwen1.5-MoE-A2.7B's dimensions", () => {
    const c = qwen15MoeConfig(2);
    assert.equal(c.hidden_size, 2048);
    assert.equal(c.num_experts, 60);
    assert.equal(c.moe_intermediate_size, 1408);
    assert.equal(c.num_experts_per_tok, 4);
    assert.equal(c.shared_expert_intermediate_size, 5632);
    assert.equal(c.num_attention_heads, 16);
    assert.equal(c.vocab_size, 151936);
    assert.throws(() => qwen15MoeConfig(0), /--layers must be a positive integer/);
  });

  it("generates seeded tensors lazily and loads as a qwen2_moe block", async () => {
    const cfg = tinyConfig();
    const ck = syntheticCheckpoint("tiny", cfg, qwen2MoeTensors(cfg), "bfloat16", 7);
    assert.deepEqual(ck.info("model.layers.1.mlp.experts.5.down_proj.weight").shape, [16, 8]);
    assert.equal(ck.info("model.layers.0.mlp.gate.weight").stored, "BF16");
    const a = await ck.tensor("model.layers.0.mlp.gate.weight");
    const b = await ck.tensor("model.layers.0.mlp.gate.weight");
    assert.deepEqual(Array.from(await a.data()), Array.from(await b.data()));
    const other = syntheticCheckpoint("tiny", cfg, qwen2MoeTensors(cfg), "bfloat16", 8);
    assert.notDeepEqual(Array.from(await a.data()), Array.from(await (await other.tensor("model.layers.0.mlp.gate.weight")).data()));
    const bound = 1 / Math.sqrt(16);
    for (const v of await a.data()) assert.ok(Math.abs(v) <= bound * 1.01, `${v} within ±1/√H`);
    assert.deepEqual(Array.from(await (await ck.tensor("model.norm.weight")).data()), new Array(16).fill(1));
    const block = await loadMoeBlock(ck, 1, { backend: referenceBackend });
    assert.equal(block.experts.weights.gateUp!.dtype, "bfloat16");
    const out = await block.forward(Tensor.from(new Float32Array(3 * 16).fill(0.5), [3, 16]));
    assert.deepEqual([...out.shape], [3, 16]);
    for (const v of await out.data()) assert.ok(Number.isFinite(v));
  });

  it("loads a block without its shared experts when asked (the experts scope), same router and experts", async () => {
    const cfg = tinyConfig();
    const ck = syntheticCheckpoint("tiny", cfg, qwen2MoeTensors(cfg), "float32", 3);
    const full = await loadMoeBlock(ck, 0, { backend: referenceBackend });
    const lean = await loadMoeBlock(ck, 0, { backend: referenceBackend, sharedExperts: false });
    assert.ok(full.shared, "shared experts loaded by default");
    assert.equal(lean.shared, undefined);
    const x = Tensor.from(Float32Array.from({ length: 2 * 16 }, (_, i) => Math.sin(i)), [2, 16]);
    const [a, b] = [full.route(x), lean.route(x)];
    assert.deepEqual(Array.from(await b.index.data()), Array.from(await a.index.data()));
    const ea = await full.experts.forward(x, a.index, a.weights);
    const eb = await lean.experts.forward(x, b.index, b.weights);
    assert.deepEqual(Array.from(await eb.data()), Array.from(await ea.data()));
    // The whole block differs by the shared expert's contribution.
    const fa = await (await full.forward(x)).data();
    const fb = await (await lean.forward(x)).data();
    assert.ok(fa.some((v, i) => Math.abs(v - fb[i]!) > 1e-6));
  });
});

describe("work model", () => {
  const qwen: MoeDims = { hidden: 2048, experts: 60, intermediate: 1408, topK: 4, gated: true, sharedWidth: 5632, sharedGate: true, weightBytes: 2 };
  it("counts 6·S·H·I for gated experts plus the K-sum", () => {
    const w = expertsWork(qwen, 16);
    const s = 64;
    assert.equal(w.flops, s * 6 * 2048 * 1408 + 2 * s * 2048);
    assert.ok(w.bytes > expectedActiveExperts(16, 4, 60) * 3 * 2048 * 1408 * 2);
  });
  it("expects K distinct experts for one token and nearly all for many", () => {
    assert.ok(Math.abs(expectedActiveExperts(1, 4, 60) - 4) < 1e-9);
    assert.ok(expectedActiveExperts(512, 4, 60) > 59.99);
  });
  it("scales with layers and adds the router and shared expert for a block", () => {
    const e = iterationWork("experts", qwen, 1, 16, 2);
    const b = iterationWork("block", qwen, 1, 16, 2);
    assert.equal(e.flops, 2 * expertsWork(qwen, 16).flops);
    assert.ok(b.flops > e.flops && b.bytes > e.bytes);
    assert.throws(() => iterationWork("model", qwen, 1, 16, 2), /needs heads/);
  });
});
