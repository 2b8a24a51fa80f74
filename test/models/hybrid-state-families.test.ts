/**
 * The state-mixer families (lfm2_moe's short convolutions, granitemoehybrid's Mamba2, minimax's lightning
 * attention): config variants the fixtures do not spell out, the cache's fixed-size state, and clear
 * errors at load for layer-kind lists and sizes the mixers cannot run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
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

/** Logits of the family's fixture loaded with config edits, against transformers' logits of the original. */
async function sameLogits(family: string, config: Record<string, unknown>): Promise<void> {
  const ex = await expectedTensors(F32, family);
  const model = await load(family, config);
  assertClose(await (await model.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 1e-4, `${family} with ${JSON.stringify(config)}`);
}

describe("granitemoehybrid", () => {
  it("Mamba2 layers keep a conv window and an SSM state per sequence, whatever the length", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "granitemoehybrid"), { backend: "reference" });
    const cache = model.newCache();
    // layer 0: window [d_conv − 1 = 3, I + 2·G·N = 128 + 32] and state [8 heads, 16, N = 16]; layer 1 attention
    assert.equal(cache.bytesPerSequence, (3 * 160 + 8 * 16 * 16) * 4);
    assert.equal(cache.bytesPerToken, 2 * 32 * 4);
  });

  it("legacy layer names, d_head 'auto', an infinite limit spelled as a string, and no layer_types (all Mamba) read as transformers reads them", async () => {
    await sameLogits("granitemoehybrid", { layer_types: ["mamba", "attention"], mamba_d_head: "auto", time_step_limit: [0, "inf"] });
    await sameLogits("granitemoehybrid", { layer_types: undefined, layers_block_type: ["mamba", "attention"] });
    await assert.rejects(load("granitemoehybrid", { layer_types: undefined }), /missing 8 tensor\(s\) the config requires: 'model\.layers\.1\.mamba\.in_proj\.weight'/);
  });

  it("bad layer kinds and Mamba sizes are named at load", async () => {
    const bad = async (config: Record<string, unknown>, message: RegExp) => assert.rejects(load("granitemoehybrid", config), message);
    await bad({ layer_types: ["linear_attention"] }, /'layer_types' must list one entry per layer \(num_hidden_layers 2\), got 1/);
    await bad({ layer_types: ["linear_attention", "conv"] }, /'layer_types\[1\]' must be one of "linear_attention", "full_attention", got "conv"/);
    await bad({ mamba_n_heads: 5 }, /'mamba_d_head' 16 × mamba_n_heads 5 must equal mamba_expand × hidden_size 128/);
    await bad({ mamba_n_heads: 5, mamba_d_head: "auto" }, /'mamba_n_heads' 5 must divide mamba_expand × hidden_size 128/);
    await bad({ mamba_n_groups: 3 }, /'mamba_n_groups' 3 must divide mamba_n_heads 8/);
    await bad({ mamba_d_conv: 1 }, /'mamba_d_conv' must be ≥ 2, got 1/);
    await bad({ time_step_limit: [1, 0] }, /'time_step_limit' must be \[min, max\] with min ≤ max/);
    await bad({ time_step_limit: "x" }, /'time_step_limit' must be \[min, max\] \(numbers, or "inf"\)/);
    await bad({ position_embedding_type: "alibi" }, /'position_embedding_type' must be one of "nope", "rope", got "alibi"/);
  });
});

describe("minimax", () => {
  const SLOPE = "model.layers.1.self_attn.slope_rate";

  it("lightning layers keep one [heads, head_dim, head_dim] state per sequence, whatever the length", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "minimax"), { backend: "reference" });
    const cache = model.newCache();
    assert.equal(cache.bytesPerSequence, 4 * 16 * 16 * 4);
    assert.equal(cache.bytesPerToken, 2 * 32 * 4);
  });

  it("without layer_types odd layers are linear (transformers' default); the decay buffers are optional", async () => {
    await sameLogits("minimax", { layer_types: undefined });
    const ex = await expectedTensors(F32, "minimax");
    const buffers = ["slope_rate", "query_decay", "key_decay", "diagonal_decay"].map((n) => `model.layers.1.self_attn.${n}`);
    const model = await AutoModelForCausalLM.fromPretrained(await editedCopy(familyDir(F32, "minimax"), { drop: buffers }), { backend: "reference" });
    assertClose(await (await model.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 1e-4, "minimax without decay buffers");
  });

  it("decay buffers that disagree with the config, bad layer kinds and factors are named at load", async () => {
    const slopes = Tensor.from(Float32Array.from([0.5, 0.25, 0.125, 0.1]), [4, 1, 1]);
    await assert.rejects(
      AutoModelForCausalLM.fromPretrained(await editedCopy(familyDir(F32, "minimax"), { replace: { [SLOPE]: slopes } }), { backend: "reference" }),
      /'model\.layers\.1\.self_attn\.slope_rate' holds 0\.5 at 0, where the config's layer count, heads and block_size give 0\.00000499/,
    );
    const bad = async (config: Record<string, unknown>, message: RegExp) => assert.rejects(load("minimax", config), message);
    await bad({ block_size: 4 }, /'model\.layers\.1\.self_attn\.query_decay' has shape \[4, 8, 1\], config implies \[4, 4, 1\]/);
    await bad({ layer_types: ["full_attention"] }, /'layer_types' must list one entry per layer \(num_hidden_layers 2\), got 1/);
    await bad({ layer_types: ["full_attention", "conv"] }, /'layer_types\[1\]' must be one of "full_attention", "linear_attention", got "conv"/);
    await bad({ layer_types: ["linear_attention", "full_attention"] }, /missing 8 tensor\(s\) the config requires: 'model\.layers\.0\.self_attn\.qkv_proj\.weight'/);
    await bad({ mlp_beta_factor: -1 }, /'mlp_beta_factor' must be ≥ 0, got -1/);
  });
});

describe("hybrid layer kinds agree with the checkpoint", () => {
  it("lfm2_moe: an attention layer listed as conv is refused (its conv tensors are missing)", async () => {
    await assert.rejects(load("lfm2_moe", { layer_types: ["conv", "conv"] }), /missing 3 tensor\(s\) the config requires: 'model\.layers\.1\.conv\.in_proj\.weight'/);
  });
});
