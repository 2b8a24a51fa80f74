/**
 * Whole models from GGUF files: the fixture families written by gguf-py's GGUFWriter the way
 * convert_hf_to_gguf.py converts them (scripts/gguf_model_fixtures.py → test/fixtures/gguf/models) give
 * transformers' fixture logits (1e-4) and greedy ids on the reference backend, float GGUFs on cpu and
 * webgpu too; the experts are read in place (views over the GGUF stacks); a q8_0/q4_0 GGUF, and gpt-oss
 * with MXFP4 experts, give the logits of their dequantized copies; bad files fail naming the field.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { BufferSource } from "../../src/loading/byte-source.js";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import { encodeGguf } from "../../src/loading/gguf/writer.js";
import { GgufFile } from "../../src/loading/gguf/reader.js";
import { openGgufCheckpoint } from "../../src/loading/gguf-model/open.js";
import type { GgufMetadata, GgufTensorData } from "../../src/loading/gguf/index.js";
import { FileSource } from "../../src/loading/node-files.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import { AutoModelForCausalLM, loadCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32 } from "../models/model-fixtures.js";
import { GGUF_FAMILIES, GGUF_MODELS, ggufPath } from "../helpers/gguf-models.js";
import { webgpuOrSkip } from "../webgpu/setup.js";
import { optionalCpu } from "../helpers/optional-cpu.js";


async function firstRow(ids: Tensor): Promise<Tensor> {
  const s = ids.shape[1]!;
  return Tensor.from(((await ids.data()) as Int32Array).slice(0, s), [1, s]);
}

async function checkFixture(model: MoeForCausalLM, family: string, what: string): Promise<void> {
  const ex = await expectedTensors(F32, family);
  const { logits } = await model.forward(ex.input_ids!);
  assertClose(await logits.data(), await ex.logits!.data(), 1e-4, `${what} logits`);
  const prompt = await firstRow(ex.input_ids!);
  const out = (await (await model.generate(prompt, { maxNewTokens: 8, minNewTokens: 8, doSample: false })).data()) as Int32Array;
  assert.deepEqual(Array.from(out.slice(prompt.shape[1]!)), Array.from((await ex.greedy_ids!.data()) as Int32Array), `${what} greedy ids`);
}

describe("GGUF models on the reference backend match transformers", () => {
  for (const family of GGUF_FAMILIES) {
    it(`${family}: logits, greedy ids, every tensor used, experts as views`, async () => {
      const model = await AutoModelForCausalLM.fromPretrained(ggufPath(family), { backend: referenceBackend, expertsImplementation: "grouped_mm" });
      assert.equal(model.modelType, family);
      assert.deepEqual(model.unusedKeys, []);
      await checkFixture(model, family, family);
      const ffn = model.parts.layers[1]!.ffn;
      assert.equal(ffn.kind, "moe");
      if (ffn.kind === "moe") {
        const w = ffn.block.experts.weights;
        assert.ok(w.gateUp!.isView, "gate|up is a view over the GGUF's gate and up stacks");
        // granite's and gpt-oss's down is the ffn_down_exps stack itself; the others' a view of expert slices
        if (!family.startsWith("granite") && family !== "gpt_oss") assert.ok(w.down.isView, "down is a view over ffn_down_exps");
      }
    });
  }
});

const { cpu, why: cpuWhy } = await optionalCpu();

describe("float GGUF models on the cpu backend", { skip: cpu ? false : `cpu backend unavailable: ${cpuWhy}` }, () => {
  for (const family of ["qwen2_moe", "mixtral", "granitemoeshared", "gpt_oss"]) {
    it(`${family}: logits and greedy ids`, async () => {
      await checkFixture(await AutoModelForCausalLM.fromPretrained(ggufPath(family), { backend: cpu! }), family, `cpu ${family}`);
    });
  }
  it("gpt_oss-mxfp4: MXFP4 gate|up viewed from two stacks, concatenated clamp, near the reference backend's logits, same greedy ids", async () => {
    const [r, c] = [await AutoModelForCausalLM.fromPretrained(ggufPath("gpt_oss-mxfp4"), { backend: referenceBackend }), await AutoModelForCausalLM.fromPretrained(ggufPath("gpt_oss-mxfp4"), { backend: cpu! })];
    const ex = await expectedTensors(F32, "gpt_oss");
    assertClose(await (await c.forward(ex.input_ids!)).logits.data(), await (await r.forward(ex.input_ids!)).logits.data(), 2e-2, "cpu vs reference on mxfp4 experts");
    const prompt = await firstRow(ex.input_ids!);
    const gen = async (m: MoeForCausalLM) => Array.from((await (await m.generate(prompt, { maxNewTokens: 8, minNewTokens: 8 })).data()) as Int32Array);
    assert.deepEqual(await gen(c), await gen(r));
  });
});

const { backend: gpu, skip: gpuSkip } = await webgpuOrSkip();
describe("float GGUF models on the webgpu backend", { skip: gpuSkip }, () => {
  if (gpu) after(() => gpu.destroy());
  for (const family of ["qwen3_moe", "mixtral", "gpt_oss"]) {
    it(`${family}: logits and greedy ids`, async () => {
      await checkFixture(await AutoModelForCausalLM.fromPretrained(ggufPath(family), { backend: gpu! }), family, `webgpu ${family}`);
    });
  }
});

describe("block-format GGUF (experts q4_0, matrices q8_0)", () => {
  it("gives the logits and greedy ids of its dequantized copy (gguf-py's dequantize)", async () => {
    const q = await AutoModelForCausalLM.fromPretrained(ggufPath("qwen3_moe-q8_0-q4_0"), { backend: referenceBackend });
    const d = await AutoModelForCausalLM.fromPretrained(ggufPath("qwen3_moe-q8_0-q4_0-dequant"), { backend: referenceBackend });
    const ffn = q.parts.layers[0]!.ffn;
    assert.ok(ffn.kind === "moe" && ffn.block.experts.weights.gateUp!.dtype === "q4_0", "experts stay q4_0");
    assert.equal(q.parts.embedTokens.dtype, "q8_0");
    const ex = await expectedTensors(F32, "qwen3_moe");
    const [lq, ld] = [(await q.forward(ex.input_ids!)).logits, (await d.forward(ex.input_ids!)).logits];
    assertClose(await lq.data(), await ld.data(), 1e-5, "q8_0/q4_0 vs dequantized");
    const prompt = await firstRow(ex.input_ids!);
    const gen = async (m: MoeForCausalLM) => Array.from((await (await m.generate(prompt, { maxNewTokens: 8, minNewTokens: 8 })).data()) as Int32Array);
    assert.deepEqual(await gen(q), await gen(d));
  });
});

describe("gpt-oss from GGUF (llama.cpp's gpt-oss)", () => {
  it("config from the metadata: YaRN unrounded as transformers', alternating sliding layers, biases, the stacks layout", async () => {
    const ckpt = await openGgufCheckpoint(new FileSource(ggufPath("gpt_oss")));
    const c = ckpt.config;
    assert.deepEqual(c.rope_parameters, { rope_theta: 150000, rope_type: "yarn", factor: 32, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, truncate: false });
    assert.deepEqual([c.sliding_window, c.layer_types, c.head_dim, c.num_local_experts, c.intermediate_size, c.attention_bias], [8, ["sliding_attention", "full_attention"], 16, 8, 32, true]);
    assert.equal(c.experts_layout, "gate_up_stacks");
  });

  it("experts: gate|up a view of ffn_gate_exps and ffn_up_exps with a concatenated clamped gate; only the gate|up bias is copied", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(ggufPath("gpt_oss"), { backend: referenceBackend });
    const ffn = model.parts.layers[0]!.ffn;
    assert.ok(ffn.kind === "moe");
    const w = ffn.block.experts.weights;
    assert.deepEqual(w.gate, { kind: "concatenated", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 7 } });
    assert.deepEqual([w.gateUp!.isView, [...w.gateUp!.shape], [...w.down.shape], [...w.gateUpBias!.shape], [...w.downBias!.shape]], [true, [8, 64, 64], [8, 64, 32], [8, 64], [8, 64]]);
    const file = await GgufFile.open(new FileSource(ggufPath("gpt_oss")));
    const [gate, up] = [await file.tensorBytes("blk.0.ffn_gate_exps.bias"), await file.tensorBytes("blk.0.ffn_up_exps.bias")];
    const f32 = (b: Uint8Array) => new Float32Array(b.slice().buffer);
    const bias = (await w.gateUpBias!.data()) as Float32Array;
    assert.deepEqual([...bias.subarray(64, 96)], [...f32(gate.bytes).subarray(32, 64)], "expert 1's gate bias, then its up bias");
    assert.deepEqual([...bias.subarray(96, 128)], [...f32(up.bytes).subarray(32, 64)]);
  });

  it("MXFP4 experts (gguf.quants.quantize) stay mxfp4 and give the logits and greedy ids of the dequantized copy", async () => {
    const q = await AutoModelForCausalLM.fromPretrained(ggufPath("gpt_oss-mxfp4"), { backend: referenceBackend });
    const d = await AutoModelForCausalLM.fromPretrained(ggufPath("gpt_oss-mxfp4-dequant"), { backend: referenceBackend });
    const ffn = q.parts.layers[1]!.ffn;
    assert.ok(ffn.kind === "moe" && ffn.block.experts.weights.gateUp!.dtype === "mxfp4" && ffn.block.experts.weights.down.dtype === "mxfp4", "experts stay mxfp4");
    const ex = await expectedTensors(F32, "gpt_oss");
    const [lq, ld] = [(await q.forward(ex.input_ids!)).logits, (await d.forward(ex.input_ids!)).logits];
    assertClose(await lq.data(), await ld.data(), 1e-5, "mxfp4 vs dequantized");
    assert.ok(maxAbsDiff(await lq.data(), await ex.logits!.data()) > 1e-2, "MXFP4 rounding moves the logits (the files differ)");
    const prompt = await firstRow(ex.input_ids!);
    const gen = async (m: MoeForCausalLM) => Array.from((await (await m.generate(prompt, { maxNewTokens: 8, minNewTokens: 8 })).data()) as Int32Array);
    assert.deepEqual(await gen(q), await gen(d));
  });

  it("refuses what moekit's gpt_oss cannot run, naming the field", async () => {
    const swaBase = await editedFixture((m) => m.set("gpt-oss.rope.freq_base_swa", { type: "float32", value: 10000 }), "gpt_oss");
    await assert.rejects(openGgufCheckpoint(swaBase), /metadata 'gpt-oss\.rope\.freq_base_swa' is 10000; moekit's gpt_oss rotates every layer with rope\.freq_base/);
    const noWindow = await editedFixture((m) => m.delete("gpt-oss.attention.sliding_window"), "gpt_oss");
    await assert.rejects(openGgufCheckpoint(noWindow), /metadata 'gpt-oss\.attention\.sliding_window' is missing/);
    const noUpBias = await editedFixture((_, t) => t.splice(t.findIndex((x) => x.name === "blk.1.ffn_up_exps.bias"), 1), "gpt_oss");
    await assert.rejects(loadCausalLM(await openGgufCheckpoint(noUpBias), { backend: referenceBackend }), /'blk\.1\.ffn_gate_exps\.bias' needs its partner 'blk\.1\.ffn_up_exps\.bias'/);
    const pattern = await openGgufCheckpoint(await editedFixture((m) => m.set("gpt-oss.attention.sliding_window_pattern", { type: "uint32", value: 1 }), "gpt_oss"));
    assert.deepEqual(pattern.config.layer_types, ["full_attention", "full_attention"], "pattern 1: no sliding layer (llama.cpp's set_swa_pattern)");
  });
});

describe("YaRN-scaled RoPE from GGUF metadata", () => {
  it("deepseek2 with rope.scaling.* (yarn, log multiplier) gives transformers' logits for the same YaRN config", async () => {
    const ckpt = await openGgufCheckpoint(new FileSource(ggufPath("deepseek_v3-yarn")));
    const rope = ckpt.config.rope_parameters as Record<string, unknown>;
    assert.deepEqual([rope.rope_type, rope.factor, rope.original_max_position_embeddings, rope.mscale_all_dim], ["yarn", 4, 64, 1.0000000149011612]);
    const model = await loadCausalLM(ckpt, { backend: referenceBackend });
    const ex = await expectedTensors(F32, "deepseek_v3");
    const expected = await Checkpoint.fromSources("yarn", {}, [new FileSource(join(GGUF_MODELS, "deepseek_v3-yarn.expected.safetensors"))]);
    const want = await expected.tensor("logits", { expect: "float" });
    const logits = await (await model.forward(ex.input_ids!)).logits.data();
    assertClose(logits, await want.data(), 1e-4, "yarn logits");
    assert.ok(maxAbsDiff(logits, await ex.logits!.data()) > 1e-2, "the scaling changes the logits (the test can fail)");
  });
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A small valid GGUF (qwen3moe unless named) in memory, with edits, for the refusal tests. */
async function editedFixture(edit: (m: GgufMetadata, t: GgufTensorData[]) => void, family = "qwen3_moe"): Promise<BufferSource> {
  const file = await GgufFile.open(new FileSource(ggufPath(family)));
  const metadata: GgufMetadata = new Map(file.metadata);
  const tensors: GgufTensorData[] = [];
  for (const [name, info] of file.tensors) tensors.push({ name, shape: info.shape, format: info.format!, data: (await file.tensorBytes(name)).bytes });
  edit(metadata, tensors);
  return new BufferSource("edited.gguf", encodeGguf(metadata, tensors));
}

