/**
 * The webgpu products on block-format weights (src/backends/webgpu/kernels/quant-weights.wgsl.ts): the blocks are
 * uploaded as stored and widened inside the GEMV lanes and the GEMM weight tiles. Against the reference backend on
 * the same quantized weights (it widens on the host): only the float32 summation order differs, measured ≤ 1e-6
 * of max |y| (TOL leaves room); weights split into chunks; block weights refused by the ops that read floats;
 * whole models quantized at load (and the fp8 checkpoint) on webgpu: logits within MODEL_TOL of the reference's,
 * greedy ids equal.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { WebGpuBackend } from "../../src/backends/webgpu/index.js";
import type { GpuStorage } from "../../src/backends/webgpu/runtime.js";
import { QUANT_WEIGHTS } from "../../src/backends/webgpu/kernels/quant-weights.wgsl.js";
import { quantizeRows } from "../../src/formats/quant/index.js";
import { formatInfo, storageBytes } from "../../src/formats/table.js";
import type { QuantDType } from "../../src/models/build/quantize.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir, K256, type FixtureSuite } from "../models/model-fixtures.js";
import { ggufPath } from "../helpers/gguf-models.js";
import { ints, randint, randn, rng, webgpuOrSkip } from "../webgpu/setup.js";

// The float path (each weight value widened in the lanes); the int8 GEMV is test/webgpu/int8-dot.test.ts.
const { backend: gpu, skip } = await webgpuOrSkip({ int8Dot: false });

/** Products: the reference's float32 widening, summed in another order. Measured ≤ 1e-6 of max |y|. */
const TOL = 1e-5;
/** Whole models (2 layers, the same quantized weights): measured ≤ 1.2e-6 of max |logit| (q4_k_m at hidden 256; ≤ 5.2e-7 for the others). */
const MODEL_TOL = 1e-4;

function quantized(r: () => number, shape: number[], format: (typeof QUANT_WEIGHTS)[number]): Tensor {
  const cols = shape[shape.length - 1]!;
  const rows = shape.reduce((a, b) => a * b, 1) / cols;
  const v = Float32Array.from({ length: rows * cols }, () => r() * 2 - 1);
  return new Tensor(shape, format, quantizeRows(v, rows, cols, format));
}

async function expectClose(got: Tensor, want: Tensor, tol: number, what: string): Promise<void> {
  assert.deepEqual([...got.shape], [...want.shape], `${what}: shape`);
  assertClose(await got.data(), await want.data(), tol, what);
}

describe("webgpu products on block-format weights", { skip }, () => {
  const b = gpu!;
  for (const format of QUANT_WEIGHTS) {
    it(`${format}: linear (GEMV and both GEMM tiles), groupedLinear, gatheredLinear against the reference`, async () => {
      const r = rng(9100 + formatInfo(format).code);
      const k = formatInfo(format).blockElems === 32 ? 96 : 256;
      const w = quantized(r, [37, k], format);
      const gw = b.adopt(w);
      assert.equal((gw.storage as GpuStorage).elem, "blocks", "kept as blocks on the device");
      const bias = randn(r, [37]);
      for (const m of [1, 3, 9, 30]) {
        const x = randn(r, [m, k]);
        await expectClose(b.linear(b.adopt(x), gw, { bias: b.adopt(bias) }), ref.linear(x, w, { bias }), TOL, `linear M=${m}`);
      }
      const [e, n] = [5, 20];
      const ws = quantized(r, [e, n, k], format);
      const gws = b.adopt(ws);
      for (const [t, topk] of [
        [1, 2],
        [24, 2],
      ] as const) {
        const ids = ints(randint(r, t * topk, e));
        const x = randn(r, [t, k]);
        const sorted = ref.sortByExpert(ids, e);
        await expectClose(
          b.groupedLinear(b.adopt(x), gws, b.adopt(sorted.offsets), { rowIndex: b.adopt(sorted.order), rowsPerInput: topk }),
          ref.groupedLinear(x, ws, sorted.offsets, { rowIndex: sorted.order, rowsPerInput: topk }),
          TOL,
          `grouped T=${t}`,
        );
        await expectClose(b.gatheredLinear(b.adopt(x), gws, b.adopt(ids), { rowsPerInput: topk }), ref.gatheredLinear(x, ws, ids, { rowsPerInput: topk }), TOL, `gathered T=${t}`);
      }
    });
  }

  it("block weights larger than a buffer are split into chunks of whole experts or rows, each its stored bytes", async () => {
    const r = rng(9200);
    const ws = quantized(r, [3, 40, 64], "q8_0");
    const expert = storageBytes("q8_0", [40, 64]);
    // Whole experts (two per chunk), then runs of rows of one expert.
    for (const [limit, count] of [
      [2 * expert, 2],
      [1000, 9],
    ] as const) {
      const small = new WebGpuBackend(b.device, { maxChunkBytes: limit });
      const g = small.adopt(ws);
      const chunks = (g.storage as GpuStorage).chunked?.chunks ?? [];
      assert.equal(chunks.length, count, `chunks at ${limit} bytes`);
      for (const c of chunks) assert.ok(c.buffer.size <= limit + 3, "each chunk within the limit");
      const x = randn(r, [6, 64]);
      const ids = ints(randint(r, 12, 3));
      const sorted = ref.sortByExpert(ids, 3);
      const xs = randn(r, [12, 64]);
      await expectClose(small.gatheredLinear(small.adopt(x), g, small.adopt(ids), { rowsPerInput: 2 }), ref.gatheredLinear(x, ws, ids, { rowsPerInput: 2 }), TOL, "gathered over chunks");
      await expectClose(small.groupedLinear(small.adopt(xs), g, small.adopt(sorted.offsets)), ref.groupedLinear(xs, ws, sorted.offsets), TOL, "grouped over chunks");
    }
  });

  for (const format of QUANT_WEIGHTS) {
    it(`${format}: embedding gathers rows of a block-format table (kept as blocks, whole and in chunks) exactly as the reference widens them`, async () => {
      const r = rng(9400 + formatInfo(format).code);
      const h = formatInfo(format).blockElems === 32 ? 64 : 256;
      const table = quantized(r, [50, h], format);
      const ids = ints([0, 49, 7, 7, 23, 1, 48, 30]);
      const want = await ref.embedding(table, ids).data();
      const whole = b.adopt(table);
      assert.equal((whole.storage as GpuStorage).elem, "blocks", "kept as blocks on the device");
      assert.deepEqual(await b.embedding(whole, b.adopt(ids)).data(), want, "one buffer");
      const small = new WebGpuBackend(b.device, { maxChunkBytes: 7 * storageBytes(format, [1, h]) });
      const split = small.adopt(table);
      assert.ok(((split.storage as GpuStorage).chunked?.chunks.length ?? 1) >= 7, "split into chunks of rows");
      assert.deepEqual(await small.embedding(split, small.adopt(ids)).data(), want, "chunks");
    });
  }

  it("ops that read float weights refuse a block-format weight by name", async () => {
    const w = b.adopt(quantized(rng(9300), [16, 32], "q4_0"));
    assert.throws(() => b.rmsNorm(b.adopt(randn(rng(1), [2, 32])), b.adopt(quantized(rng(9301), [1, 32], "q4_0").reshape([32])), 1e-6), /q4_0/);
    assert.throws(() => b.cast(w, "float32"), /cast: q4_0 is a block format/);
    await assert.rejects(b.read(w), /read of a q4_0 weight/);
    assert.throws(() => b.adopt(new Tensor([64], "q8_0", new Uint8Array(68))), /no kernels read q8_0 tensors of shape \[64\]/);
  });
});

