import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { editedCopy } from "./checkpoint-copies.js";
import { F32, familyDir } from "./model-fixtures.js";

const QWEN = familyDir(F32, "qwen2_moe");

describe("loading errors", () => {
  it("missing tensors: one error naming every missing key", async () => {
    const dir = await editedCopy(QWEN, { drop: ["model.layers.0.self_attn.q_proj.bias", "model.layers.1.input_layernorm.weight", "lm_head.weight"] });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), (e: Error) => {
      assert.match(e.message, /missing 3 tensor/);
      for (const k of ["model.layers.0.self_attn.q_proj.bias", "model.layers.1.input_layernorm.weight", "lm_head.weight"]) assert.ok(e.message.includes(`'${k}'`), k);
      return true;
    });
  });

  it("a missing expert tensor is named", async () => {
    const dir = await editedCopy(QWEN, { drop: ["model.layers.1.mlp.experts.3.up_proj.weight"] });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), /model\.layers\.1\.mlp\.experts\.3\.up_proj\.weight/);
  });

  it("a tensor whose shape contradicts the config", async () => {
    const dir = await editedCopy(QWEN, { replace: { "model.layers.0.self_attn.k_proj.weight": Tensor.from(new Float32Array(48 * 64), [48, 64]) } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), /'model\.layers\.0\.self_attn\.k_proj\.weight' has shape \[48, 64\], config implies \[32, 64\]/);
  });

  it("a config that contradicts every tensor (hidden_size)", async () => {
    const dir = await editedCopy(QWEN, { config: { hidden_size: 96 } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), /model\.embed_tokens\.weight' has shape \[512, 64\], config implies \[512, 96\]/);
  });

  it("unused checkpoint keys are reported, not fatal", async () => {
    const dir = await editedCopy(QWEN, { add: { "model.mtp.extra": Tensor.from(new Float32Array(4), [4]) } });
    const model = await AutoModelForCausalLM.fromPretrained(dir, { onWarning: () => {} });
    assert.deepEqual(model.unusedKeys, ["model.mtp.extra"]);
  });

  it("corrupt or missing files", async () => {
    const dir = await editedCopy(QWEN);
    await writeFile(join(dir, "model.safetensors"), new Uint8Array([1, 2, 3]));
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), /not a safetensors file/);
    await writeFile(join(dir, "config.json"), "{ not json");
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), /config\.json: invalid JSON/);
    const empty = await mkdtemp(join(tmpdir(), "moekit-empty-"));
    await assert.rejects(AutoModelForCausalLM.fromPretrained(empty), /has no config\.json/);
  });

  it("an unsupported model_type lists the supported ones", async () => {
    const dir = await editedCopy(QWEN, { config: { model_type: "llama" } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), /unsupported model_type "llama": supported are qwen2_moe, .*hunyuan_v1_moe/);
  });

  it("an unknown experts implementation, at load and at run time", async () => {
    await assert.rejects(AutoModelForCausalLM.fromPretrained(QWEN, { expertsImplementation: "fastest" }), /unknown experts implementation "fastest": valid are 'eager', 'batched_mm', 'grouped_mm'/);
    const model = await AutoModelForCausalLM.fromPretrained(QWEN, { expertsImplementation: { "": "batched_mm" } });
    assert.equal(model.getExpertsImplementation(), "batched_mm");
    assert.throws(() => model.setExpertsImplementation("fastest"), /unknown experts implementation/);
    assert.equal(model.getExpertsImplementation(), "batched_mm", "a rejected switch changes nothing");
    assert.throws(() => model.setExpertsImplementation({ vision: "eager" }), /keys 'vision'/);
  });

  it("a repo id that is not a local directory fails fast and clearly (no network here)", async () => {
    const hubName = "@huggingface/hub";
    const hubInstalled = await import(hubName).then(() => true, () => false);
    const t0 = Date.now();
    const prev = process.env.HF_HUB_CACHE;
    process.env.HF_HUB_CACHE = await mkdtemp(join(tmpdir(), "moekit-hub-"));
    try {
      // With @huggingface/hub (an optional dependency) the download is tried and fails offline; without it, the error says what to install.
      const expected = hubInstalled
        ? /could not download 'allenai\/OLMoE-1B-7B-0924' \(offline, or no access\?\)/
        : /not a local directory and is not in the Hugging Face cache.*@huggingface\/hub/;
      await assert.rejects(AutoModelForCausalLM.fromPretrained("allenai/OLMoE-1B-7B-0924"), expected);
      await assert.rejects(AutoModelForCausalLM.fromPretrained("./no/such/dir"), /neither a local directory, a \.gguf file nor a Hugging Face repo id/);
    } finally {
      if (prev === undefined) delete process.env.HF_HUB_CACHE;
      else process.env.HF_HUB_CACHE = prev;
    }
    assert.ok(Date.now() - t0 < 5000);
  });

  it("a repo id found in the Hugging Face cache loads from its snapshot", async () => {
    const hub = await mkdtemp(join(tmpdir(), "moekit-hub-"));
    const { mkdir, cp } = await import("node:fs/promises");
    const snap = join(hub, "models--acme--tiny-moe", "snapshots", "abc123");
    await mkdir(join(hub, "models--acme--tiny-moe", "refs"), { recursive: true });
    await writeFile(join(hub, "models--acme--tiny-moe", "refs", "main"), "abc123");
    await cp(QWEN, snap, { recursive: true });
    const prev = process.env.HF_HUB_CACHE;
    process.env.HF_HUB_CACHE = hub;
    try {
      const model = await AutoModelForCausalLM.fromPretrained("acme/tiny-moe");
      assert.equal(model.modelType, "qwen2_moe");
    } finally {
      if (prev === undefined) delete process.env.HF_HUB_CACHE;
      else process.env.HF_HUB_CACHE = prev;
    }
  });
});

