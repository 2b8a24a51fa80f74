/**
 * The synthetic Qwen1.5-MoE as a GGUF (src/bench/qwen-gguf.ts), at tiny dims: gguf-py's qwen2moe names,
 * shapes and formats, the same seeded weights byte for byte, and — where node-llama-cpp is installed
 * (bench/peers/llama-cpp/install.sh) — llama.cpp loads it and its next-token log-probabilities and greedy
 * ids agree with moekit's reference model on the same synthetic checkpoint.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { llamaCppInstalled, INSTALL_HINT } from "../../bench/peers/llama-cpp/node-llama-cpp.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { writeQwenSyntheticGguf } from "../../src/bench/qwen-gguf.js";
import { qwen15MoeConfig } from "../../src/bench/qwen-dims.js";
import { qwen2MoeTensors } from "../../src/bench/qwen-synthetic.js";
import { syntheticCheckpoint, SyntheticProvider } from "../../src/bench/synthetic.js";
import { widenToF32 } from "../../src/dtype.js";
import { GgufFile } from "../../src/loading/gguf/reader.js";
import { FileSource } from "../../src/loading/node-files.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";

const TINY = {
  ...qwen15MoeConfig(2),
  hidden_size: 64,
  intermediate_size: 128,
  moe_intermediate_size: 32,
  shared_expert_intermediate_size: 64,
  num_experts: 8,
  num_experts_per_tok: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 16,
  vocab_size: 512,
  max_position_embeddings: 256,
  dtype: "bfloat16",
};
const SEED = 3;

describe("synthetic Qwen1.5-MoE as GGUF", () => {
  let dir = "";
  let path = "";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "moekit-qwen-gguf-"));
    path = join(dir, "tiny.gguf");
    await writeQwenSyntheticGguf(path, 2, "bfloat16", SEED, TINY);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes gguf-py's qwen2moe tensor names, shapes and formats with the same seeded weights", async () => {
    const g = await GgufFile.open(new FileSource(path));
    assert.equal(g.string("general.architecture"), "qwen2moe");
    assert.equal(g.integer("qwen2moe.expert_count"), 8);
    assert.equal(g.integer("qwen2moe.expert_used_count"), 2);
    assert.equal(g.integer("qwen2moe.expert_feed_forward_length"), 32);
    assert.equal(g.integer("qwen2moe.expert_shared_feed_forward_length"), 64);
    assert.equal(g.integer("general.file_type"), 32);
    const layer = (n: string) => [0, 1].map((l) => `blk.${l}.${n}`);
    const names = [
      "token_embd.weight",
      "output_norm.weight",
      "output.weight",
      ...["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate_inp", "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps", "ffn_gate_inp_shexp", "ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp"].flatMap((n) => layer(`${n}.weight`)),
      ...["attn_q", "attn_k", "attn_v"].flatMap((n) => layer(`${n}.bias`)),
    ];
    assert.deepEqual([...g.tensors.keys()].sort(), names.sort());
    assert.deepEqual(g.info("blk.1.ffn_gate_exps.weight").dims, [64, 32, 8]);
    assert.deepEqual(g.info("blk.1.ffn_down_exps.weight").dims, [32, 64, 8]);
    assert.deepEqual(g.info("token_embd.weight").dims, [64, 512]);
    assert.equal(g.info("blk.0.ffn_gate_inp.weight").format, "float32");
    assert.equal(g.info("blk.0.attn_q.bias").format, "float32");
    assert.equal(g.info("blk.0.attn_q.weight").format, "bfloat16");

    const provider = new SyntheticProvider(qwen2MoeTensors(TINY), "bfloat16", SEED);
    const down = (await g.tensorBytes("blk.1.ffn_down_exps.weight")).bytes;
    const e5 = (await provider.tensor("model.layers.1.mlp.experts.5.down_proj.weight")).storage as Uint16Array;
    assert.deepEqual(new Uint16Array(down.buffer, down.byteOffset + 5 * e5.byteLength, e5.length), e5);
    const router = (await g.tensorBytes("blk.0.ffn_gate_inp.weight")).bytes;
    const hfRouter = (await provider.tensor("model.layers.0.mlp.gate.weight")).storage as Uint16Array;
    assert.deepEqual(new Float32Array(router.buffer, router.byteOffset, hfRouter.length), widenToF32(hfRouter, "bfloat16"));
  });

  it("loads in llama.cpp, whose next-token log-probabilities and greedy ids match moekit's reference model", async (t) => {
    if (!llamaCppInstalled()) {
      t.skip(`node-llama-cpp is not installed (the llama.cpp peer is optional; install it with: ${INSTALL_HINT})`);
      return;
    }
    const { LlamaCppPeer } = await import("../../bench/peers/llama-cpp/client.js");
    const prompt = [17, 300, 5, 99, 260, 401, 42, 7];
    const peer = await LlamaCppPeer.open({ modelPath: path, threads: 2, contextSize: 64 });
    let theirs: Map<number, Float64Array>;
    let theirIds: number[];
    try {
      theirs = await peer.logProbs(prompt, prompt.map((_, i) => i), 512);
      theirIds = (await peer.greedy(prompt, 7)).ids;
    } finally {
      await peer.close();
    }
    const model = await AutoModelForCausalLM.fromPretrained(syntheticCheckpoint("tiny", TINY, qwen2MoeTensors(TINY), "bfloat16", SEED), { backend: referenceBackend });
    const { logits } = await model.forward(Tensor.from(Int32Array.from(prompt), [1, prompt.length]));
    const all = (await logits.data()) as Float32Array;
    let worst = 0;
    for (let i = 0; i < prompt.length; i++) {
      const row = all.subarray(i * 512, (i + 1) * 512);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      const lp = theirs.get(i)!;
      for (let v = 0; v < 512; v++) worst = Math.max(worst, Math.abs(row[v]! - lse - lp[v]!));
    }
    // llama.cpp's CPU bf16 matmul rounds activations to bf16 (moekit's reference keeps float32): measured 0.006.
    assert.ok(worst < 0.02, `log-probabilities differ by up to ${worst}`);
    const ours = await model.generate(Tensor.from(Int32Array.from(prompt), [1, prompt.length]), { maxNewTokens: 8, minNewTokens: 8, doSample: false });
    assert.deepEqual(Array.from(((await ours.data()) as Int32Array).slice(prompt.length)), theirIds);
  });
});
