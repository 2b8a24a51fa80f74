/** Host KV rows: 16-bit formats (rounded on append) and batches of several sequences handed out as views of their buffers. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { narrowFromF32, widenToF32 } from "../../src/dtype.js";
import { SegmentedStorage } from "../../src/formats/segments.js";
import { ModelCache } from "../../src/models/cache/model-cache.js";
import { Tensor } from "../../src/tensor.js";

const kv = (vals: number[], b: number, s: number, w: number) => Tensor.from(Float32Array.from(vals), [b, s, 1, w]);

describe("host KV rows", () => {
  for (const dtype of ["bfloat16", "float16"] as const) {
    it(`${dtype}: keys and values are rounded to nearest even when appended and handed out as ${dtype}`, async () => {
      const cache = new ModelCache([{ kind: "attention", keyWidth: 4, valueWidth: 4 }], { kvCacheDtype: dtype });
      // ties (1 + half an ulp: to even), just above a tie, overflow past float16, a subnormal, NaN
      const vals = dtype === "bfloat16" ? [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -3.3e38, 1e-40, NaN, 0.1, -0] : [1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, 70000, 1e-7, NaN, 0.1, -0];
      const step = cache.begin(1, 2);
      const { k, v } = step.appendKV(referenceBackend, 0, kv(vals, 1, 2, 4), kv(vals.map((x) => -x), 1, 2, 4));
      step.commit();
      assert.equal(k.dtype, dtype);
      const want = (xs: number[]) => Array.from(widenToF32(narrowFromF32(xs, dtype), dtype));
      const got = (t: Tensor) => Array.from(widenToF32(t.storage as Uint16Array, dtype));
      assert.deepEqual(got(k), want(vals));
      assert.deepEqual(got(v), want(vals.map((x) => -x)));
      const expectRounded = dtype === "bfloat16" ? [1, 1 + 2 ** -6, 1 + 2 ** -7] : [1, 1 + 2 ** -9, 1 + 2 ** -10];
      assert.deepEqual(got(k).slice(0, 3), expectRounded, "ties to even, above a tie up");
      if (dtype === "float16") assert.equal(got(k)[3], Infinity, "beyond float16's range: infinity");
      assert.ok(Number.isNaN(got(k)[5]));
      assert.equal(cache.bytesPerToken, 16, "2 bytes a key / value");
    });
  }

  it("a batch of several sequences is a view of their own buffers (no copy), right-aligned after zero rows", async () => {
    const cache = new ModelCache([{ kind: "attention", keyWidth: 2, valueWidth: 2 }], { kvCacheDtype: "bfloat16" });
    const [a, b] = [cache.addSequence(), cache.addSequence()];
    const put = (seqs: number[], rows: number[][]) => {
      const step = cache.begin(seqs.length, rows[0]!.length / 2, seqs);
      const t = kv(rows.flat(), seqs.length, rows[0]!.length / 2, 2);
      const out = step.appendKV(referenceBackend, 0, t, t);
      step.commit();
      return out.k;
    };
    const aloneA = put([a], [[1, 2, 3, 4, 5, 6]]);
    const aloneB = put([b], [[7, 8]]);
    const both = put([a, b], [[9, 10], [11, 12]]);
    assert.ok(both.storage instanceof SegmentedStorage, "a view of row segments");
    const buffers = (both.storage as SegmentedStorage).segments.map((s) => s.data.buffer);
    assert.ok(buffers.includes((aloneA.storage as Uint16Array).buffer) && buffers.includes((aloneB.storage as Uint16Array).buffer), "the sequences' own buffers");
    assert.deepEqual([...both.shape], [2, 4, 1, 2]);
    assert.deepEqual(Array.from(await both.data()), [1, 2, 3, 4, 5, 6, 9, 10, 0, 0, 0, 0, 7, 8, 11, 12]);
    // shape ops read views whole
    const sliced = referenceBackend.slice(both, 1, 2, 2);
    assert.equal(sliced.dtype, "bfloat16");
    assert.deepEqual(Array.from(await sliced.data()), [5, 6, 9, 10, 7, 8, 11, 12]);
    assert.deepEqual(Array.from(await referenceBackend.concat([both, both], 1).data()).length, 32);
  });

  it("a sequence grows by adding blocks, never copying its rows; its view spans the blocks and reshapes across them", async () => {
    const cache = new ModelCache([{ kind: "attention", keyWidth: 2, valueWidth: 2 }], { kvCacheDtype: "float32" });
    const seq = cache.addSequence();
    const put = (first: number, n: number) => {
      const step = cache.begin(1, n, [seq]);
      const t = kv(Array.from({ length: 2 * n }, (_, i) => first + i), 1, n, 2);
      const out = step.appendKV(referenceBackend, 0, t, t);
      step.commit();
      return out.k;
    };
    const first = put(0, 10); // one block of 16 rows
    assert.ok(!(first.storage instanceof SegmentedStorage), "one block: a plain view");
    const block0 = (first.storage as Float32Array).buffer;
    const grown = put(20, 10); // rows 10..19 straddle the first block's end: a second block of 16
    assert.ok(grown.storage instanceof SegmentedStorage, "two blocks: a view of row segments");
    const segs = (grown.storage as SegmentedStorage).segments.filter((x) => x.rows > 0);
    assert.equal(segs[0]!.data.buffer, block0, "the first block is the same buffer: no copy");
    assert.deepEqual(segs.map((x) => x.rows), [16, 4]);
    const want = Array.from({ length: 40 }, (_, i) => i);
    assert.deepEqual(Array.from(await grown.data()), want);
    const flat = grown.reshape([20, 2]);
    assert.deepEqual(Array.from(await flat.data()), want, "a reshape that changes the last dim keeps the rows");
    assert.throws(() => grown.reshape([1, 40]), /a view of 1 rows has segments covering 20/, "rows that would straddle two blocks are refused");
    const more = put(40, 20); // a third block as large as the two before (32 rows)
    assert.deepEqual((more.storage as SegmentedStorage).segments.filter((x) => x.rows > 0).map((x) => x.rows), [16, 16, 8]);
    assert.deepEqual(Array.from(await more.data()), Array.from({ length: 80 }, (_, i) => i));
  });
});
