import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { topKIndices } from "../../src/backends/host/routing.js";

/** The definition: k passes, each the largest value not yet taken, ties toward the lower index, NaN below every number. */
function topKByPasses(values: ArrayLike<number>, k: number): number[] {
  const taken = new Uint8Array(values.length);
  const chosen: number[] = [];
  for (let j = 0; j < k; j++) {
    let best = -1;
    for (let i = 0; i < values.length; i++) {
      if (taken[i]) continue;
      if (best < 0 || values[i]! > values[best]! || (Number.isNaN(values[best]!) && !Number.isNaN(values[i]!))) best = i;
    }
    taken[best] = 1;
    chosen.push(best);
  }
  return chosen;
}

describe("topKIndices", () => {
  it("equals k passes over the row on rows with ties, infinities and NaNs", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const special = [NaN, Infinity, -Infinity, 0, -0, 1, 1, 0.5];
    for (let trial = 0; trial < 3000; trial++) {
      const n = 1 + Math.floor(rand() * 70);
      const values = Float64Array.from({ length: n }, () => (rand() < 0.3 ? special[Math.floor(rand() * special.length)]! : Math.round(rand() * 8) / 4 - 1));
      const k = 1 + Math.floor(rand() * n);
      assert.deepEqual(topKIndices(values, k), topKByPasses(values, k), `row ${Array.from(values)} k ${k}`);
    }
  });

  it("orders an all-NaN row by index, and numbers ahead of NaNs", () => {
    assert.deepEqual(topKIndices([NaN, NaN, NaN], 2), [0, 1]);
    assert.deepEqual(topKIndices([NaN, -Infinity, NaN, 3], 3), [3, 1, 0]);
    assert.deepEqual(topKIndices([2, 5, 5, 1, 5], 3), [1, 2, 4]);
  });
});
