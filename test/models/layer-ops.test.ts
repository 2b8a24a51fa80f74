import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend as b } from "../../src/backends/reference/index.js";
import { Tensor } from "../../src/tensor.js";

const f = (v: number[], shape: number[]) => Tensor.from(Float32Array.from(v), shape);
const i32 = (v: number[], shape: number[]) => Tensor.from(Int32Array.from(v), shape);
const vals = async (t: Tensor) => Array.from(await t.data());
function near(a: number[], e: number[], tol = 1e-6): void {
  assert.equal(a.length, e.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - e[i]!) <= tol, `[${i}] ${x} vs ${e[i]}`));
}

describe("model layer ops (reference backend)", () => {
  it("embedding rows, and ids outside the table", async () => {
    const table = f([0, 1, 10, 11, 20, 21], [3, 2]);
    near(await vals(b.embedding(table, i32([2, 0, 2], [1, 3]))), [20, 21, 0, 1, 20, 21]);
    assert.deepEqual([...b.embedding(table, i32([1], [1, 1])).shape], [1, 1, 2]);
    assert.throws(() => b.embedding(table, i32([3], [1])), /token id 3 .* outside the vocabulary \[0, 3\)/);
  });

  it("rmsNorm and layerNorm", async () => {
    const x = f([1, 2, 3, 4], [2, 2]);
    const r1 = 1 / Math.sqrt(2.5 + 1e-6);
    const r2 = 1 / Math.sqrt(12.5 + 1e-6);
    near(await vals(b.rmsNorm(x, f([1, 2], [2]), 1e-6)), [r1, 4 * r1, 3 * r2, 8 * r2], 1e-6);
    near(await vals(b.layerNorm(x, f([1, 2], [2]), f([0.5, 0], [2]), 0)), [-0.5, 2, -0.5, 2], 1e-6);
  });

  it("rope: half-split, interleaved and partial rotary", async () => {
    const x = f([1, 2, 3, 4, 5, 6], [1, 1, 6]); // T=1, one head, D=6
    const c = Math.cos(0.5);
    const s = Math.sin(0.5);
    const cos = f([c, 1], [1, 2]);
    const sin = f([s, 0], [1, 2]);
    // half-split over R=4: pairs (0,2), (1,3); the last 2 features pass through
    near(await vals(b.rope(x, cos, sin, { style: "halfSplit", rotaryDim: 4 })), [1 * c - 3 * s, 2, 3 * c + 1 * s, 4, 5, 6], 1e-6);
    // interleaved over R=4: pairs (0,1), (2,3)
    near(await vals(b.rope(x, cos, sin, { style: "interleaved", rotaryDim: 4 })), [1 * c - 2 * s, 2 * c + 1 * s, 3, 4, 5, 6], 1e-6);
    assert.throws(() => b.rope(x, cos, sin, { style: "halfSplit" }), /cos .* must hold \[1, 3\]/);
  });

  it("attention: causal, GQA, k/v head dims that differ, queryOffset", async () => {
    // B=1, Skv=2, Hkv=1, Dk=1, Dv=2; Hq=2 share the kv head
    const k = f([1, 2], [1, 2, 1, 1]);
    const v = f([1, 0, 0, 1], [1, 2, 1, 2]);
    const q = f([1, 0.5, 1, 0.5], [1, 2, 2, 1]);
    const out = await vals(b.attention(q, k, v, { scale: 1 }));
    const p = (qv: number) => Math.exp(2 * qv) / (Math.exp(qv) + Math.exp(2 * qv));
    near(out, [1, 0, 1, 0, 1 - p(1), p(1), 1 - p(0.5), p(0.5)], 1e-6);
    // one query at position 1 (cached key at 0)
    const last = await vals(b.attention(f([1, 0.5], [1, 1, 2, 1]), k, v, { scale: 1 }));
    near(last, out.slice(4), 1e-6);
  });

  it("attention: sliding window, padding mask (a fully masked row gives zeros) and sinks", async () => {
    const k = f([0, 0, 0], [1, 3, 1, 1]);
    const v = f([1, 2, 3], [1, 3, 1, 1]);
    const q = f([1, 1, 1], [1, 3, 1, 1]);
    near(await vals(b.attention(q, k, v, { scale: 1, slidingWindow: 2 })), [1, 1.5, 2.5]);
    near(await vals(b.attention(q, k, v, { scale: 1, keyMask: i32([0, 1, 1], [1, 3]) })), [0, 2, 2.5]);
    // a sink logit of 0 adds e^0 to the denominator: uniform over keys + sink
    near(await vals(b.attention(q, k, v, { scale: 1, sinks: f([0], [1]) })), [1 / 2, 3 / 3, 6 / 4], 1e-6);
    assert.throws(() => b.attention(q, k, f([1, 2], [1, 2, 1, 1]), { scale: 1 }), /do not fit/);
  });

  it("slice, concat, repeat, clamp, argmax", async () => {
    const x = Tensor.from(Int32Array.from([0, 1, 2, 3, 4, 5]), [2, 3]);
    assert.deepEqual(await vals(b.slice(x, -1, 1, 2)), [1, 2, 4, 5]);
    assert.deepEqual(await vals(b.concat([x, b.slice(x, 1, 0, 1)], 1)), [0, 1, 2, 0, 3, 4, 5, 3]);
    assert.deepEqual(await vals(b.concat([x, x], 0)), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
    assert.deepEqual(await vals(b.repeat(x.reshape([2, 1, 3]), 1, 2)), [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
    near(await vals(b.clamp(f([-3, 0.5, 9], [3]), -1, 1)), [-1, 0.5, 1]);
    const am = b.argmax(f([1, 3, 3, 0, -1, -2], [2, 3]));
    assert.equal(am.dtype, "int32");
    assert.deepEqual(await vals(am), [1, 0]);
    assert.throws(() => b.slice(x, 1, 2, 2), /outside/);
  });
});
