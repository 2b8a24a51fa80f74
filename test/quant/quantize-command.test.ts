/**
 * `moekit quantize DIR --dtype D -o OUT` (src/models/build/quantize-writer.ts, src/cli/quantize.ts): OUT loads back
 * quantized (quant_method "moekit") and is the model fromPretrained(DIR, { dtype: D }) builds: every weight the same
 * format and bytes, logits bit-identical; the file holds the quantized bytes (not a float copy); bad input is refused
 * by name.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { quantizeCommand } from "../../src/cli/quantize.js";
import { storageBytes } from "../../src/formats/table.js";
import { weightRows } from "../../src/formats/rows.js";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import { quantizeCheckpoint } from "../../src/models/build/quantize-writer.js";
import type { QuantDType } from "../../src/models/build/quantize.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import { Tensor } from "../../src/tensor.js";
import { F32, familyDir, K256 } from "../models/model-fixtures.js";

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function scratch(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "moekit-quantize-"));
  dirs.push(d);
  return d;
}

/** Every weight matrix of a loaded model by a path name (layers, experts, attention projections, lm head). */
function weights(m: MoeForCausalLM): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const visit = (name: string, v: unknown, depth: number) => {
    if (v instanceof Tensor) out.set(name, v);
    else if (v && typeof v === "object" && depth < 6) for (const [k, c] of Object.entries(v)) if (k !== "backend" && k !== "registry" && k !== "family") visit(`${name}.${k}`, c, depth + 1);
  };
  visit("parts", { layers: m.parts.layers, lmHead: m.parts.lmHead, embed: m.parts.embedTokens, norm: m.parts.norm }, 0);
  return out;
}

const ids = Tensor.from(Int32Array.from([3, 17, 42, 7, 99, 5, 11]), [1, 7]);

const CASES: [string, string, QuantDType][] = [
  ["k256 qwen2_moe", familyDir(K256, "qwen2_moe"), "q4_k_m"],
  ["k256 qwen2_moe", familyDir(K256, "qwen2_moe"), "q8_0"],
  ["mixtral", familyDir(F32, "mixtral"), "q4_0"],
  ["deepseek_v3", familyDir(F32, "deepseek_v3"), "mxfp4"],
  // experts stored in × out: transposed at load, so left float in the file and quantized when it loads
  ["gpt_oss", familyDir(F32, "gpt_oss"), "q8_0"],
];

