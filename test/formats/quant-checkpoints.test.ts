import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dequantize, floatToE4m3, fp8FromCheckpoint, mxfp4FromGptOss, quantizeRows } from "../../src/formats/quant/index.js";
import { formatInfo } from "../../src/formats/table.js";
import { widen } from "../../src/formats/widen.js";
import { bytes, firstBitDifference, firstByteDifference, floats, quantFixture } from "../helpers/quant-fixtures.js";

interface KquantTensors {
  tensors: { name: string; rows: number; cols: number; values: string }[];
}
type LlamaMse = { name: string; q4_k_mse: number; q6_k_mse: number }[];

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

describe("Q4_K / Q6_K quantizers against llama.cpp's", () => {
  const { tensors } = quantFixture<KquantTensors>("kquant-tensors.json");
  const llama = quantFixture<LlamaMse>("llama-kquant-mse.json");
  for (const format of ["q4_k", "q6_k"] as const) {
    for (const t of tensors) {
      for (const native of [false, true]) {
        it(`${format} ${t.name}: mean squared error within 1.02x of llama.cpp's (${native ? "native" : "TS"} quantizer)`, () => {
          const x = floats(t.values);
          const q = quantizeRows(x, t.rows, t.cols, format, { native });
          const err = mse(dequantize(q, t.rows, t.cols, format), x);
          const ref = llama.find((r) => r.name === t.name)![`${format}_mse`];
          assert.ok(ref > 0);
          assert.ok(err <= 1.02 * ref, `moekit ${err.toExponential(4)} vs llama.cpp ${ref.toExponential(4)} (${(err / ref).toFixed(4)}x)`);
        });
      }
    }
  }
});

interface GptOssFixture {
  shape: [number, number, number];
  blocks: string;
  scales: string;
  widened: string;
}

describe("gpt-oss MXFP4 checkpoints", () => {
  const fx = quantFixture<GptOssFixture>("gpt-oss-mxfp4.json");
  const [e, n, k] = fx.shape;
  it("repack to mxfp4 blocks that widen to transformers' convert_moe_packed_tensors (±0 aside)", () => {
    const q = mxfp4FromGptOss(bytes(fx.blocks), bytes(fx.scales), e * n, k, "experts.gate_up_proj");
    assert.equal(q.length, ((e * n * k) / 32) * 17);
    const got = widen(q, "mxfp4");
    const want = floats(fx.widened);
    const i = firstBitDifference(got, want, false);
    assert.equal(i, -1, `value ${i}: moekit ${got[i]}, transformers ${want[i]}`);
  });
  it("rejects a scale of 255 and shapes that do not match, naming the tensor", () => {
    const blocks = bytes(fx.blocks);
    const scales = bytes(fx.scales);
    scales[7] = 255;
    assert.throws(() => mxfp4FromGptOss(blocks, scales, e * n, k, "down_proj"), /down_proj: scale 255 \(NaN in the MX spec\) at row 1, block 3/);
    assert.throws(() => mxfp4FromGptOss(blocks, bytes(fx.scales).subarray(1), e * n, k, "down_proj"), /down_proj: scales hold 47 exponents/);
    assert.throws(() => mxfp4FromGptOss(blocks.subarray(16), bytes(fx.scales), e * n, k, "down_proj"), /down_proj: blocks hold 752 bytes/);
    assert.throws(() => mxfp4FromGptOss(blocks, bytes(fx.scales), e * n, 100, "down_proj"), /not a whole number of MXFP4 blocks/);
  });
});

interface Fp8Fixture {
  cases: { n: number; k: number; weight: string; scale_inv: string; widened: string }[];
  cast: { input: string; bytes: string };
}