describe("input errors", () => {
  it("token ids outside the vocabulary", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(QWEN);
    await assert.rejects(model.forward(Tensor.from(Int32Array.from([1, 2, 512]), [1, 3])), /token id 512 at \[0, 2\] is outside the vocabulary \[0, 512\)/);
    await assert.rejects(model.forward(Tensor.from(Int32Array.from([-1]), [1, 1])), /token id -1/);
    await assert.rejects(model.generate(Tensor.from(Int32Array.from([3, 9999]), [1, 2])), /outside the vocabulary/);
  });

  it("prompts longer than max_position_embeddings, and caches that would overflow it", async () => {
    const cfg = JSON.parse(await readFile(join(QWEN, "config.json"), "utf8")) as { max_position_embeddings: number };
    const model = await AutoModelForCausalLM.fromPretrained(QWEN);
    const n = cfg.max_position_embeddings + 1;
    const long = Tensor.from(new Int32Array(n).fill(5), [1, n]);
    await assert.rejects(model.forward(long), new RegExp(`${n} tokens .* exceed the model's context of ${n - 1}`));
    await assert.rejects(model.generate(long), new RegExp(`prompt has ${n} tokens, more than the model's context of ${n - 1}`));
    // generation stops at the context length instead of overflowing it
    const near = Tensor.from(new Int32Array(n - 3).fill(5), [1, n - 3]);
    const out = await model.generate(near, { maxNewTokens: 10, eosTokenId: null });
    assert.deepEqual([...out.shape], [1, n - 1]);
  });

  it("wrong input shapes and dtypes", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(QWEN);
    await assert.rejects(model.forward(Tensor.from(new Float32Array([1, 2]), [1, 2])), /int32 \[B, S\]/);
    await assert.rejects(model.forward(Tensor.from(Int32Array.from([1, 2]), [2])), /int32 \[B, S\]/);
    const ids = Tensor.from(Int32Array.from([1, 2, 3]), [1, 3]);
    await assert.rejects(model.forward(ids, { attentionMask: Tensor.from(Int32Array.from([1, 1]), [1, 2]) }), /attentionMask must be \[1, 3\]/);
    await assert.rejects(model.generate(ids, { maxNewTokens: -1 }), /maxNewTokens must be an integer ≥ 0, got -1/);
    await assert.rejects(model.generate(ids, { doSample: true, temperature: 0 }), /temperature must be a finite number > 0, got 0/);
    await assert.rejects(model.generate(ids, { topP: 1.5 }), /topP must be in \(0, 1\]/);
  });

  it("arguments of the wrong type at the public entries", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(QWEN);
    const ids = Tensor.from(Int32Array.from([1, 2, 3]), [1, 3]);
    // generate([1, 2, 3]) used to fail with "undefined is not iterable"
    await assert.rejects(model.generate([1, 2, 3] as never), /generate: inputIds must be an int32 \[B, S\] tensor \(e\.g\. Tensor\.from.*got an array \[1, 2, 3\]/);
    assert.throws(() => model.stream("hello" as never), /stream: inputIds must be an int32 \[B, S\] tensor .*got string hello/);
    await assert.rejects(model.generate(ids, 5 as never), /generate: options must be an object, got number 5/);
    await assert.rejects(model.forward([1, 2, 3] as never), /forward: inputIds must be an int32 \[B, S\] tensor, got an array/);
    await assert.rejects(model.forward(ids, { cache: {} as never }), /cache must be a ModelCache \(model\.newCache\(\)\)/);
    await assert.rejects(model.forward(ids, { sequences: [0] }), /sequences name rows of a cache; pass the cache too/);
    await assert.rejects(model.forward(ids, { logitsToKeep: 1.5 }), /logitsToKeep must be a non-negative integer, got 1\.5/);
    await assert.rejects(model.forward(ids, { attentionMask: [1, 1, 1] as never }), /attentionMask must be an int32 Tensor/);
  });
});