describe("moekit quantize", () => {
  for (const [name, dir, dtype] of CASES) {
    it(`${name} ${dtype}: loads back quantized, the same weights and bit-identical logits as fromPretrained(dir, { dtype })`, async () => {
      const out = await scratch();
      const r = await quantizeCheckpoint(await Checkpoint.open(dir), dtype, out);
      const direct = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", dtype });
      const back = await AutoModelForCausalLM.fromPretrained(out, { backend: "reference" });
      const want = weights(direct);
      const got = weights(back);
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
      let quantized = 0;
      for (const [k, w] of want) {
        const g = got.get(k)!;
        assert.equal(g.dtype, w.dtype, `${k} format`);
        assert.deepEqual(g.shape, w.shape, `${k} shape`);
        if (w.rank >= 2 && w.dtype !== "float32" && w.dtype !== "bfloat16") {
          quantized++;
          const rows = w.size / w.shape[w.rank - 1]!;
          assert.deepEqual(weightRows(g, 0, rows), weightRows(w, 0, rows), `${k} values`);
        }
      }
      assert.ok(quantized >= 3, "the model holds quantized matrices");
      const a = await (await direct.forward(ids)).logits.data();
      const b = await (await back.forward(ids)).logits.data();
      assert.deepEqual(b, a, "logits bit-identical");

      // The file: quantized tensors as their blocks (U8 rows), the rest as stored; its size follows.
      const cfg = JSON.parse(await readFile(join(out, "config.json"), "utf8")) as { quantization_config: { quant_method: string; dtype: string; formats: Record<string, string> } };
      assert.equal(cfg.quantization_config.quant_method, "moekit");
      assert.equal(cfg.quantization_config.dtype, dtype);
      const src = await Checkpoint.open(dir);
      let expected = 0;
      for (const key of src.keys()) {
        const info = src.info(key);
        const f = cfg.quantization_config.formats[key];
        expected += f ? storageBytes(f as never, info.shape) : info.end - info.begin;
      }
      const size = (await stat(join(out, "model.safetensors"))).size;
      assert.ok(size >= expected && size - expected < 64 * 1024, `file ${size} bytes, tensors ${expected}`);
      assert.equal(r.bytes, size);
      const total = Object.values(r.formats).reduce((x, n) => x + n, 0);
      if (name === "gpt_oss") assert.ok(!Object.keys(cfg.quantization_config.formats).some((k) => k.includes("experts")), "in × out experts stay float in the file");
      else assert.ok(Object.keys(cfg.quantization_config.formats).some((k) => k.includes("experts")), "experts stored quantized");
      assert.equal(total, Object.keys(cfg.quantization_config.formats).length);
    });
  }

  it("the command writes OUT and refuses bad arguments and an already quantized checkpoint by name", async () => {
    const cli = async (...args: string[]) => {
      let stderr = "";
      const status = await quantizeCommand(args, { out: () => {}, err: (s) => void (stderr += s) });
      return { status, stderr };
    };
    const out = await scratch();
    const ok = await cli(familyDir(F32, "qwen2_moe"), "--dtype", "q8_0", "-o", out);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /wrote .*: \d+ q8_0 quantized tensors, \d+ copied as stored, \d+ bytes/);
    const back = await AutoModelForCausalLM.fromPretrained(out, { backend: "reference" });
    assert.equal(back.moeBlocks()[0]!.experts.weights.down.dtype, "q8_0");
    const r1 = await cli(familyDir(F32, "qwen2_moe"), "--dtype", "q3_k", "-o", await scratch());
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /--dtype must be one of .*got 'q3_k'/);
    const r2 = await cli(familyDir(F32, "qwen2_moe"), "--dtype", "q8_0", "-o", out);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /the directory is not empty/);
    const r3 = await cli(out, "--dtype", "q4_0", "-o", await scratch());
    assert.equal(r3.status, 1);
    assert.match(r3.stderr, /is already quantized \(quantization_config\.quant_method "moekit"\)/);
    const r4 = await cli(familyDir(F32, "qwen2_moe"), "-o", await scratch());
    assert.equal(r4.status, 2);
    assert.match(r4.stderr, /missing --dtype/);
  });

  it("loading refuses a formats map that names a missing tensor, a non-block format or a tensor of the wrong block size", async () => {
    const out = await scratch();
    await quantizeCheckpoint(await Checkpoint.open(familyDir(F32, "qwen2_moe")), "q8_0", out);
    const cfg = JSON.parse(await readFile(join(out, "config.json"), "utf8")) as Record<string, { formats: Record<string, string> } & Record<string, unknown>>;
    const q = cfg.quantization_config!;
    const key = "model.layers.0.mlp.experts.1.down_proj.weight";
    assert.equal(q.formats[key], "q8_0");
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...q, formats: { ...q.formats, "model.layers.9.mlp.gate.weight": "q8_0" } }, /formats lists 'model\.layers\.9\.mlp\.gate\.weight', which the checkpoint does not hold/],
      [{ ...q, formats: { ...q.formats, [key]: "bfloat16" } }, /gives 'model\.layers\.0\.mlp\.experts\.1\.down_proj\.weight' the format "bfloat16", which is not a block format/],
      [{ ...q, formats: { ...q.formats, [key]: "q4_0" } }, /'model\.layers\.0\.mlp\.experts\.1\.down_proj\.weight' is U8 \[\d+, \d+, 34\]; q4_0 blocks are stored U8 \[\.\.\., rows, blocks, 18\]/],
      [{ ...q, formats: Object.fromEntries(Object.entries(q.formats).filter(([k]) => k !== key)) }, /'model\.layers\.0\.mlp\.experts\.1\.down_proj\.weight' is stored U8 but quantization_config\.formats does not name its block format/],
      [{ ...q, dtype: "q2_k" }, /quantization_config\.dtype is "q2_k"/],
    ];
    for (const [qc, message] of cases) {
      await writeFile(join(out, "config.json"), JSON.stringify({ ...cfg, quantization_config: qc }));
      await assert.rejects(AutoModelForCausalLM.fromPretrained(out, { backend: "reference" }), message);
    }
  });
});
