/**
 * Block-scaled FP8 checkpoints as DeepSeek-V3 / Qwen3-FP8 ship them (quant_method "fp8", F8_E4M3 weights with
 * 128×128 `weight_scale_inv`): test/fixtures/transformers-fp8/qwen3_moe (scripts/fp8-fixtures.py: attention and
 * expert matrices in fp8 made by transformers' own quantizer; embeddings, norms, routers and the lm head bf16;
 * expectations computed by transformers on the checkpoint, which it dequantizes at load on a CPU).
 * - every fp8 matrix stays fp8_e4m3_b128 in memory; the float tensors stay as stored;
 * - reference logits within 1e-4 of transformers', cpu within CPU_TOL, greedy ids equal on both;
 * - bad input is refused before anything is computed, naming the tensor or the setting.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { bf16BitsToNumber, toBf16Bits } from "../../src/dtype.js";
import { e4m3ToFloat } from "../../src/formats/quant/index.js";
import { weightRows } from "../../src/formats/rows.js";
import { SegmentedStorage } from "../../src/formats/segments.js";
import { storageBytes } from "../../src/formats/table.js";
import { FileSource } from "../../src/loading/node-files.js";
import { SafetensorsFile } from "../../src/loading/safetensors.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { safetensorsBytes, type RawStored } from "../models/checkpoint-copies.js";
import { GqaAttention } from "../../src/models/layers/attention.js";
import { expectedTensors, familyDir, type FixtureSuite } from "../models/model-fixtures.js";

const FP8: FixtureSuite = { dir: join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "transformers-fp8"), families: ["qwen3_moe"] };
const DIR = familyDir(FP8, "qwen3_moe");
/** cpu vs transformers on this fixture: measured max |diff| 2.1e-6 of max |logit| 4.1 (5e-7 relative). */
const CPU_TOL = 1e-5;

/** Every tensor of `dir`'s model.safetensors as stored (raw bytes). */
async function rawTensors(dir: string): Promise<Map<string, RawStored>> {
  const file = await SafetensorsFile.open(new FileSource(join(dir, "model.safetensors")));
  const all = await readFile(join(dir, "model.safetensors"));
  const out = new Map<string, RawStored>();
  for (const k of file.keys()) {
    const info = file.info(k);
    out.set(k, { dtype: info.stored, shape: [...info.shape], bytes: new Uint8Array(all.subarray(info.begin, info.end)) });
  }
  return out;
}

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A copy of the fixture with tensors changed (undefined drops one) and config.json edits. */
async function copyWith(tensors: Record<string, RawStored | undefined>, config: Record<string, unknown> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "moekit-fp8-"));
  dirs.push(dir);
  const all = await rawTensors(DIR);
  for (const [k, t] of Object.entries(tensors)) {
    if (t === undefined) all.delete(k);
    else all.set(k, t);
  }
  await writeFile(join(dir, "model.safetensors"), safetensorsBytes(all));
  const cfg = JSON.parse(await readFile(join(DIR, "config.json"), "utf8")) as Record<string, unknown>;
  await writeFile(join(dir, "config.json"), JSON.stringify({ ...cfg, ...config }));
  await copyFile(join(DIR, "generation_config.json"), join(dir, "generation_config.json"));
  return dir;
}

async function firstRow(ids: Tensor): Promise<Tensor> {
  const s = ids.shape[1]!;
  return Tensor.from(((await ids.data()) as Int32Array).slice(0, s), [1, s]);
}