describe("FP8 e4m3 with 128x128 block scales", () => {
  const fx = quantFixture<Fp8Fixture>("fp8-e4m3.json");
  for (const c of fx.cases) {
    it(`[${c.n}, ${c.k}] converts to fp8_e4m3_b128 rows that widen bit-exactly to transformers' dequantization`, () => {
      const q = fp8FromCheckpoint(bytes(c.weight), floats(c.scale_inv), c.n, c.k, "w");
      assert.equal(q.length, c.n * (c.k / 128) * 132);
      const got = widen(q, "fp8_e4m3_b128");
      const i = firstBitDifference(got, floats(c.widened));
      assert.equal(i, -1, `value ${i}: moekit ${got[i]}, transformers ${floats(c.widened)[i]}`);
    });
  }
  it("float32 → e4m3 rounds to nearest even as torch casts", () => {
    const x = floats(fx.cast.input);
    const want = bytes(fx.cast.bytes);
    const got = Uint8Array.from(x, (v) => floatToE4m3(v));
    const i = firstByteDifference(got, want);
    assert.equal(i, -1, `value ${x[i]}: moekit 0x${got[i]?.toString(16)}, torch 0x${want[i]?.toString(16)}`);
  });
  it("rejects NaN codes, K not a multiple of 128 and scale grids of the wrong shape, naming the tensor", () => {
    const c = fx.cases[0]!;
    const w = bytes(c.weight);
    const s = floats(c.scale_inv);
    w[3 * c.k + 5] = 0xff;
    assert.throws(() => fp8FromCheckpoint(w, s, c.n, c.k, "layers.0.mlp.experts.0.up_proj.weight"), /up_proj\.weight: NaN e4m3 code 0xff at row 3, column 5/);
    assert.throws(() => fp8FromCheckpoint(bytes(c.weight), s.subarray(1), c.n, c.k, "q"), /q: weight_scale_inv holds 1 scales; 128x128 tiles of \[128, 256\] need \[1, 2\]/);
    assert.throws(() => fp8FromCheckpoint(bytes(c.weight).subarray(0, 100 * 200), s, 100, 200, "q"), /q: rows of 200 values; .* multiple of 128/);
    const inf = Float32Array.from(s);
    inf[1] = Infinity;
    assert.throws(() => fp8FromCheckpoint(bytes(c.weight), inf, c.n, c.k, "q"), /q: weight_scale_inv\[0\]\[1\] = Infinity is not finite/);
  });
});

describe("quantizeRows / dequantize", () => {
  const rows = 3;
  const cols = 256;
  const x = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)) * 0.01);
  // worst-case error of each format as a fraction of its block's largest magnitude: half a step
  // (q8_0 1/127, plus up to 2^-11 of the value from its fp16 scale; q6_k 2/63 plus its 8-bit scale), a full step where the top code is clipped
  // (q4_0 1/8, q5_0 1/16), half of (max − min)/15 plus the 6-bit scale and min (q4_k), the widest
  // e2m1 gap (mxfp4: 4 → 6 of a 6..12 range), half an e4m3 step (fp8: 2^-4 relative)
  const bound = { q8_0: 1 / 254 + 1 / 2048, q4_0: 1 / 8, q5_0: 1 / 16, q4_k: 1 / 12, q6_k: 1 / 50, mxfp4: 1 / 4, fp8_e4m3_b128: 1 / 16 } as const;
  for (const [format, frac] of Object.entries(bound) as [keyof typeof bound, number][]) {
    it(`${format}: round trip stays within ${frac.toFixed(4)} of each block's largest magnitude and keeps every row's blocks apart`, () => {
      const q = quantizeRows(x, rows, cols, format);
      const y = dequantize(q, rows, cols, format);
      const n = formatInfo(format).blockElems;
      for (let b = 0; b < x.length; b += n) {
        let amax = 0;
        for (let i = b; i < b + n; i++) amax = Math.max(amax, Math.abs(x[i]!));
        for (let i = b; i < b + n; i++) assert.ok(Math.abs(y[i]! - x[i]!) <= frac * amax, `value ${i}: ${y[i]} for ${x[i]} (block max ${amax})`);
      }
      const row1 = quantizeRows(x.subarray(cols, 2 * cols), 1, cols, format);
      assert.equal(firstByteDifference(q.subarray(row1.length, 2 * row1.length), row1), -1);
    });
  }
  it("rejects non-finite values, ragged rows, wrong sizes and unknown formats", () => {
    const bad = Float32Array.from(x);
    bad[300] = NaN;
    assert.throws(() => quantizeRows(bad, rows, cols, "q4_0"), /value NaN at row 1, column 44 is not finite/);
    assert.throws(() => quantizeRows(x.subarray(0, 3 * 96), 3, 96, "q4_k"), /q4_k stores rows in blocks of 256 values; a row of 96/);
    assert.throws(() => quantizeRows(x, rows, 128, "q8_0"), /768 values given; 3 rows of 128 in q8_0 need 384/);
    assert.throws(() => quantizeRows(x, rows, cols, "q3_k" as "q4_k"), /"q3_k" is not a block format/);
    assert.throws(() => dequantize(new Uint8Array(33), 1, 32, "q8_0"), /33 bytes given; 1 rows of 32 in q8_0 need 34/);
  });
});
