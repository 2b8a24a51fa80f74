/**
 * Weights the products read again go to the addon as handles of their parsed descriptors (weightArg,
 * NativeAddon.weightHandle): the same bits as the descriptor, and every buffer behind a handle checked on each
 * use, so one detached or resized since the handle was made is refused by name, never read.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { segmentsOf } from "../../src/formats/segments.js";
import { Tensor } from "../../src/tensor.js";
import { cpu, nativeW, randTensor, rng } from "./helpers.js";

const r = rng(16);

/** `t` [E, rows, cols] float32 as a view of one segment per expert, each in a buffer of its own. */
function perExpertView(t: Tensor): Tensor {
  const [e, rows, cols] = t.shape as [number, number, number];
  const v = t.storage as Float32Array;
  const parts = Array.from({ length: e }, (_, i) => ({ data: v.slice(i * rows * cols, (i + 1) * rows * cols), rows }));
  return new Tensor([e, rows, cols], "float32", segmentsOf(parts));
}

test("a weight used again goes by handle and gives the descriptor's bits, views of many segments included", async () => {
  const b = cpu();
  const [e, h, inter] = [6, 32, 16];
  const projection = randTensor(r, [e, 2 * inter, h]);
  const down = randTensor(r, [e, h, inter]);
  const views = { projection: perExpertView(projection), down: perExpertView(down) };
  const hidden = randTensor(r, [3, h]);
  const topkIndex = Tensor.from(Int32Array.from([0, 5, 2, 2, 4, 1]), [3, 2]);
  const topkWeights = Tensor.from(Float32Array.from([0.7, 0.3, 0.5, 0.5, 0.9, 0.1]), [3, 2]);
  const gate = { kind: "concatenated", act: "silu" } as const;
  const want = (await b.fusedExperts({ hidden, topkIndex, topkWeights, projection, down, gate }).data()) as Float32Array;
  const handle = b.native.weightHandle;
  let made = 0;
  b.native.weightHandle = (a) => (made++, handle(a));
  try {
    for (let use = 0; use < 3; use++) {
      const got = await b.fusedExperts({ hidden, topkIndex, topkWeights, ...views, gate }).data();
      assert.deepEqual(got, want, `fusedExperts on the per-expert view, use ${use + 1}`);
    }
    assert.equal(made, 2, "the second use made a handle of each stack, the third reused them");
    const w = randTensor(r, [5, h]);
    const first = await b.linear(hidden, w).data();
    for (let use = 0; use < 2; use++) assert.deepEqual(await b.linear(hidden, w).data(), first, `linear, use ${use + 2}`);
    const table = randTensor(r, [7, h], "bfloat16");
    const ids = Tensor.from(Int32Array.from([6, 0, 3]), [3]);
    const rows = await b.embedding(table, ids).data();
    assert.deepEqual(await b.embedding(table, ids).data(), rows, "embedding by handle");
    assert.equal(made, 4);
  } finally {
    b.native.weightHandle = handle;
  }
});

test("a handle whose buffer was detached or resized is refused by name; a foreign external is no weight", () => {
  const b = cpu();
  const x = new Float32Array(8).fill(1);
  const y = new Float32Array(4);
  const run = (w: unknown) => b.native.linear({ x, m: 1, k: 8, n: 4, w: w as never, y });

  const detachable = new Float32Array(32).fill(0.5);
  const handle = b.native.weightHandle({ weight: nativeW(detachable, 4, 8) });
  run(handle);
  assert.deepEqual(Array.from(y), [4, 4, 4, 4]);
  structuredClone(detachable.buffer, { transfer: [detachable.buffer] });
  assert.throws(() => run(handle), /moekit native linear: w: a buffer of its rows was detached or resized since the weight was first used/);

  const resizable = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(128, { maxByteLength: 256 });
  const rh = b.native.weightHandle({ weight: nativeW(new Float32Array(resizable, 0, 32), 4, 8) });
  run(rh);
  resizable.resize(64);
  assert.throws(() => run(rh), /w: a buffer of its rows was detached or resized/);

  const other = b.native.weightHandle({ weight: nativeW(new Float32Array(40), 5, 8) });
  assert.throws(() => run(other), /moekit native linear: w has 5 rows, needs 4/);
  const mapping = b.native.mmap?.open(new URL(import.meta.url).pathname);
  if (mapping) assert.throws(() => run(mapping), /w must be a weight descriptor/);
  assert.throws(() => b.native.weightHandle({ weight: nativeW(new Float32Array(8), 4, 8) }), /weightHandle: weight\.segments\[0\]: 4 rows of 32 bytes from byte 0 run past its 32-byte buffer/);
  assert.throws(() => b.native.weightHandle({ weight: other as never }), /weightHandle: weight must be a weight descriptor/, "a handle of a handle (it would check no buffers)");
});
