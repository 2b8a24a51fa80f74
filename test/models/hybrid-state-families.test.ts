/**
 * The state-mixer families (lfm2_moe's short convolutions, granitemoehybrid's Mamba2, minimax's lightning
 * attention): config variants the fixtures do not spell out, the cache's fixed-size state, and clear
 * errors at load for layer-kind lists and sizes the mixers cannot run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { editedCopy } from "./checkpoint-copies.js";
import { expectedTensors, F32, familyDir } from "./model-fixtures.js";

const load = async (family: string, config: Record<string, unknown>) => AutoModelForCausalLM.fromPretrained(await editedCopy(familyDir(F32, family), { config }), { backend: "reference" });

describe("lfm2_moe", () => {
  it("conv layers keep the last L − 1 values per sequence, whatever the length", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "lfm2_moe"), { backend: "reference" });
    const cache = model.newCache();
    // layer 0 is conv (L = 3: 2 rows of H = 64 floats), layer 1 attention (2 kv heads × 16 for keys and values)
    assert.equal(cache.bytesPerSequence, 2 * 64 * 4);
    assert.equal(cache.bytesPerToken, 2 * 32 * 4);
  });

  it("tie_embedding (LFM2's name) ties lm_head to the embeddings", async () => {
    const model = await load("lfm2_moe", { tie_word_embeddings: undefined, tie_embedding: true });
    assert.equal(model.config.tieWordEmbeddings, true);
    const ex = await expectedTensors(F32, "lfm2_moe");
    const untied = await load("lfm2_moe", {});
    const a = (await (await model.forward(ex.input_ids!)).logits.data()) as Float32Array;
    const b = (await (await untied.forward(ex.input_ids!)).logits.data()) as Float32Array;
    assert.ok(a.some((v, i) => Math.abs(v - b[i]!) > 1e-3), "tied logits differ from the stored lm_head's");
  });

  it("bad layer kinds and conv sizes are named at load", async () => {
    await assert.rejects(load("lfm2_moe", { layer_types: ["conv"] }), /config\.json \(lfm2_moe\): 'layer_types' must list one entry per layer \(num_hidden_layers 2\), got 1/);
    await assert.rejects(load("lfm2_moe", { layer_types: ["conv", "mamba"] }), /config\.json \(lfm2_moe\): 'layer_types\[1\]' must be one of "conv", "full_attention", got "mamba"/);
    await assert.rejects(load("lfm2_moe", { layer_types: undefined }), /config\.json \(lfm2_moe\): 'layer_types' is required/);
    await assert.rejects(load("lfm2_moe", { conv_L_cache: 1 }), /config\.json \(lfm2_moe\): 'conv_L_cache' must be ≥ 2, got 1/);
    await assert.rejects(load("lfm2_moe", { conv_L_cache: 4 }), /'model\.layers\.0\.conv\.conv\.weight' has shape \[64, 1, 3\], config implies \[64, 1, 4\]/);
  });
});

describe("hybrid layer kinds agree with the checkpoint", () => {
  it("lfm2_moe: an attention layer listed as conv is refused (its conv tensors are missing)", async () => {
    await assert.rejects(load("lfm2_moe", { layer_types: ["conv", "conv"] }), /missing 3 tensor\(s\) the config requires: 'model\.layers\.1\.conv\.in_proj\.weight'/);
  });
});
