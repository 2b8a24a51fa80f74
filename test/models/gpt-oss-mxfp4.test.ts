/**
 * gpt-oss checkpoints as published: experts as MXFP4 `*_blocks` / `*_scales` with quantization_config.quant_method
 * "mxfp4". Built here from the float gpt_oss fixture (its experts quantized to MXFP4 and written in gpt-oss's layout);
 * the model must keep them in mxfp4 and compute what the same checkpoint with the experts dequantized to float does.
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dequantize, quantizeRows } from "../../src/formats/quant/index.js";
import { FileSource } from "../../src/loading/node-files.js";
import { SafetensorsFile } from "../../src/loading/safetensors.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { gptOssBlocks, MXFP4_CONFIG, transpose } from "../helpers/gpt-oss-mxfp4.js";
import { editedCopy, type RawStored } from "./checkpoint-copies.js";
import { F32, familyDir } from "./model-fixtures.js";

const SRC = familyDir(F32, "gpt_oss");

describe("gpt-oss MXFP4 checkpoint as published", () => {
  const dirs: string[] = [];
  let published = "";
  let dequantized = "";
  const ggml = new Map<string, Uint8Array>();

  before(async () => {
    const file = await SafetensorsFile.open(new FileSource(join(SRC, "model.safetensors")));
    const add: Record<string, RawStored> = {};
    const replace: Record<string, Tensor> = {};
    const drop: string[] = [];
    for (const key of file.keys().filter((k) => /experts\.(gate_up|down)_proj$/.test(k))) {
      const t = await file.tensor(key);
      const [e, inF, out] = t.shape as [number, number, number];
      const rows = transpose(t.storage as Float32Array, e, inF, out); // stored in × out; blocks are out × in
      const blocks = quantizeRows(rows, e * out, inF, "mxfp4");
      const p = gptOssBlocks(blocks, [e, out, inF]);
      ggml.set(key, blocks);
      add[`${key}_blocks`] = p.blocks;
      add[`${key}_scales`] = p.scales;
      drop.push(key);
      replace[key] = Tensor.from(transpose(dequantize(blocks, e * out, inF, "mxfp4"), e, out, inF), [e, inF, out]);
    }
    assert.ok(drop.length >= 2, "the fixture has experts stacks");
    published = await editedCopy(SRC, { drop, add, config: { quantization_config: MXFP4_CONFIG } });
    dequantized = await editedCopy(SRC, { replace });
    dirs.push(published, dequantized);
  });
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("keeps the experts in mxfp4 (the published blocks, reordered) and computes what their float values compute", async () => {
    const ids = Tensor.from(Int32Array.from([3, 17, 42, 7, 99, 5]), [1, 6]);
    const q = await AutoModelForCausalLM.fromPretrained(published, { backend: "reference" });
    const f = await AutoModelForCausalLM.fromPretrained(dequantized, { backend: "reference" });
    const w = q.moeBlocks()[0]!.experts.weights;
    assert.equal(w.gateUp!.dtype, "mxfp4");
    assert.equal(w.down.dtype, "mxfp4");
    assert.deepEqual(w.gateUp!.storage as Uint8Array, ggml.get("model.layers.0.mlp.experts.gate_up_proj"));
    assert.deepEqual(w.down.storage as Uint8Array, ggml.get("model.layers.0.mlp.experts.down_proj"));
    assert.equal(q.parts.embedTokens.dtype, "float32");
    const ref = await (await q.forward(ids)).logits.data();
    assertClose(ref, await (await f.forward(ids)).logits.data(), 1e-6, "published mxfp4 vs dequantized float");
    const cpu = await AutoModelForCausalLM.fromPretrained(published, { backend: "cpu" });
    assertClose(await (await cpu.forward(ids)).logits.data(), ref, 1e-2, "cpu on the published mxfp4 experts");
  });

  it("refuses scales of the wrong shape, an unknown quant_method and mxfp4 on another family, naming them", async () => {
    const key = "model.layers.0.mlp.experts.down_proj_scales";
    const file = await SafetensorsFile.open(new FileSource(join(published, "model.safetensors")));
    const good = await file.bytes(key, { expect: "e8m0-scales" });
    const bad = await editedCopy(published, { drop: [key], add: { [key]: { dtype: "U8", shape: [good.shape[0]!, good.shape[1]!, good.shape[2]! - 1], bytes: good.bytes.subarray(0, good.bytes.length - good.shape[0]! * good.shape[1]!) } } });
    const odd = await editedCopy(published, { config: { quantization_config: { quant_method: "gptq" } } });
    const other = await editedCopy(familyDir(F32, "mixtral"), { config: { quantization_config: { quant_method: "mxfp4" } } });
    dirs.push(bad, odd, other);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(bad, { backend: "reference" }), /'model\.layers\.0\.mlp\.experts\.down_proj_scales' has shape \[\d+, \d+, \d+\], config implies/);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(odd, { backend: "reference" }), /quantization_config\.quant_method "gptq" is not supported/);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(other, { backend: "reference" }), /quant_method "mxfp4" is the gpt-oss experts layout; a mixtral checkpoint cannot use it/);
  });
});
