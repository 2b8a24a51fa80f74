import assert from "node:assert/strict";
import type { Tensor } from "../../src/tensor.js";

/** max |a - b| ≤ tol · max |ref| (the fixtures' tolerance, relative to the reference's scale). */
export function assertClose(actual: ArrayLike<number>, ref: ArrayLike<number>, tol = 1e-4, what = "values"): void {
  assert.equal(actual.length, ref.length, `${what}: length ${actual.length} vs ${ref.length}`);
  let scale = 0;
  for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]!));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(actual[i]! - ref[i]!);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert.ok(scale > 0, `${what}: reference is all zeros, the comparison would prove nothing`);
  assert.ok(worst <= tol * scale, `${what}: max |diff| ${worst} at ${at} exceeds ${tol} × max|ref| (${scale})`);
}

/**
 * Tensors: the same shape (and dtype, unless `sameDtype` is false) and max |a - b| ≤ tol · max(max|expected|,
 * 1e-30), so an all-zero expectation is met only exactly. The failure names the worst element.
 */
export async function expectTensorClose(actual: Tensor, expected: Tensor, tol: number, what = "values", sameDtype = true): Promise<void> {
  assert.deepEqual([...actual.shape], [...expected.shape], `${what}: shape`);
  if (sameDtype) assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  const a = await actual.data();
  const e = await expected.data();
  assert.equal(a.length, e.length, `${what}: length`);
  let scale = 0;
  let worst = 0;
  let at = -1;
  for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i]!));
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i]! - e[i]!);
    if (!(d <= worst)) [worst, at] = [d, i];
  }
  assert.ok(worst <= tol * Math.max(scale, 1e-30), `${what}: max |diff| ${worst} at ${at} (got ${a[at]}, want ${e[at]}) exceeds ${tol} × ${scale}`);
}

/** Tensors with the same shape (and dtype, unless `sameDtype` is false) and exactly the same values. */
export async function expectTensorEqual(actual: Tensor, expected: Tensor, what = "values", sameDtype = true): Promise<void> {
  assert.deepEqual([...actual.shape], [...expected.shape], `${what}: shape`);
  if (sameDtype) assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  assert.deepEqual(Array.from(await actual.data()), Array.from(await expected.data()), what);
}
