/**
 * The native element-wise ops (native/src/addon_elementwise.cc): the cpu backend's add from 4,096 values and its
 * bfloat16 rounding of KV-cache rows give the same bits as the JavaScript loops they replace, its argmax the
 * same indices as the host argmax and the generation one, at every size around the thresholds and across the
 * pool's pieces, and they refuse short arrays by name.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadNative } from "../../src/backends/cpu/native.js";
import { argmax as hostArgmax, binary } from "../../src/backends/host/elementwise.js";
import { bf16BitsInto } from "../../src/dtype.js";
import { argmax as scoresArgmax } from "../../src/generation/logits-processors.js";
import { Tensor } from "../../src/tensor.js";
import { cpu, rng } from "./helpers.js";

const native = loadNative();
/** Random floats of every magnitude, with the values rounding treats apart spread among them. */
function floats(r: () => number, n: number): Float32Array {
  const special = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -7 + 2 ** -8];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = i % 97 < special.length ? special[i % 97]! : (r() * 2 - 1) * 2 ** Math.floor(r() * 60 - 30);
  // NaNs with payloads, signalling ones among them (the rounding must keep them NaN and quiet)
  const bits = new Uint32Array(out.buffer);
  for (let i = 50; i < n; i += 211) bits[i] = 0x7f800001 + (i % 0x3fffff);
  for (let i = 61; i < n; i += 307) bits[i] = 0xffc00000 | (i & 0xffff);
  return out;
}
const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe("native element-wise ops", () => {
  it("add: the same bits as the JavaScript add, below, at and above the native threshold and over several pieces", () => {
    const b = cpu();
    const r = rng(11);
    for (const n of [1, 4095, 4096, 4097, 65536 * 3 + 5, 512 * 2048, (1 << 20) + 5]) {
      const x = floats(r, n);
      const y = floats(r, n);
      const shape = n % 2048 === 0 ? [n / 2048, 2048] : [n];
      const got = b.add(Tensor.from(x, shape), Tensor.from(y, shape));
      const want = binary(b, "add", Tensor.from(x, shape), Tensor.from(y, shape));
      assert.deepEqual(got.shape, shape);
      assert.deepEqual(bitsOf(got.hostStorage() as Float32Array), bitsOf(want.hostStorage() as Float32Array), `n = ${n}`);
    }
  });

  it("add: broadcasts still take the JavaScript path, with its errors", () => {
    const b = cpu();
    const x = Tensor.from(Float32Array.from({ length: 8192 }, (_, i) => i), [4, 2048]);
    const row = Tensor.from(Float32Array.from({ length: 2048 }, (_, i) => -i), [2048]);
    assert.deepEqual([...(b.add(x, row).hostStorage() as Float32Array).subarray(2048, 2051)], [2048, 2048, 2048]);
    assert.throws(() => b.add(x, Tensor.from(new Float32Array(8192), [2048, 4])), /add/);
  });

  it("writeBf16: the same bits as the JavaScript rounding, at an offset, over several pieces", () => {
    const b = cpu();
    const r = rng(12);
    for (const n of [3, 4095, 4096, 65536 * 2 + 17, 1 << 20, (1 << 20) + 17]) {
      const src = floats(r, n);
      const got = new Uint16Array(n + 9).fill(0xabcd);
      const want = new Uint16Array(n + 9).fill(0xabcd);
      b.writeBf16(src, got, 7);
      bf16BitsInto(src, want, 7);
      assert.deepEqual(got, want, `n = ${n}`);
    }
    // a few by hand: ties to even, the largest finite value rounding to infinity, a signalling NaN made quiet
    const src = new Float32Array(new Uint32Array([0x3f808000, 0x3f818000, 0x7f7fffff, 0x7f800001, 0x80000001]).buffer);
    const dst = new Uint16Array(5);
    native.narrowBf16!({ src, n: 5, dst, at: 0 });
    assert.deepEqual([...dst], [0x3f80, 0x3f82, 0x7f80, 0x7fc0, 0x8000]);
  });

  it("argmax: the host argmax's and the generation argmax's index per row (ties, NaN, infinities, block edges)", () => {
    const b = cpu();
    const r = rng(13);
    const cases: [string, number, (x: Float32Array) => void][] = [
      ["random", 151936, () => {}],
      ["ties: the lowest index wins", 5000, (x) => x.fill(3)],
      ["the maximum repeated across blocks", 4133, (x) => [100, 700, 4132].forEach((i) => (x[i] = 1e30))],
      ["first value NaN", 4200, (x) => (x[0] = NaN)],
      ["NaN block starts and a NaN run", 4200, (x) => { for (let i = 0; i < x.length; i += 64) x[i] = NaN; for (let i = 1000; i < 1100; i++) x[i] = NaN; }],
      ["all NaN but one", 4100, (x) => { x.fill(NaN); x[4099] = -Infinity; }],
      ["all NaN", 4097, (x) => x.fill(NaN)],
      ["all -Infinity", 4096, (x) => x.fill(-Infinity)],
      ["+Infinity late", 8191, (x) => (x[8190] = Infinity)],
      ["-0 before +0", 4096, (x) => { x.fill(-1); x[10] = -0; x[20] = 0; }],
    ];
    for (const [name, n, edit] of cases)
      for (const rows of [1, 3, 8]) {
        const x = new Float32Array(rows * n);
        for (let i = 0; i < x.length; i++) x[i] = r() * 2 - 1;
        for (let row = 0; row < rows; row++) edit(x.subarray(row * n, (row + 1) * n));
        const t = Tensor.from(x, [rows, n]);
        const got = [...(b.argmax(t).hostStorage() as Int32Array)];
        assert.deepEqual(got, [...(hostArgmax(b, t).hostStorage() as Int32Array)], `${name}, ${rows} rows`);
        assert.deepEqual(got, Array.from({ length: rows }, (_, row) => scoresArgmax(x.subarray(row * n, (row + 1) * n))), `${name}, ${rows} rows (generation)`);
      }
    const x = new Float32Array(4096).fill(-1);
    x[77] = 5;
    x[3000] = 5;
    assert.deepEqual([...(b.argmax(Tensor.from(x, [4096])).hostStorage() as Int32Array)], [77]);
    x[0] = NaN;
    x[77] = -2;
    // row 0: NaN first, then -1 from index 1 on (x[77] is lower now); row 1: x[3000]
    assert.deepEqual([...(b.argmax(Tensor.from(x, [2, 2048])).hostStorage() as Int32Array)], [1, 952]);
  });

  it("refuse arrays shorter than the count, by name", () => {
    const f = new Float32Array(8);
    assert.throws(() => native.add!({ a: f, b: f, n: 9, out: new Float32Array(9) }), /add: a/);
    assert.throws(() => native.add!({ a: f, b: f, n: 8, out: new Float32Array(7) }), /add: out/);
    assert.throws(() => native.narrowBf16!({ src: f, n: 8, dst: new Uint16Array(10), at: 3 }), /narrowBf16: dst/);
    assert.throws(() => native.narrowBf16!({ src: f, n: 8, dst: new Float32Array(16) as never, at: 0 }), /narrowBf16: dst must be a Uint16Array/);
    assert.throws(() => native.argmax!({ x: f, rows: 3, n: 3, out: new Int32Array(3) }), /argmax: x/);
    assert.throws(() => native.argmax!({ x: f, rows: 2, n: 4, out: new Int32Array(1) }), /argmax: out/);
    assert.throws(() => native.argmax!({ x: f, rows: 1, n: 0, out: new Int32Array(1) }), /argmax: n/);
  });
});
