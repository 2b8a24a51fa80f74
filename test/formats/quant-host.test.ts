import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { formatInfo } from "../../src/formats/table.js";
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
      it(`${format}: quantizing float rows is bit-exact with gguf.quants.quantize`, () => {
        const got = quantizeRows(floats(fx.input!), fx.rows!, fx.cols!, format);
        const want = bytes(fx.quantized!);
        const i = firstByteDifference(got, want);
        const bb = formatInfo(format).blockBytes;
        assert.equal(i, -1, `byte ${i} (block ${Math.floor(i / bb)}, byte ${i % bb}): moekit ${got[i]}, gguf-py ${want[i]}`);
      });
    }
  }
});
