/**
 * llama.cpp (node-llama-cpp, bench/peers/llama-cpp) as the oracle of the GGUF fixture models: greedy
 * tokens equal to moekit's, and next-token log-probabilities close, on the same files. Skips with a
 * message when the peer is not installed (bash bench/peers/llama-cpp/install.sh).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { expectedTensors, F32 } from "../models/model-fixtures.js";
import { GGUF_FAMILIES, ggufPath } from "../helpers/gguf-models.js";
import { llamaCppPeer } from "../helpers/llama-cpp-peer.js";

const { peer, why } = await llamaCppPeer();

/**
 * Fixtures with grouped-query attention llama.cpp cannot load: its olmoe normalises k over all heads
 * (n_embd) and its dots1 sizes k and v for n_head heads (the released models have n_kv_heads = n_heads);
 * its deepseek2 takes a model without q_lora_rank (DeepSeek-V2-Lite) only at the released layer counts.
 */
const LLAMA_CPP_CANNOT = new Set(["olmoe", "dots1", "deepseek_v2"]);
/** llama.cpp routes phimoe by softmax top-k (phi3.cpp); transformers, and moekit, by sparsemixer: only greedy ids compare. */
const ROUTED_DIFFERENTLY = new Set(["phimoe"]);

describe("GGUF models against llama.cpp", { skip: peer ? false : why }, () => {
  const opened: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const p of opened) await p.close();
  });
  for (const name of [...GGUF_FAMILIES.filter((f) => !LLAMA_CPP_CANNOT.has(f)), "qwen3_moe-q8_0-q4_0", "deepseek_v3-yarn", "gpt_oss-mxfp4"]) {
    // gpt_oss: llama.cpp rounds YaRN's correction range outward, transformers' gpt-oss (truncate false)
    // and moekit do not; on the fixture that moves the log-probabilities by ~4.5e-4 (~1.9e-4 with moekit
    // rounding too), inside the 1e-3.
    // llama.cpp multiplies block formats with activations rounded to q8_0: its log-probabilities move by ~1e-2
    const tol = name.includes("q8_0") || name.includes("mxfp4") ? 5e-2 : 1e-3;
    it(`${name}: greedy tokens equal, last-position log-probabilities within ${tol}`, async () => {
      const family = name.split("-")[0]!;
      const ex = await expectedTensors(F32, family);
      const s = ex.input_ids!.shape[1]!;
      const ids = Array.from((await ex.input_ids!.data()) as Int32Array).slice(0, s);
      const llama = await peer!.LlamaCppPeer.open({ modelPath: ggufPath(name), threads: 1, contextSize: 64 });
      opened.push(llama);
      const theirs = await llama.greedy(ids, 7);
      const model = await AutoModelForCausalLM.fromPretrained(ggufPath(name), { backend: referenceBackend });
      const prompt = Tensor.from(Int32Array.from(ids), [1, s]);
      const ours = (await (await model.generate(prompt, { maxNewTokens: 8, minNewTokens: 8 })).data()) as Int32Array;
      assert.deepEqual(Array.from(ours.slice(s)), theirs.ids, `${name}: moekit vs llama.cpp greedy`);
      if (ROUTED_DIFFERENTLY.has(family)) return;
      const lp = (await llama.logProbs(ids, [s - 1], model.vocabSize)).get(s - 1)!;
      const logits = (await (await model.forward(prompt)).logits.data()) as Float32Array;
      const row = logits.subarray((s - 1) * model.vocabSize, s * model.vocabSize);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
      let worst = 0;
      for (let v = 0; v < row.length; v++) if (lp[v]! > -20) worst = Math.max(worst, Math.abs(row[v]! - lse - lp[v]!));
      assert.ok(worst < tol, `${name}: log-probabilities differ by up to ${worst}`);
    });
  }
});
