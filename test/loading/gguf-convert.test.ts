/**
 * `moekit convert`: fixture checkpoints written as GGUF by moekit's writer hold exactly the tensors
 * gguf-py's converter-style writer produced (names, shapes, types, bytes: scripts/gguf_model_fixtures.py),
 * load back in moekit with the fixture logits, quantize bit-exactly as gguf-py does, and run in
 * llama.cpp with the same greedy tokens where node-llama-cpp is installed.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { convertCommand } from "../../src/cli/convert.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { readFile } from "node:fs/promises";
import { GgufFile } from "../../src/loading/gguf/reader.js";
import { ggufMetadataOf } from "../../src/loading/gguf-model/convert.js";
import { openGgufCheckpoint } from "../../src/loading/gguf-model/open.js";
import { FileSource } from "../../src/loading/node-files.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { GGUF_FAMILIES, ggufPath } from "../helpers/gguf-models.js";
import { expectedTensors, F32, familyDir, K256 } from "../models/model-fixtures.js";
import { llamaCppPeer } from "../helpers/llama-cpp-peer.js";
import { publishedGptOss } from "../helpers/gpt-oss-mxfp4.js";

// before any suite is declared: a top-level await between suites lets the file's after() run too early
const { peer, why } = await llamaCppPeer();

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "moekit-convert-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function convert(family: string, dtype: string, fixtures = F32): Promise<string> {
  const out = join(dir, `${family}-${dtype}-${basename(fixtures.dir)}.gguf`);
  let err = "";
  const code = await convertCommand([familyDir(fixtures, family), "-o", out, "--dtype", dtype], { out: () => {}, err: (s) => (err += s) });
  assert.equal(code, 0, err);
  assert.match(err, /wrote .*\.gguf: [\w-]+, \d+ tensors/);
  return out;
}

async function firstRow(ids: Tensor): Promise<Tensor> {
  const s = ids.shape[1]!;
  return Tensor.from(((await ids.data()) as Int32Array).slice(0, s), [1, s]);
}

async function greedy(path: string, prompt: Tensor): Promise<number[]> {
  const m = await AutoModelForCausalLM.fromPretrained(path, { backend: referenceBackend });
  return Array.from(((await (await m.generate(prompt, { maxNewTokens: 8, minNewTokens: 8 })).data()) as Int32Array).slice(prompt.shape[1]!));
}

describe("moekit convert", () => {
  for (const family of GGUF_FAMILIES) {
    it(`${family} f32: the tensors gguf-py's converter writes, and the fixture logits back in moekit`, async () => {
      const path = await convert(family, "f32");
      const [ours, theirs] = [await GgufFile.open(new FileSource(path)), await GgufFile.open(new FileSource(ggufPath(family)))];
      assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
      for (const [name, t] of theirs.tensors) {
        const o = ours.info(name);
        assert.deepEqual([o.type.ggml, ...o.dims], [t.type.ggml, ...t.dims], name);
        assert.deepEqual((await ours.tensorBytes(name)).bytes, (await theirs.tensorBytes(name)).bytes, `${name} bytes`);
      }
      for (const key of ["general.architecture", `${theirs.string("general.architecture")}.expert_count`, `${theirs.string("general.architecture")}.rope.freq_base`]) {
        assert.deepEqual(ours.get(key), theirs.get(key), key);
      }
      const ex = await expectedTensors(F32, family);
      const model = await AutoModelForCausalLM.fromPretrained(path, { backend: referenceBackend });
      assertClose(await (await model.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 1e-4, `${family} converted`);
    });
  }

  it("f16 and bf16: matrices in the type, vectors and routers f32, logits near the fixture's", async () => {
    const ex = await expectedTensors(F32, "qwen3_moe");
    for (const [dtype, ggml, tol] of [["f16", "f16", 2e-2], ["bf16", "bf16", 1e-1]] as const) {
      const path = await convert("qwen3_moe", dtype);
      const f = await GgufFile.open(new FileSource(path));
      assert.equal(f.info("blk.0.ffn_gate_exps.weight").type.ggml, ggml);
      assert.equal(f.info("blk.0.attn_norm.weight").type.ggml, "f32");
      assert.equal(f.info("blk.0.ffn_gate_inp.weight").type.ggml, "f32", "routers stay f32");
      const model = await AutoModelForCausalLM.fromPretrained(path, { backend: referenceBackend });
      assertClose(await (await model.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), tol, `qwen3_moe ${dtype}`);
    }
  });

  it("q8_0 and q4_0: blocks bit-equal to gguf-py's quantize", async () => {
    const q8 = await GgufFile.open(new FileSource(await convert("qwen3_moe", "q8_0")));
    const q4 = await GgufFile.open(new FileSource(await convert("qwen3_moe", "q4_0")));
    const py = await GgufFile.open(new FileSource(ggufPath("qwen3_moe-q8_0-q4_0")));
    let compared = 0;
    for (const [name, t] of py.tensors) {
      const ours = t.type.ggml === "q8_0" ? q8 : t.type.ggml === "q4_0" ? q4 : undefined;
      if (!ours || ours.info(name).type.ggml !== t.type.ggml) continue;
      assert.deepEqual((await ours.tensorBytes(name)).bytes, (await py.tensorBytes(name)).bytes, `${name} (${t.type.ggml})`);
      compared++;
    }
    assert.ok(compared >= 10, `compared ${compared} quantized tensors`);
  });

  // qwen2_moe with rows of 256 values, so every K-quant fits: layer 1 is one of the layers llama.cpp's
  // use_more_bits picks in a 2-layer model, layer 0 is not.
  const K_MIXES = {
    q4_k_m: {
      "blk.0.attn_q.weight": "q4_K", "blk.0.attn_v.weight": "q4_K", "blk.1.attn_v.weight": "q6_K",
      "blk.0.ffn_down_exps.weight": "q4_K", "blk.1.ffn_down_exps.weight": "q6_K", "blk.1.ffn_down_shexp.weight": "q6_K",
      "blk.0.ffn_gate_exps.weight": "q4_K", "output.weight": "q6_K", "token_embd.weight": "f16", "blk.0.ffn_gate_inp.weight": "f32",
    },
    mxfp4: { "blk.0.ffn_gate_exps.weight": "mxfp4", "blk.1.ffn_down_exps.weight": "mxfp4", "blk.0.attn_q.weight": "q8_0", "blk.0.ffn_up_shexp.weight": "q8_0", "output.weight": "q8_0" },
  } as const;
  for (const [dtype, formats] of Object.entries(K_MIXES)) {
    it(`${dtype}: llama.cpp's mix, as fromPretrained(dir, { dtype }) quantizes, and its logits`, async () => {
      const path = await convert("qwen2_moe", dtype, K256);
      const f = await GgufFile.open(new FileSource(path));
      for (const [name, ggml] of Object.entries(formats)) assert.equal(f.info(name).type.ggml, ggml, name);
      const ex = await expectedTensors(K256, "qwen2_moe");
      const fromGguf = await AutoModelForCausalLM.fromPretrained(path, { backend: referenceBackend });
      const atLoad = await AutoModelForCausalLM.fromPretrained(familyDir(K256, "qwen2_moe"), { backend: referenceBackend, dtype: dtype as "q4_k_m" | "mxfp4" });
      const [a, b] = [await (await fromGguf.forward(ex.input_ids!)).logits.data(), await (await atLoad.forward(ex.input_ids!)).logits.data()];
      // the same blocks; only the token embeddings differ (f16 in the file, float32 at load)
      assertClose(a, b, 2e-3, `${dtype} GGUF vs quantized at load`);
    });
  }

  it("gpt_oss: the metadata reads back to the fixture GGUF's config; YaRN it cannot write back, or other sliding layers, are refused", async () => {
    const path = await convert("gpt_oss", "f32");
    assert.deepEqual((await openGgufCheckpoint(new FileSource(path))).config, (await openGgufCheckpoint(new FileSource(ggufPath("gpt_oss")))).config);
    const cfg = JSON.parse(await readFile(join(familyDir(F32, "gpt_oss"), "config.json"), "utf8")) as Record<string, unknown>;
    const rope = cfg.rope_parameters as Record<string, unknown>;
    assert.throws(() => ggufMetadataOf({ ...cfg, rope_parameters: { ...rope, truncate: true } }, "x"), /rope_parameters\.truncate is true; gpt-oss GGUFs read back as YaRN with truncate false/);
    assert.throws(() => ggufMetadataOf({ ...cfg, rope_parameters: { ...rope, attention_factor: 1.2 } }, "x"), /rope_parameters\.attention_factor: moekit converts gpt_oss's YaRN without it/);
    assert.throws(() => ggufMetadataOf({ ...cfg, layer_types: ["full_attention", "sliding_attention"] }, "x"), /llama\.cpp's gpt-oss slides on even layers only/);
  });

  it("gpt_oss published as MXFP4: experts stay MXFP4 (gate and up rows split), bytes equal to gguf-py's file, logits of the checkpoint", async () => {
    const published = await publishedGptOss(familyDir(F32, "gpt_oss"));
    try {
      const out = join(dir, "gpt_oss-published.gguf");
      let err = "";
      const code = await convertCommand([published, "-o", out, "--dtype", "f32"], { out: () => {}, err: (s) => (err += s) });
      assert.equal(code, 0, err);
      const [ours, theirs] = [await GgufFile.open(new FileSource(out)), await GgufFile.open(new FileSource(ggufPath("gpt_oss-mxfp4")))];
      assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
      for (const [name, t] of theirs.tensors) {
        assert.equal(ours.info(name).type.ggml, t.type.ggml, name);
        assert.deepEqual((await ours.tensorBytes(name)).bytes, (await theirs.tensorBytes(name)).bytes, `${name} bytes`);
      }
      assert.equal(ours.info("blk.1.ffn_up_exps.weight").type.ggml, "mxfp4");
      const ids = Tensor.from(Int32Array.from([3, 17, 42, 7, 99, 5]), [1, 6]);
      const fromGguf = await AutoModelForCausalLM.fromPretrained(out, { backend: referenceBackend });
      const fromCkpt = await AutoModelForCausalLM.fromPretrained(published, { backend: referenceBackend });
      assertClose(await (await fromGguf.forward(ids)).logits.data(), await (await fromCkpt.forward(ids)).logits.data(), 1e-5, "converted vs published checkpoint");
    } finally {
      await rm(published, { recursive: true, force: true });
    }
  });

  it("refuses clearly: usage, unknown dtype, a family it cannot convert, a missing output directory", async () => {
    const run = async (argv: string[]) => {
      let err = "";
      const code = await convertCommand(argv, { out: () => {}, err: (s) => (err += s) });
      return { code, err };
    };
    assert.deepEqual(await run([familyDir(F32, "olmoe")]), { code: 2, err: "moekit convert: missing -o FILE.gguf\n" });
    const bad = await run([familyDir(F32, "olmoe"), "-o", join(dir, "x.gguf"), "--dtype", "q3_k"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--dtype must be one of f32, f16, bf16, q8_0, q4_0, q5_0, q4_k, q6_k, mxfp4, q4_k_m, got 'q3_k'/);
    const dbrx = await run([familyDir(F32, "dbrx"), "-o", join(dir, "d.gguf")]);
    assert.equal(dbrx.code, 1);
    assert.match(dbrx.err, /model_type 'dbrx' cannot be converted to GGUF yet/);
    const nodir = await run([familyDir(F32, "olmoe"), "-o", join(dir, "no", "x.gguf")]);
    assert.match(nodir.err, /does not exist \(create it first\)/);
    assert.match((await run([familyDir(F32, "olmoe"), "-o", "x.bin"])).err, /must end in \.gguf/);
  });
});

describe("converted files in llama.cpp", { skip: peer ? false : why }, () => {
  for (const [family, dtype] of [["qwen2_moe", "f16"], ["mixtral", "q8_0"], ["granitemoeshared", "q4_0"], ["phimoe", "f32"], ["hunyuan_v1_moe", "f16"], ["ernie4_5_moe", "q8_0"], ["glm4_moe", "f32"], ["deepseek_v3", "f16"], ["gpt_oss", "f16"], ["qwen2_moe", "q4_k_m"], ["qwen2_moe", "mxfp4"]] as const) {
    it(`${family} ${dtype}: llama.cpp loads it and gives moekit's greedy tokens`, async () => {
      const fixtures = dtype === "q4_k_m" || dtype === "mxfp4" ? K256 : F32;
      const path = await convert(family, dtype, fixtures);
      const ex = await expectedTensors(fixtures, family);
      const prompt = await firstRow(ex.input_ids!);
      const llama = await peer!.LlamaCppPeer.open({ modelPath: path, threads: 1, contextSize: 64 });
      try {
        const theirs = await llama.greedy(Array.from((await prompt.data()) as Int32Array), 7);
        assert.deepEqual(await greedy(path, prompt), theirs.ids);
      } finally {
        await llama.close();
      }
    });
  }
});
