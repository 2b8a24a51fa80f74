import assert from "node:assert/strict";

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