describe("bad GGUF models fail naming the field", () => {
  it("an edited copy that changes nothing still loads (the test harness is sound)", async () => {
    const ck = await openGgufCheckpoint(await editedFixture(() => {}));
    await checkFixture(await loadCausalLM(ck, { backend: referenceBackend }), "qwen3_moe", "re-encoded qwen3_moe");
  });
  it("unknown architecture", async () => {
    const src = await editedFixture((m) => m.set("general.architecture", { type: "string", value: "mamba" }));
    await assert.rejects(openGgufCheckpoint(src), /general\.architecture' is 'mamba', which moekit does not run/);
  });
  it("missing metadata", async () => {
    const src = await editedFixture((m) => m.delete("qwen3moe.expert_used_count"));
    await assert.rejects(openGgufCheckpoint(src), /metadata 'qwen3moe\.expert_used_count' is missing/);
  });
  it("metadata of the wrong type", async () => {
    const src = await editedFixture((m) => m.set("qwen3moe.block_count", { type: "string", value: "2" }));
    await assert.rejects(openGgufCheckpoint(src), /metadata 'qwen3moe\.block_count' is string, expected an integer/);
  });
  it("a tensor whose shape the metadata contradicts", async () => {
    const src = await editedFixture((m) => m.set("qwen3moe.expert_feed_forward_length", { type: "uint32", value: 16 }));
    await assert.rejects(loadCausalLM(await openGgufCheckpoint(src), { backend: referenceBackend }), /experts\.0\.gate_proj\.weight' has shape \[32, 64\], config implies \[16, 64\]/);
  });
  it("a missing expert stack", async () => {
    const src = await editedFixture((_, t) => t.splice(t.findIndex((x) => x.name === "blk.1.ffn_up_exps.weight"), 1));
    await assert.rejects(loadCausalLM(await openGgufCheckpoint(src), { backend: referenceBackend }), /missing 8 tensor\(s\).*model\.layers\.1\.mlp\.experts\.0\.up_proj\.weight/);
  });
  it("RoPE scaling it cannot apply, or YaRN without its factor", async () => {
    const linear = await editedFixture((m) => m.set("qwen3moe.rope.scaling.type", { type: "string", value: "linear" }));
    await assert.rejects(openGgufCheckpoint(linear), /'qwen3moe\.rope\.scaling\.type' is 'linear': moekit reads RoPE scaling 'yarn'/);
    const yarn = await editedFixture((m) => m.set("qwen3moe.rope.scaling.type", { type: "string", value: "yarn" }));
    await assert.rejects(openGgufCheckpoint(yarn), /metadata 'qwen3moe\.rope\.scaling\.factor' is missing/);
  });
  it("a .gguf path that does not exist", async () => {
    await assert.rejects(AutoModelForCausalLM.fromPretrained("/no/such/model.gguf"), /GGUF file '\/no\/such\/model\.gguf' does not exist/);
  });
});
