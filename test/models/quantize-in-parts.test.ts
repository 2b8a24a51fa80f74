/** Quantize at load in row parts: the same bytes as the whole tensor at once, errors naming the tensor's own row. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { quantizeInParts, quantizeTensor } from "../../src/models/build/quantize.js";
import { narrowFromF32, widenToF32 } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";

function values(rows: number, cols: number, seed: number): Float32Array {
  const out = new Float32Array(rows * cols);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * (1 + (i % 7));
  }
  return out;
}

for (const [format, cols] of [["q8_0", 64], ["q4_0", 96], ["mxfp4", 32], ["q4_k", 256], ["q6_k", 512]] as [QuantFormat, number][]) {
  test(`${format}: parts of 1, 3 and 7 rows give the whole tensor's bytes (10 × ${cols}, float32 and bfloat16 sources)`, () => {
    const x = values(10, cols, cols);
    const bf16 = narrowFromF32(x, "bfloat16");
    for (const src of [Tensor.from(x, [2, 5, cols]), new Tensor([2, 5, cols], "bfloat16", bf16)]) {
      const whole = quantizeRows(src.dtype === "float32" ? x : widenToF32(bf16, "bfloat16"), 10, cols, format);
      for (const part of [1, 3, 7, 10, 64]) assert.deepEqual(quantizeInParts(src, 10, cols, format, part), whole, `${src.dtype}, parts of ${part}`);
    }
  });
}

test("a non-finite value in a later part is reported at its row of the whole tensor", () => {
  const x = values(9, 32, 1);
  x[7 * 32 + 3] = Number.POSITIVE_INFINITY;
  assert.throws(() => quantizeInParts(Tensor.from(x, [9, 32]), 9, 32, "q8_0", 4), /value Infinity at row 7, column 3 is not finite/);
  assert.throws(() => quantizeTensor(Tensor.from(x, [9, 32]), "q8_0", "'w'"), /^Error: quantize 'w' \[9, 32\] to q8_0: quantizeRows \(q8_0\): value Infinity at row 7, column 3/);
});
