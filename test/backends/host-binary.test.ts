/** The host add / mul every host backend shares: each broadcast mode against values worked out by hand. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { Tensor } from "../../src/tensor.js";

const a = Tensor.from(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);

async function values(t: Tensor): Promise<number[]> {
  return [...((await t.data()) as Float32Array)];
}

test("add and mul, same shape", async () => {
  const b = Tensor.from(Float32Array.from([10, 20, 30, 40, 50, 60]), [2, 3]);
  assert.deepEqual(await values(ref.add(a, b)), [11, 22, 33, 44, 55, 66]);
  assert.deepEqual(await values(ref.mul(a, b)), [10, 40, 90, 160, 250, 360]);
});

test("add and mul, b a suffix of a's shape (repeats per row)", async () => {
  const b = Tensor.from(Float32Array.from([1, -1, 0.5]), [3]);
  assert.deepEqual(await values(ref.add(a, b)), [2, 1, 3.5, 5, 4, 6.5]);
  assert.deepEqual(await values(ref.mul(a, b)), [1, -2, 1.5, 4, -5, 3]);
});

test("add and mul, one value per row ([rows, 1])", async () => {
  const b = Tensor.from(Float32Array.from([2, -3]), [2, 1]);
  assert.deepEqual(await values(ref.add(a, b)), [3, 4, 5, 1, 2, 3]);
  assert.deepEqual(await values(ref.mul(a, b)), [2, 4, 6, -12, -15, -18]);
});

test("add rounds to float32 once (as float32 arithmetic does)", async () => {
  const x = Tensor.from(Float32Array.from([16777216]), [1]);
  const y = Tensor.from(Float32Array.from([1]), [1]);
  assert.deepEqual(await values(ref.add(x, y)), [16777216]);
  const big = Tensor.from(Float32Array.from([3.4e38]), [1]);
  assert.deepEqual(await values(ref.mul(big, Tensor.from(Float32Array.from([2]), [1]))), [Infinity]);
});

test("a shape that does not broadcast is an error naming both shapes", () => {
  assert.throws(() => ref.add(a, Tensor.from(Float32Array.from([1, 2]), [2])), { message: /^add: cannot broadcast \[2\] to \[2, 3\]$/ });
});
