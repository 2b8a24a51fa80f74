/**
 * The key plan lists exactly what the loaders read (every family fixture), and the checks it enables
 * run before anything is allocated: the layer count against the checkpoint's, all missing tensors (dense
 * and experts) in one error, unused tensors named in a warning.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import { familyCheckpoint, unusedOriginalKeys } from "../../src/models/build/convert-checkpoint.js";
import { unexpectedKeys } from "../../src/models/build/checkpoint-layers.js";
import { planCausalLM } from "../../src/models/build/key-plan.js";
import { normaliseConfig } from "../../src/models/config/model-config.js";
import { SUPPORTED_MODEL_TYPES } from "../../src/models/families/index.js";
import { AutoModelForCausalLM, loadCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { editedCopy } from "./checkpoint-copies.js";
import { F32, familyDir } from "./model-fixtures.js";

const QWEN = familyDir(F32, "qwen2_moe");
/** olmoe's config lists no per-layer kinds, so only the layer count changes with num_hidden_layers. */
const OLMOE = familyDir(F32, "olmoe");

describe("key plan", () => {
  it("equals the tensors each family's loaders read", async () => {
    const wrapped = new Set(["llama4", "qwen3_5_moe"]); // the released multimodal checkpoints of llama4_text / qwen3_5_moe_text
    assert.equal(F32.families.length, SUPPORTED_MODEL_TYPES.filter((t) => !wrapped.has(t)).length, "one fixture per family (llama4 / qwen3_5_moe checkpoints are their text models' wrapped)");
    for (const family of F32.families) {
      const { fam, ckpt } = familyCheckpoint(await Checkpoint.open(familyDir(F32, family)));
      const cfg = normaliseConfig(ckpt.config, fam);
      const plan = planCausalLM(fam, ckpt.config, cfg);
      await loadCausalLM(ckpt, { backend: "reference" });
      const unused = new Set(ckpt.unusedKeys());
      const read = ckpt.keys().filter((k) => !unused.has(k)).sort();
      const planned = plan.filter((t) => !t.optional || ckpt.has(t.key)).map((t) => t.key).sort();
      assert.deepEqual(planned, read, family);
      const unexplained = unexpectedKeys(unusedOriginalKeys(ckpt), fam, ckpt.config, cfg.numLayers);
      assert.deepEqual(unexplained, [], `${family}: the fixture holds only tensors the model uses (or leaves out by design)`);
    }
  });

  it("num_hidden_layers far above the checkpoint's fails at once, with little memory", async () => {
    const dir = await editedCopy(OLMOE, { config: { num_hidden_layers: 1e6 } });
    const rss0 = process.memoryUsage().rss;
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" }), /config\.json \(olmoe\): num_hidden_layers is 1000000 but checkpoint '.*' holds layers 0 … 1 only/);
    assert.ok(process.memoryUsage().rss - rss0 < 256 * 2 ** 20, "no placeholder tensors allocated");
  });

  it("fewer layers than the checkpoint holds is an error naming the layer", async () => {
    const dir = await editedCopy(OLMOE, { config: { num_hidden_layers: 1 } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" }), /num_hidden_layers is 1 but checkpoint .* holds tensors of layer 1 \(model\.layers\.1\.\*\)/);
    const extra = await editedCopy(QWEN, { add: { "model.layers.2.mtp.extra": Tensor.from(new Float32Array(4), [4]) } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(extra, { backend: "reference" }), /holds tensors of layer 2/);
  });

  it("multi-token-prediction layers after the decoder stay unused without a warning (deepseek_v3)", async () => {
    const dir = await editedCopy(familyDir(F32, "deepseek_v3"), { add: { "model.layers.2.eh_proj.weight": Tensor.from(new Float32Array(4), [2, 2]) } });
    const warnings: string[] = [];
    const model = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", onWarning: (m) => warnings.push(m) });
    assert.deepEqual(model.unusedKeys, ["model.layers.2.eh_proj.weight"]);
    assert.deepEqual(warnings, []);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(await editedCopy(dir, { config: { num_nextn_predict_layers: 0 } }), { backend: "reference" }), /holds tensors of layer 2/);
  });

  it("other unused tensors are named in a warning", async () => {
    const dir = await editedCopy(QWEN, { add: { "model.extra_buffer": Tensor.from(new Float32Array(4), [4]) } });
    const warnings: string[] = [];
    const model = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", onWarning: (m) => warnings.push(m) });
    assert.deepEqual(model.unusedKeys, ["model.extra_buffer"]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /holds 1 tensor\(s\) this qwen2_moe model does not use: 'model\.extra_buffer'/);
  });

  it("missing dense and expert tensors are reported together, before any is read", async () => {
    const drop = ["model.layers.0.self_attn.q_proj.bias", "model.layers.1.mlp.experts.3.up_proj.weight", "model.layers.0.mlp.shared_expert.down_proj.weight", "lm_head.weight"];
    const dir = await editedCopy(QWEN, { drop });
    const ckpt = await Checkpoint.open(dir);
    await assert.rejects(loadCausalLM(ckpt, { backend: "reference" }), (e: Error) => {
      assert.match(e.message, /missing 4 tensor\(s\) the config requires/);
      for (const k of drop) assert.ok(e.message.includes(`'${k}'`), k);
      return true;
    });
    assert.equal(ckpt.unusedKeys().length, ckpt.keys().length, "no tensor was read");
  });

  it("a huge moe_intermediate_size is a shape error naming the tensor, before allocation", async () => {
    const dir = await editedCopy(QWEN, { config: { moe_intermediate_size: 2 ** 40 } });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" }), /'model\.layers\.0\.mlp\.experts\.0\.gate_proj\.weight' has shape \[32, 64\], config implies \[1099511627776, 64\]/);
  });
});