const FP8: FixtureSuite = { dir: join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "transformers-fp8"), families: ["qwen3_moe"] };

describe("webgpu whole models on quantized weights", { skip }, () => {
  const cases: [FixtureSuite, string, QuantDType | undefined][] = [
    [F32, "qwen2_moe", "q8_0"],
    [F32, "mixtral", "q4_0"],
    [F32, "deepseek_v3", "mxfp4"],
    [K256, "qwen2_moe", "q4_k_m"],
    [FP8, "qwen3_moe", undefined],
  ];
  it("a GGUF with a q8_0 token_embd (qwen3_moe q8_0/q4_0, llama.cpp's mix): the table stays q8_0 on the device, logits within MODEL_TOL of the reference, greedy ids equal", async () => {
    const path = ggufPath("qwen3_moe-q8_0-q4_0");
    const q = await AutoModelForCausalLM.fromPretrained(path, { backend: "reference" });
    const g = await AutoModelForCausalLM.fromPretrained(path, { backend: gpu! });
    assert.equal(g.parts.embedTokens.dtype, "q8_0");
    assert.equal((g.parts.embedTokens.storage as GpuStorage).elem, "blocks", "the table is not widened on the device");
    const ids = Tensor.from(new Int32Array([1, 17, 300, 5, 511, 42]), [1, 6]);
    assertClose(await (await g.forward(ids)).logits.data(), await (await q.forward(ids)).logits.data(), MODEL_TOL, "gguf q8_0 embeddings on webgpu");
    const opts = { maxNewTokens: 6, minNewTokens: 6, doSample: false };
    assert.deepEqual(Array.from((await (await g.generate(ids, opts)).data()) as Int32Array), Array.from((await (await q.generate(ids, opts)).data()) as Int32Array));
    g.dispose();
  });

  for (const [suite, family, dtype] of cases) {
    it(`${family} ${dtype ?? "fp8 checkpoint"}: logits within ${MODEL_TOL} of the reference on the same weights, greedy ids equal`, async () => {
      const dir = familyDir(suite, family);
      const ex = await expectedTensors(suite, family);
      const s = ex.input_ids!.shape[1]!;
      const ids = Tensor.from(((await ex.input_ids!.data()) as Int32Array).slice(0, s), [1, s]);
      const q = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", dtype });
      const g = await AutoModelForCausalLM.fromPretrained(dir, { backend: gpu!, dtype });
      const down = g.moeBlocks()[0]!.experts.weights.down;
      assert.ok(formatInfo(down.dtype).kind === "block", `experts down is ${down.dtype}`);
      assertClose(await (await g.forward(ids)).logits.data(), await (await q.forward(ids)).logits.data(), MODEL_TOL, `${family} webgpu`);
      const opts = { maxNewTokens: 6, minNewTokens: 6, doSample: false };
      assert.deepEqual(Array.from((await (await g.generate(ids, opts)).data()) as Int32Array), Array.from((await (await q.generate(ids, opts)).data()) as Int32Array));
    });
  }
});
