import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { qwen2MoeTensors } from "../../src/bench/qwen-synthetic.js";
import { syntheticCheckpoint } from "../../src/bench/synthetic.js";
import type { ExpertCache } from "../../src/experts/residency.js";
import { writeCheckpointDir } from "../../src/loading/safetensors-writer.js";
import { parseByteSize } from "../../src/cli/byte-size.js";
import { parseGenerateArgs } from "../../src/cli/generate-args.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";

/** A 2-layer qwen2_moe whose experts (768 KiB each, float32) span many pages: 8 experts, top-2. */
const config = {
  architectures: ["Qwen2MoeForCausalLM"],
  model_type: "qwen2_moe",
  hidden_size: 256,
  intermediate_size: 256,
  moe_intermediate_size: 256,
  shared_expert_intermediate_size: 128,
  num_experts: 8,
  num_experts_per_tok: 2,
  norm_topk_prob: false,
  decoder_sparse_step: 1,
  mlp_only_layers: [],
  num_attention_heads: 4,
  num_key_value_heads: 4,
  head_dim: 64,
  num_hidden_layers: 2,
  vocab_size: 512,
  hidden_act: "silu",
  rms_norm_eps: 1e-6,
  rope_parameters: { rope_theta: 10000.0, rope_type: "default" },
  max_position_embeddings: 256,
  qkv_bias: true,
  tie_word_embeddings: false,
  dtype: "float32",
};
const EXPERT_BYTES = 3 * 256 * 256 * 4;
const dir = join(mkdtempSync(join(tmpdir(), "moekit-cache-")), "qwen2-moe");

const prompts = [
  [3, 17, 90, 4, 250, 11, 7, 300],
  [12, 5, 5, 480, 33],
  [101, 102, 103, 104, 105, 106],
  [7, 7, 7, 2],
];
const idsOf = (p: number[]) => Tensor.from(new Int32Array(p), [1, p.length]);

describe("expert cache (maxResidentBytes)", () => {
  let denseBytes = 0;
  before(async () => {
    const ckpt = syntheticCheckpoint("cache test", config, qwen2MoeTensors(config), "float32", 3);
    await writeCheckpointDir(dir, ckpt, () => "float32");
    for (const t of qwen2MoeTensors(config)) if (!/\.experts\.\d+\./.test(t.name)) denseBytes += t.shape.reduce((a, d) => a * d, 4);
  });

  it("gives the logits of the unbudgeted model, counts hits and misses of every routed expert and keeps within its budget", async () => {
    const full = await AutoModelForCausalLM.fromPretrained(dir, { backend: "cpu" });
    const budgeted = await AutoModelForCausalLM.fromPretrained(dir, { backend: "cpu", maxResidentBytes: denseBytes + 3 * EXPERT_BYTES + 1000 });
    const cache = budgeted.parts.expertCache as ExpertCache;
    assert.ok(cache);
    assert.equal(cache.budgetBytes, 3 * EXPERT_BYTES + 1000);
    assert.equal(cache.expertBytes, 2 * 8 * EXPERT_BYTES);
    // count the unique experts of each layer call as the blocks report them
    let routedUnique = 0;
    let maxOver = 0;
    for (const block of budgeted.moeBlocks()) {
      const hook = block.residency!;
      block.residency = {
        routed: (ids) => {
          routedUnique += new Set(ids).size;
          hook.routed(ids);
          const s = cache.stats();
          if (s.residentBytes > s.budgetBytes) maxOver = Math.max(maxOver, s.residentBytes);
        },
      };
    }
    for (const p of prompts) {
      const a = await (await full.forward(idsOf(p))).logits.data();
      const b = await (await budgeted.forward(idsOf(p))).logits.data();
      assert.deepEqual(b, a, `logits of prompt ${p.join(",")}`);
    }
    const s = cache.stats();
    assert.equal(s.hits + s.misses, routedUnique);
    assert.ok(s.misses >= 2, `misses ${s.misses}`);
    assert.ok(s.evictions > 0, "a budget of 3 experts over 16 must evict");
    // an 8-token prompt routes up to 8 experts of a layer: over budget only while one call's own experts exceed it
    assert.equal(maxOver > 0, s.overBudget > 0);
    assert.ok(s.residentBytes <= s.budgetBytes || s.overBudget > 0);
    // decode-sized calls (one token: 2 experts) end within the budget; a token seen again routes to resident experts
    for (const t of [5, 9, 200, 31, 31, 31]) await budgeted.forward(idsOf([t]));
    assert.ok(cache.stats().hits - s.hits >= 4, `hits ${cache.stats().hits - s.hits} of the repeated token's 2 × 2 layers × 2 repeats`);
    assert.equal(cache.stats().hits + cache.stats().misses, routedUnique);
    assert.ok(cache.stats().residentBytes <= cache.stats().budgetBytes, `resident ${cache.stats().residentBytes} > budget ${cache.stats().budgetBytes}`);
    const held = cache.residentExperts(0).length + cache.residentExperts(1).length;
    assert.equal(held * EXPERT_BYTES, cache.stats().residentBytes);
    full.dispose();
    budgeted.dispose();
  });

  it("refuses a budget below the dense weights, and weights not mapped from a file", async () => {
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir, { backend: "cpu", maxResidentBytes: 1000 }), /maxResidentBytes 1000 leaves nothing for experts: the dense weights alone take \d+ bytes/);
    const inMemory = syntheticCheckpoint("in memory", config, qwen2MoeTensors(config), "float32", 3);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(inMemory, { backend: "cpu", maxResidentBytes: 1e9 }), /expert cache: MoE layer 0 gate_up_proj is not memory-mapped from a checkpoint file/);
  });

  it("--max-memory takes sizes in bytes, K/M/G/T (powers of 1024) and names what is wrong", () => {
    assert.equal(parseByteSize("--max-memory", "2G"), 2 * 2 ** 30);
    assert.equal(parseByteSize("--max-memory", "1.5GiB"), 1.5 * 2 ** 30);
    assert.equal(parseByteSize("--max-memory", "512mb"), 512 * 2 ** 20);
    assert.equal(parseByteSize("--max-memory", "1500000000"), 1500000000);
    for (const bad of ["", "-1G", "2X", "0", "lots"]) assert.throws(() => parseByteSize("--max-memory", bad), /--max-memory must be a size such as 2G/);
    assert.equal(parseGenerateArgs(["m", "--ids", "1,2", "--max-memory", "3G"]).maxMemory, 3 * 2 ** 30);
  });
});
