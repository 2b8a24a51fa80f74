/**
 * The int8 GEMV on integer-code block weights (src/backends/webgpu/kernels/int8-dot.wgsl.ts): input rows
 * quantized per block (32 values; 256 for q4_k / q6_k) to int8 as the cpu backend does, packed dot products
 * (dot4I8Packed) scaled by d_w · d_x. Checked against the reference on the same quantized weights:
 *  - inputs exactly representable as int8 × a power-of-two block scale (quantizing them loses nothing), and
 *    float inputs against the reference on the same inputs rounded to int8 on the host: only the float32
 *    summation order differs (TIGHT);
 *  - float inputs against the reference on the raw inputs: the int8 rounding of the inputs, measured on Mesa
 *    lavapipe ≤ 5.1e-3 of max |y| over 70 outputs (q4_k, q6_k; ≤ 4.5e-3 for the 32-block formats), as the
 *    cpu's ≤ 5.6e-3 (FLOAT_TOL);
 *  - whole fixture models: greedy ids equal, logits within MODEL_TOL (measured ≤ 9.3e-3 of max |logit| at
 *    hidden 64 and ≤ 2.1e-2 at hidden 256 (q4_k_m) for one token, where every product is a GEMV; the cpu's
 *    int8 path: ≤ 3.2e-3 and ≤ 2.9e-2).
 * Detection of the WGSL language feature, the option forcing either path, and the float path kept for fp8
 * weights and when the option is off.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { createWebGpuBackend, WebGpuBackend } from "../../src/backends/webgpu/index.js";
import { hasPackedDot } from "../../src/backends/webgpu/device.js";
import { inputBlock, INT8_DOT_WEIGHTS, type Int8DotWeight } from "../../src/backends/webgpu/kernels/int8-dot.wgsl.js";
import { MV_ROWS } from "../../src/backends/webgpu/kernels/gathered-linear.wgsl.js";
import { quantizeRows } from "../../src/formats/quant/index.js";
import { storageBytes } from "../../src/formats/table.js";
import type { QuantDType } from "../../src/models/build/quantize.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir, K256, type FixtureSuite } from "../models/model-fixtures.js";
import { ints, randint, randn, rng, webgpuOrSkip } from "./setup.js";

const { backend: gpu, skip: noGpu } = await webgpuOrSkip();
const skip = noGpu ?? (gpu!.int8Dot ? undefined : "this adapter's WGSL has no packed_4x8_integer_dot_product");

/** Same int8 inputs on both sides: float32 summation order only (measured ≤ 4e-7 of max |y|). */
const TIGHT = 5e-6;
/** Float inputs: the int8 rounding of the inputs (measured ≤ 5.1e-3 of max |y| on lavapipe). */
const FLOAT_TOL = 8e-3;
/** Whole models on the int8 path against the reference on the same weights (measured ≤ 2.1e-2 of max |logit|, q4_k_m at hidden 256). */
const MODEL_TOL = 3e-2;

function quantized(r: () => number, shape: number[], format: string): Tensor {
  const cols = shape[shape.length - 1]!;
  const rows = shape.reduce((a, b) => a * b, 1) / cols;
  const v = Float32Array.from({ length: rows * cols }, () => r() * 2 - 1);
  return new Tensor(shape, format as Int8DotWeight, quantizeRows(v, rows, cols, format as Int8DotWeight));
}

/** Rows whose blocks are int8 codes (one of them ±127) times a power of two: int8 quantization is exact on them. */
function int8Exact(r: () => number, rows: number, k: number, block: number): Tensor {
  const v = new Float32Array(rows * k);
  for (let b0 = 0; b0 < v.length; b0 += block) {
    const scale = 2 ** (Math.floor(r() * 8) - 5);
    for (let i = 0; i < block; i++) v[b0 + i] = (Math.floor(r() * 255) - 127) * scale;
    v[b0 + Math.floor(r() * block)] = (r() < 0.5 ? -127 : 127) * scale;
  }
  return Tensor.from(v, [rows, k]);
}

function roundEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

/** The inputs as the int8 path sees them: per block d = max|x| / 127, q = clamp(round-to-even(x · (1/d)), ±127), d·q (float32). */
async function int8Rounded(x: Tensor, block: number): Promise<Tensor> {
  const v = (await x.data()) as Float32Array;
  const out = new Float32Array(v.length);
  for (let b0 = 0; b0 < v.length; b0 += block) {
    let amax = 0;
    for (let i = 0; i < block; i++) amax = Math.max(amax, Math.abs(v[b0 + i]!));
    const d = Math.fround(amax / 127);
    const inv = d > 0 ? Math.fround(1 / d) : 0;
    for (let i = 0; i < block; i++) out[b0 + i] = Math.fround(d * Math.min(127, Math.max(-127, roundEven(Math.fround(v[b0 + i]! * inv)))));
  }
  return Tensor.from(out, [...x.shape]);
}

