import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { nativeQuant, nativeQuantizer } from "../../src/formats/quant/native.js";
import { formatInfo } from "../../src/formats/table.js";
import { firstByteDifference } from "../helpers/quant-fixtures.js";
import { rng } from "../helpers/random.js";

// The native quantizers (native/src/quant/quantize_impl.h) against their TS twins, byte for byte.
const FORMATS: QuantFormat[] = ["q8_0", "q4_0", "q5_0", "q4_k", "q6_k", "mxfp4"];
const q = nativeQuant();

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Rows of `cols` values, one kind per row: the shapes the K-quant searches branch on. */
function edgeRows(cols: number, seed: number): { x: Float32Array; rows: number; kinds: string[] } {
  const r = rng(seed);
  const kinds: [string, (i: number) => number][] = [
    ["gaussian", () => gauss(r) * 0.02],
    ["uniform", () => r() * 2 - 1],
    ["all zero", () => 0],
    ["negative zero", () => -0],
    ["constant positive", () => 0.375],
    ["constant negative", () => -1.5],
    ["all positive", () => 1 + r()],
    ["heavy tailed", () => gauss(r) / (Math.abs(r() - 0.5) + 1e-3)],
    ["one outlier", (i) => (i === 77 % cols ? 40 : gauss(r) * 0.01)],
    ["huge", () => gauss(r) * 1e37],
    ["largest finite", (i) => (i % 3 === 0 ? 3.4028234663852886e38 : -3e38 * r())],
    ["tiny", () => gauss(r) * 1e-30],
    ["subnormal", () => gauss(r) * 1e-41],
    ["small integers", () => Math.round((r() * 2 - 1) * 8)],
    ["rounding ties", (i) => (i % 16) * 0.5 - 3.75],
    ["sparse", () => (r() < 0.9 ? 0 : gauss(r))],
    ["half-scale overflow", () => gauss(r) * 1e6],
  ];
  const x = new Float32Array(kinds.length * cols);
  kinds.forEach(([, f], row) => {
    for (let i = 0; i < cols; i++) x[row * cols + i] = f(i);
  });
  return { x, rows: kinds.length, kinds: kinds.map(([k]) => k) };
}

describe("native block quantizers", () => {
  it("are available in Node with the addon built", () => {
    assert.ok(nativeQuantizer(), "the addon has no quant.quantize: rebuild it with `npm run build:native`");
  });
  for (const format of FORMATS) {
    const f = formatInfo(format);
    for (const cols of [256, 5632]) {
      it(`${format}, rows of ${cols}: random and edge-case rows are byte-identical with the TS quantizer`, () => {
        const { x, rows, kinds } = edgeRows(cols, cols + f.code);
        const want = quantizeRows(x, rows, cols, format, { native: false });
        for (const threaded of [false, true]) {
          const got = new Uint8Array(want.length);
          assert.equal(q.quantize!(f.code, x, rows, cols, got, threaded), -1);
          const i = firstByteDifference(got, want);
          const rowBytes = (cols / f.blockElems) * f.blockBytes;
          assert.equal(i, -1, `row "${kinds[Math.floor(i / rowBytes)]}", byte ${i % rowBytes}: native ${got[i]}, TS ${want[i]} (threaded ${threaded})`);
        }
      });
    }
  }

  it("split over the thread pool, a large tensor gives the same bytes as one thread", () => {
    const r = rng(5);
    const rows = 96;
    const cols = 2048; // 196,608 values: several tasks of 64 Ki values
    const x = new Float32Array(rows * cols);
    for (let i = 0; i < x.length; i++) x[i] = gauss(r) * (1 + (i % 7));
    for (const format of FORMATS) {
      const f = formatInfo(format);
      const one = new Uint8Array(((rows * cols) / f.blockElems) * f.blockBytes);
      const pooled = new Uint8Array(one.length);
      q.quantize!(f.code, x, rows, cols, one, false);
      q.quantize!(f.code, x, rows, cols, pooled, true);
      assert.equal(firstByteDifference(pooled, one), -1, format);
      assert.equal(firstByteDifference(quantizeRows(x, rows, cols, format), one), -1, `${format} through quantizeRows`);
    }
  });

  it("q4_k: wide random rows (many sub-block groups, an odd count of super-blocks) match the TS quantizer", () => {
    const r = rng(11);
    for (const cols of [256 * 3, 256 * 9]) {
      const rows = 5;
      const x = new Float32Array(rows * cols);
      for (let i = 0; i < x.length; i++) x[i] = gauss(r) * (i % 256 < 128 ? 0.02 : 3) + (i % 512 < 64 ? 0.5 : 0);
      for (const format of ["q4_k", "q6_k"] as const) {
        const want = quantizeRows(x, rows, cols, format, { native: false });
        assert.equal(firstByteDifference(quantizeRows(x, rows, cols, format, { native: true, threaded: false }), want), -1, `${format}, rows of ${cols}`);
      }
    }
  });

  it("report a non-finite value by row and column, and write nothing", () => {
    const cols = 512;
    const x = new Float32Array(3 * cols).fill(0.5);
    x[2 * cols + 300] = Number.NaN;
    const out = new Uint8Array(3 * 2 * 144).fill(7);
    assert.equal(q.quantize!(formatInfo("q4_k").code, x, 3, cols, out), 2 * cols + 300);
    assert.ok(out.every((b) => b === 7));
    for (const native of [true, false]) {
      assert.throws(() => quantizeRows(x, 3, cols, "q4_k", { native }), /quantizeRows \(q4_k\): value NaN at row 2, column 300 is not finite/);
      x[2 * cols + 300] = 0;
      x[cols + 1] = Number.NEGATIVE_INFINITY;
      assert.throws(() => quantizeRows(x, 3, cols, "q6_k", { native }), /quantizeRows \(q6_k\): value -Infinity at row 1, column 1 is not finite/);
      x[cols + 1] = 0;
      x[2 * cols + 300] = Number.NaN;
    }
  });

  it("reject bad shapes and formats with errors naming the format and the sizes", () => {
    const x = new Float32Array(2 * 300);
    assert.throws(() => quantizeRows(x, 2, 300, "q4_k"), /quantizeRows: q4_k stores rows in blocks of 256 values; a row of 300 is not a multiple/);
    assert.throws(() => quantizeRows(new Float32Array(500), 2, 256, "q6_k"), /quantizeRows: 500 values given; 2 rows of 256 in q6_k need 512/);
    const code = formatInfo("q4_k").code;
    assert.throws(() => q.quantize!(code, x, 2, 300, new Uint8Array(10)), /quant\.quantize: q4_k rows are whole blocks of 256; cols = 300/);
    assert.throws(() => q.quantize!(code, new Float32Array(256), 2, 256, new Uint8Array(288)), /quant\.quantize: x holds 256 values; 2 rows of 256 need 512/);
    assert.throws(() => q.quantize!(code, new Float32Array(512), 2, 256, new Uint8Array(287)), /quant\.quantize: out holds 287 bytes; q4_k needs 288/);
    assert.throws(() => q.quantize!(formatInfo("fp8_e4m3_b128").code, new Float32Array(128), 1, 128, new Uint8Array(132)), /quant\.quantize: fp8_e4m3_b128 has no native quantizer/);
    assert.throws(() => q.quantize!(1, new Float32Array(4), 1, 4, new Uint8Array(8)), /quant\.quantize: format code 1 is not a block format/);
    assert.throws(() => q.quantize!(code, new Uint16Array(256) as unknown as Float32Array, 1, 256, new Uint8Array(144)), /quant\.quantize: x must be a Float32Array/);
  });
});
