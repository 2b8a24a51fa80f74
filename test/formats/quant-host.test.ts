import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { rowBytes, formatInfo } from "../../src/formats/table.js";
import { weightRows } from "../../src/formats/rows.js";
import { segmentsOf } from "../../src/formats/segments.js";
import { Tensor } from "../../src/tensor.js";
import { widen } from "../../src/formats/widen.js";
import { bytes, firstBitDifference, firstByteDifference, floats, quantFixture } from "../helpers/quant-fixtures.js";

interface GgmlFixture {
  format: QuantFormat;
  blocks: number;
  bytes: string;
  widened: string;
  rows?: number;
  cols?: number;
  input?: string;
  quantized?: string;
}

const GGML: QuantFormat[] = ["q8_0", "q4_0", "q5_0", "q4_k", "q6_k", "mxfp4"];

describe("ggml block formats against gguf-py", () => {
  for (const format of GGML) {
    const fx = quantFixture<GgmlFixture>(`ggml-${format}.json`);
    it(`${format}: widening random and edge-case blocks is bit-exact with gguf.quants.dequantize`, () => {
      const b = bytes(fx.bytes);
      const f = formatInfo(format);
      assert.equal(b.length, fx.blocks * f.blockBytes);
      const got = widen(b, format);
      const want = floats(fx.widened);
      const i = firstBitDifference(got, want);
      assert.equal(i, -1, `value ${i} (block ${Math.floor(i / f.blockElems)}): moekit ${got[i]}, gguf-py ${want[i]}`);
    });
    if (fx.input) {
      for (const native of [false, true]) {
        it(`${format}: quantizing float rows is bit-exact with gguf.quants.quantize (${native ? "native" : "TS"} quantizer)`, () => {
          const got = quantizeRows(floats(fx.input!), fx.rows!, fx.cols!, format, { native });
          const want = bytes(fx.quantized!);
          const i = firstByteDifference(got, want);
          const bb = formatInfo(format).blockBytes;
          assert.equal(i, -1, `byte ${i} (block ${Math.floor(i / bb)}, byte ${i % bb}): moekit ${got[i]}, gguf-py ${want[i]}`);
        });
      }
    }
  }
});

describe("quantized weights through the format seam", () => {
  it("a q4_k tensor and a two-segment view of it read the same rows as widening the blocks", () => {
    const [e, n, k] = [2, 3, 512];
    const x = Float32Array.from({ length: e * n * k }, (_, i) => Math.cos(i * 0.11) * 0.02);
    const q = quantizeRows(x, e * n, k, "q4_k");
    const all = widen(q, "q4_k");
    const t = new Tensor([e, n, k], "q4_k", q);
    const rb = rowBytes("q4_k", k);
    const view = new Tensor([e, n, k], "q4_k", segmentsOf([{ data: q.slice(0, 2 * rb), rows: 2 }, { data: q.slice(2 * rb), rows: 4 }]));
    for (const tensor of [t, view]) {
      const rows = weightRows(tensor, 1, 3); // rows 1..3 span both segments of the view
      assert.equal(firstBitDifference(rows, all.subarray(k, 4 * k)), -1);
    }
    assert.throws(() => new Tensor([e, n, k], "q4_k", q.subarray(1)), /Uint8Array of 1727 elements does not hold q4_k \[2, 3, 512\] \(1728 needed\)/);
    assert.throws(() => new Tensor([2, 100], "q4_k", new Uint8Array(200)), /q4_k stores rows in blocks of 256 values; a last dim of 100 is not a multiple/);
  });
});