async function expectClose(got: Tensor, want: Tensor, tol: number, what: string): Promise<void> {
  assert.deepEqual([...got.shape], [...want.shape], `${what}: shape`);
  assertClose(await got.data(), await want.data(), tol, what);
}

/** K of one block, of a partial quantizer workgroup (< 256 values), and of several workgroups with a partial last one. */
function kEdges(f: Int8DotWeight): number[] {
  return inputBlock(f) === 32 ? [32, 224, 288] : [256, 768];
}

describe("webgpu int8 dot products: detection and the option", { skip: noGpu }, () => {
  const b = gpu!;
  it("the backend's int8Dot follows the adapter's WGSL language feature; the compile probe agrees", async () => {
    assert.equal(await hasPackedDot(b.device), b.int8Dot, "probe by compiling dot4I8Packed on the device");
    assert.equal(b.description.includes("int8 dot"), b.int8Dot);
  });

  it("int8Dot: true where the feature is absent is refused by name; left out, the float path is chosen", async () => {
    const noFeature = { wgslLanguageFeatures: new Set<string>() } as unknown as GPU;
    await assert.rejects(createWebGpuBackend({ device: b.device, gpu: noFeature, int8Dot: true }), /int8Dot: true needs WGSL's packed_4x8_integer_dot_product/);
    assert.equal((await createWebGpuBackend({ device: b.device, gpu: noFeature })).int8Dot, false);
    assert.equal((await createWebGpuBackend({ device: b.device, int8Dot: false })).int8Dot, false);
  });
});

describe("webgpu int8 GEMV on block weights", { skip }, () => {
  const b = new WebGpuBackend(gpu!.device, { int8Dot: true });
  const float = new WebGpuBackend(gpu!.device, { int8Dot: false });

  for (const format of INT8_DOT_WEIGHTS) {
    it(`${format}: linear (M = 1, 2, 4; N = 1, ${MV_ROWS + 1}, 70) on int8-exact inputs and on host-int8-rounded inputs equals the reference tightly; raw float inputs (N = 70) within ${FLOAT_TOL}`, async () => {
      const r = rng(9600 + INT8_DOT_WEIGHTS.indexOf(format));
      const block = inputBlock(format);
      for (const k of kEdges(format)) {
        for (const n of [1, MV_ROWS + 1, 70]) {
          const w = quantized(r, [n, k], format);
          const gw = b.adopt(w);
          const bias = randn(r, [n]);
          for (const m of [1, 2, 4]) {
            const what = `${format} K=${k} N=${n} M=${m}`;
            const xe = int8Exact(r, m, k, block);
            await expectClose(b.linear(b.adopt(xe), gw, { bias: b.adopt(bias) }), ref.linear(xe, w, { bias }), TIGHT, `${what} int8-exact`);
            const x = randn(r, [m, k], 3);
            const got = b.linear(b.adopt(x), gw);
            await expectClose(got, ref.linear(await int8Rounded(x, block), w), TIGHT, `${what} host-rounded`);
            // Relative to max |y|, which needs a few outputs to mean anything (one output may itself cancel to near 0).
            if (n >= 70) await expectClose(got, ref.linear(x, w), FLOAT_TOL, `${what} float inputs`);
          }
        }
      }
    });

    it(`${format}: gatheredLinear and groupedLinear (decode segments, row gather, rowsPerInput 2) against the reference on the same int8 inputs`, async () => {
      const r = rng(9700 + INT8_DOT_WEIGHTS.indexOf(format));
      const block = inputBlock(format);
      const k = kEdges(format)[1]!;
      const [e, n] = [5, 45];
      const ws = quantized(r, [e, n, k], format);
      const gws = b.adopt(ws);
      for (const t of [1, 3]) {
        const topk = 2;
        const ids = ints(randint(r, t * topk, e));
        const x = randn(r, [t, k]);
        const xr = await int8Rounded(x, block);
        const sorted = ref.sortByExpert(ids, e);
        await expectClose(b.gatheredLinear(b.adopt(x), gws, b.adopt(ids), { rowsPerInput: topk }), ref.gatheredLinear(xr, ws, ids, { rowsPerInput: topk }), TIGHT, `gathered T=${t}`);
        await expectClose(
          b.groupedLinear(b.adopt(x), gws, b.adopt(sorted.offsets), { rowIndex: b.adopt(sorted.order), rowsPerInput: topk }),
          ref.groupedLinear(xr, ws, sorted.offsets, { rowIndex: sorted.order, rowsPerInput: topk }),
          TIGHT,
          `grouped T=${t}`,
        );
        // The float path on the same device is a different computation (each value widened, float inputs).
        const viaFloat = await float.gatheredLinear(float.adopt(x), float.adopt(ws), float.adopt(ids), { rowsPerInput: topk }).data();
        await expectClose(float.gatheredLinear(float.adopt(x), float.adopt(ws), float.adopt(ids), { rowsPerInput: topk }), ref.gatheredLinear(x, ws, ids, { rowsPerInput: topk }), 1e-5, `float path T=${t}`);
        const viaInt8 = await b.gatheredLinear(b.adopt(x), gws, b.adopt(ids), { rowsPerInput: topk }).data();
        assert.ok(viaInt8.some((v, i) => v !== viaFloat[i]), "int8 and float paths differ on float inputs");
      }
    });
  }

  it("weights split into chunks of experts and of rows: the int8 GEMV reads each chunk in place", async () => {
    const r = rng(9800);
    const ws = quantized(r, [3, 40, 96], "q4_0");
    const expert = storageBytes("q4_0", [40, 96]);
    for (const limit of [2 * expert, 700]) {
      const small = new WebGpuBackend(gpu!.device, { maxChunkBytes: limit, int8Dot: true });
      const g = small.adopt(ws);
      const ids = ints(randint(r, 4, 3));
      const x = randn(r, [2, 96]);
      const xr = await int8Rounded(x, 32);
      await expectClose(small.gatheredLinear(small.adopt(x), g, small.adopt(ids), { rowsPerInput: 2 }), ref.gatheredLinear(xr, ws, ids, { rowsPerInput: 2 }), TIGHT, `chunks ≤ ${limit} B`);
    }
  });

  it("a non-finite input value makes the products of its row NaN (its block's scale is NaN); other rows are unaffected", async () => {
    const r = rng(9900);
    const w = quantized(r, [33, 64], "q8_0");
    for (const bad of [Infinity, -Infinity, NaN]) {
      const xv = (await randn(r, [2, 64]).data()) as Float32Array;
      xv[40] = bad;
      const x = Tensor.from(xv, [2, 64]);
      const got = (await b.linear(b.adopt(x), b.adopt(w)).data()) as Float32Array;
      assert.ok(got.subarray(0, 33).every((v) => Number.isNaN(v)), `row 0 with ${bad}: all NaN`);
      const x1 = Tensor.from(xv.slice(64), [1, 64]);
      assertClose(got.subarray(33), await ref.linear(await int8Rounded(x1, 32), w).data(), TIGHT, `row 1 beside ${bad}`);
    }
  });

  it("fp8_e4m3_b128 weights (non-integer values) keep the float path under int8Dot", async () => {
    const r = rng(9950);
    const w = quantized(r, [20, 256], "fp8_e4m3_b128");
    const x = randn(r, [2, 256]);
    await expectClose(b.linear(b.adopt(x), b.adopt(w)), ref.linear(x, w), 1e-5, "fp8 linear");
  });
});

describe("webgpu whole models on the int8 GEMV", { skip }, () => {
  const b = new WebGpuBackend(gpu!.device, { int8Dot: true });
  const cases: [FixtureSuite, string, QuantDType][] = [
    [F32, "qwen2_moe", "q8_0"],
    [F32, "mixtral", "q4_0"],
    [F32, "deepseek_v3", "mxfp4"],
    [K256, "qwen2_moe", "q4_k_m"],
  ];
  for (const [suite, family, dtype] of cases) {
    it(`${family} ${dtype}: logits within ${MODEL_TOL} of the reference on the same weights, greedy ids equal`, async () => {
      const dir = familyDir(suite, family);
      const ex = await expectedTensors(suite, family);
      const s = ex.input_ids!.shape[1]!;
      const ids = Tensor.from(((await ex.input_ids!.data()) as Int32Array).slice(0, s), [1, s]);
      const q = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", dtype });
      const g = await AutoModelForCausalLM.fromPretrained(dir, { backend: b, dtype });
      // One token: every product is a GEMV, so every quantized one is on the int8 path.
      const first = Tensor.from(((await ids.data()) as Int32Array).slice(0, 1), [1, 1]);
      assertClose(await (await g.forward(first)).logits.data(), await (await q.forward(first)).logits.data(), MODEL_TOL, `${family} one token`);
      assertClose(await (await g.forward(ids)).logits.data(), await (await q.forward(ids)).logits.data(), MODEL_TOL, `${family} prompt`);
      const opts = { maxNewTokens: 6, minNewTokens: 6, doSample: false };
      assert.deepEqual(Array.from((await (await g.generate(ids, opts)).data()) as Int32Array), Array.from((await (await q.generate(ids, opts)).data()) as Int32Array));
      g.dispose();
    });
  }
});
