/**
 * Bad configs of the families whose layers change the block contract (llama4, deepseek_v32,
 * longcat_flash, jetmoe) are refused at load with the field and the family named.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Config } from "../../src/loading/checkpoint.js";
import { validateConfig } from "../../src/models/config/schema.js";
import { familyFor } from "../../src/models/families/index.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { editedCopy } from "./checkpoint-copies.js";
import { F32, familyDir } from "./model-fixtures.js";

function check(family: string, edit: Config = {}): void {
  const raw = { ...(JSON.parse(readFileSync(join(familyDir(F32, family), "config.json"), "utf8")) as Config), ...edit };
  const fam = familyFor(raw.model_type);
  validateConfig(fam.checkpoint?.config ? fam.checkpoint.config(raw) : raw, fam.modelType, fam.config, fam.checkpoint?.fieldNames);
}

describe("config schemas of the contract-changing families", () => {
  it("llama4: per-layer lists, MoE layers, chunk size", () => {
    assert.doesNotThrow(() => check("llama4"));
    assert.doesNotThrow(() => check("llama4", { no_rope_layers: [], layer_types: null, moe_layers: null }), "empty / absent lists take the defaults");
    assert.throws(() => check("llama4", { no_rope_layers: [1, 0] }), /\(llama4_text\): 'no_rope_layers' must list one entry per layer \(num_hidden_layers 3\), got 2/);
    assert.throws(() => check("llama4", { no_rope_layers: [1, 2, 0] }), /'no_rope_layers\[1\]' must be ≤ 1, got 2/);
    assert.throws(() => check("llama4", { layer_types: ["chunked_attention", "sliding_attention", "full_attention"] }), /'layer_types\[1\]' must be one of "full_attention", "chunked_attention", got "sliding_attention"/);
    assert.throws(() => check("llama4", { moe_layers: [1, 3] }), /'moe_layers' lists layer 3, but the model has 3 layers/);
    assert.throws(() => check("llama4", { attention_chunk_size: null }), /'attention_chunk_size' is null, but layer 0 is a chunked_attention layer/);
    assert.throws(() => check("llama4", { attention_chunk_size: 0 }), /'attention_chunk_size' must be ≥ 1, got 0/);
    assert.throws(() => check("llama4", { floor_scale: -1 }), /'floor_scale' must be > 0, got -1/);
  });

  it("llama4: a bad config fails at load, before any weight is read", async () => {
    const dir = await editedCopy(familyDir(F32, "llama4"), { config: { interleave_moe_layer_step: 0 } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" }), /config\.json \(llama4_text\): 'interleave_moe_layer_step' must be ≥ 1, got 0/);
  });
});