describe("fp8 checkpoints (quant_method fp8, 128x128 weight_scale_inv)", () => {
  it("keep every fp8 matrix in fp8_e4m3_b128, widened exactly as weight · scale_inv; float tensors as stored", async () => {
    const m = await AutoModelForCausalLM.fromPretrained(DIR, { backend: "reference" });
    const raw = await rawTensors(DIR);
    const attn = m.parts.layers[0]!.mixer;
    assert.ok(attn instanceof GqaAttention);
    // q/k/v may be fused at load into one product (rows concatenated: every format holds whole rows)
    const projs = attn.proj.qkv ? (["qkv", "o"] as const) : (["q", "k", "v", "o"] as const);
    for (const p of projs) assert.equal(attn.proj[p]!.weight.dtype, "fp8_e4m3_b128", `attention ${p}`);
    const w = m.moeBlocks()[0]!.experts.weights;
    assert.equal(w.gateUp!.dtype, "fp8_e4m3_b128");
    assert.equal(w.down.dtype, "fp8_e4m3_b128");
    const [e, rows, cols] = w.gateUp!.shape as [number, number, number];
    // The stack is a view of the experts' fp8 tensors as read: their bytes are the fp8_e4m3_b128 size, no float copy.
    const held = new Set((w.gateUp!.storage as SegmentedStorage).segments.map((x) => x.data));
    assert.equal([...held].reduce((a, d) => a + d.byteLength, 0), storageBytes("fp8_e4m3_b128", [e, rows, cols]));
    assert.equal(m.parts.embedTokens.dtype, "bfloat16");
    assert.equal(m.parts.lmHead.weight.dtype, "bfloat16");
    assert.equal(m.moeBlocks()[0]!.router.weights.weight.dtype, "bfloat16");
    assert.equal(m.parts.norm.weight.dtype, "bfloat16");
    // Expert 1's up rows (rows I..2I of its gate|up stack) against the stored codes and their tile's scale.
    const codes = raw.get("model.layers.0.mlp.experts.1.up_proj.weight")!;
    const sc = raw.get("model.layers.0.mlp.experts.1.up_proj.weight_scale_inv")!;
    const scales = new Float32Array(sc.bytes.slice().buffer);
    const [n, k] = codes.shape as [number, number];
    const got = weightRows(w.gateUp!, rows + rows / 2, n);
    let checked = 0;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < k; c++) {
        const want = Math.fround(e4m3ToFloat(codes.bytes[r * k + c]!) * scales[Math.floor(r / 128) * Math.ceil(k / 128) + Math.floor(c / 128)]!);
        if (!Object.is(got[r * k + c], want)) assert.fail(`row ${r} col ${c}: ${got[r * k + c]} vs ${want}`);
        checked++;
      }
    }
    assert.equal(checked, n * k);
    assert.ok(scales.length > 1, "the fixture's up_proj spans more than one tile");
  });

  for (const backend of ["reference", "cpu"] as const) {
    const tol = backend === "reference" ? 1e-4 : CPU_TOL;
    it(`${backend}: logits within ${tol} of transformers on the dequantized weights, greedy ids equal`, async () => {
      const ex = await expectedTensors(FP8, "qwen3_moe");
      const m = await AutoModelForCausalLM.fromPretrained(DIR, { backend });
      assertClose(await (await m.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), tol, `${backend} fp8 logits`);
      const prompt = await firstRow(ex.input_ids!);
      const out = (await (await m.generate(prompt, { maxNewTokens: 8, minNewTokens: 8, doSample: false })).data()) as Int32Array;
      assert.deepEqual(Array.from(out.slice(prompt.shape[1]!)), Array.from((await ex.greedy_ids!.data()) as Int32Array));
    });
  }

  it("refuses a missing scale, a scale of the wrong shape or dtype, a scale without an fp8 weight, naming the tensor", async () => {
    const raw = await rawTensors(DIR);
    const sKey = "model.layers.1.mlp.experts.2.down_proj.weight_scale_inv";
    const s = raw.get(sKey)!;
    const cases: [Record<string, RawStored | undefined>, RegExp][] = [
      [{ [sKey]: undefined }, /fp8 weight 'model\.layers\.1\.mlp\.experts\.2\.down_proj\.weight' has no scale tensor 'model\.layers\.1\.mlp\.experts\.2\.down_proj\.weight_scale_inv'/],
      [{ [sKey]: { dtype: "F32", shape: [2, 1], bytes: s.bytes.subarray(0, 8) } }, /'model\.layers\.1\.mlp\.experts\.2\.down_proj\.weight_scale_inv' has shape \[2, 1\]; 128x128 tiles of .* \[128, 256\] need \[1, 2\]/],
      [{ [sKey]: { dtype: "I32", shape: s.shape, bytes: s.bytes } }, /down_proj\.weight_scale_inv' has dtype I32; fp8 block scales are F32, BF16, F16, F8_E8M0/],
      [{ "model.layers.0.mlp.gate.weight_scale_inv": { dtype: "F32", shape: [1, 1], bytes: s.bytes.subarray(0, 4) } }, /'model\.layers\.0\.mlp\.gate\.weight_scale_inv' scales 'model\.layers\.0\.mlp\.gate\.weight', which is stored BF16, not F8_E4M3/],
      [{ [sKey]: { dtype: "F32", shape: s.shape, bytes: new Uint8Array(new Float32Array([1, NaN]).buffer) } }, /down_proj\.weight'?: weight_scale_inv\[0\]\[1\] = NaN is not finite/],
    ];
    for (const [edit, message] of cases) {
      await assert.rejects(AutoModelForCausalLM.fromPretrained(await copyWith(edit), { backend: "reference" }), message);
    }
  });

  it("refuses quantization settings moekit's fp8 format cannot hold, and unknown quant_methods", async () => {
    const q = JSON.parse(await readFile(join(DIR, "config.json"), "utf8")).quantization_config as Record<string, unknown>;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...q, weight_block_size: [64, 64] }, /quantization_config\.weight_block_size is \[64,64\]; moekit loads fp8 checkpoints with 128x128 block scales/],
      [{ ...q, weight_block_size: undefined }, /weight_block_size is null/],
      [{ ...q, fmt: "e5m2" }, /quantization_config\.fmt is "e5m2"; moekit's fp8 weights are e4m3/],
      [{ ...q, activation_scheme: "static" }, /activation_scheme is "static"/],
      [{ ...q, quant_method: "awq" }, /quantization_config\.quant_method "awq" is not supported/],
    ];
    for (const [qc, message] of cases) {
      await assert.rejects(AutoModelForCausalLM.fromPretrained(await copyWith({}, { quantization_config: qc }), { backend: "reference" }), message);
    }
  });

  it("dequantize: true widens every fp8 matrix at load (float32 when asked: exactly weight · scale_inv; transformers' logits within 1e-4)", async () => {
    const ex = await expectedTensors(FP8, "qwen3_moe");
    const fp8 = await AutoModelForCausalLM.fromPretrained(DIR, { backend: "reference" });
    const wide = await AutoModelForCausalLM.fromPretrained(DIR, { backend: "reference", dequantize: true, dtype: "float32" });
    const w = wide.moeBlocks()[0]!.experts.weights;
    assert.equal(w.gateUp!.dtype, "float32");
    assert.equal(w.down.dtype, "float32");
    const attn = wide.parts.layers[1]!.mixer;
    assert.ok(attn instanceof GqaAttention);
    assert.equal(attn.proj.o!.weight.dtype, "float32");
    // Widened values equal the fp8 model's own widening, bit for bit (the fp8 test above checks that against the codes).
    const f = fp8.moeBlocks()[0]!.experts.weights;
    const rows = w.down.size / w.down.shape[2]!;
    assert.deepEqual(weightRows(w.down, 0, rows), weightRows(f.down, 0, rows));
    assertClose(await (await wide.forward(ex.input_ids!)).logits.data(), await ex.logits!.data(), 1e-4, "dequantized fp8 logits");
  });

  it("dequantize: true defaults to the config's dtype (bfloat16 here): each weight is the bfloat16 rounding of weight · scale_inv", async () => {
    const ex = await expectedTensors(FP8, "qwen3_moe");
    const f32 = await AutoModelForCausalLM.fromPretrained(DIR, { backend: "reference", dequantize: true, dtype: "float32" });
    const bf = await AutoModelForCausalLM.fromPretrained(DIR, { backend: "cpu", dequantize: true });
    const w = bf.moeBlocks()[1]!.experts.weights;
    assert.equal(w.gateUp!.dtype, "bfloat16");
    const rows = w.gateUp!.size / w.gateUp!.shape[2]!;
    const want = weightRows(f32.moeBlocks()[1]!.experts.weights.gateUp!, 0, rows);
    const got = weightRows(w.gateUp!, 0, rows);
    let differ = 0;
    for (let i = 0; i < want.length; i++) {
      if (got[i] !== Math.fround(bf16BitsToNumber(toBf16Bits(want[i]!)))) assert.fail(`gate|up value ${i}: ${got[i]} is not the bfloat16 rounding of ${want[i]}`);
      if (got[i] !== want[i]) differ++;
    }
    assert.ok(differ > 0, "some products of code and scale need more than bfloat16's 8 bits");
    const prompt = await firstRow(ex.input_ids!);
    const out = (await (await bf.generate(prompt, { maxNewTokens: 8, minNewTokens: 8, doSample: false })).data()) as Int32Array;
    assert.deepEqual(Array.from(out.slice(prompt.shape[1]!)), Array.from((await ex.greedy_ids!.data()) as Int32Array), "greedy ids equal transformers'");
  });

  it("refuses dequantize without a quantization_config, a float dtype without dequantize, a quantized dtype with it", async () => {
    const plain = await copyWith({}, { quantization_config: undefined });
    await assert.rejects(AutoModelForCausalLM.fromPretrained(plain, { backend: "reference", dequantize: true }), /dequantize: true widens a quantized checkpoint's weights, but '.*' has no quantization_config in config\.json/);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(DIR, { backend: "reference", dtype: "bfloat16" }), /stores fp8 weights, which load as stored \(dtype "auto"\); dtype "bfloat16" needs dequantize: true/);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(DIR, { backend: "reference", dtype: "q8_0", dequantize: true }), /dequantize: true widens the fp8 weights of .* to a float dtype; dtype "q8_0" is a quantized one/);
  });
});
