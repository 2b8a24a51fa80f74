/**
 * Weight buffers moekit allocates start on 64-byte boundaries once the cpu backend's addon is loaded
 * (src/formats/aligned.ts): the allocation helpers themselves, and the sites that make weights — quantized rows,
 * synthetic weights, tensors read from a file without mapping it, transposed experts stacks.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadNative } from "../../src/backends/cpu/native.js";
import { uniformStorage } from "../../src/bench/random.js";
import { ALIGN_MIN_BYTES, alignedBytes, alignedFloat32, alignedUint16, setAddressProbe } from "../../src/formats/aligned.js";
import { quantizeRows } from "../../src/formats/quant/index.js";
import { transposeLast2 } from "../../src/loading/fuse.js";
import { FileSource } from "../../src/loading/node-files.js";
import { Tensor } from "../../src/tensor.js";

const addon = loadNative();
const mod64 = (v: ArrayBufferView) => addon.addressMod64!(v);

test("the addon reports addresses modulo 64: views one byte apart differ by one", () => {
  const buf = new Uint8Array(256);
  const a = mod64(buf.subarray(0));
  for (let i = 1; i < 70; i++) assert.equal(mod64(buf.subarray(i)), (a + i) % 64, `byte ${i}`);
  assert.throws(() => (addon.addressMod64 as (v: unknown) => number)(42), /addressMod64: expected a typed array/);
});

test("aligned buffers start on 64-byte boundaries, zeroed, at their lengths; small ones are plain", () => {
  for (const bytes of [ALIGN_MIN_BYTES, ALIGN_MIN_BYTES + 1, 1_000_003, 3 << 20, 70 << 20]) {
    const b = alignedBytes(bytes);
    assert.equal(b.length, bytes);
    assert.equal(mod64(b), 0, `${bytes} bytes`);
    assert.ok(b.every((x) => x === 0));
  }
  const u = alignedUint16(1 << 20);
  const f = alignedFloat32(1 << 18);
  assert.deepEqual([u.length, mod64(u), f.length, mod64(f)], [1 << 20, 0, 1 << 18, 0]);
  const small = alignedBytes(ALIGN_MIN_BYTES - 1);
  assert.deepEqual([small.length, small.byteOffset, small.buffer.byteLength], [ALIGN_MIN_BYTES - 1, 0, ALIGN_MIN_BYTES - 1]);
});

test("without an address probe (a browser) buffers are plain typed arrays", () => {
  setAddressProbe(undefined);
  try {
    const b = alignedBytes(1 << 20);
    assert.deepEqual([b.byteOffset, b.buffer.byteLength], [0, 1 << 20]);
  } finally {
    setAddressProbe((v) => addon.addressMod64!(v));
  }
});

test("quantized rows, synthetic weights and tensors read from a file are 64-byte aligned", async () => {
  const rows = 256;
  const cols = 2048;
  const values = new Float32Array(rows * cols).map((_, i) => Math.sin(i * 0.37));
  for (const format of ["q8_0", "q4_0", "q4_k", "mxfp4"] as const) assert.equal(mod64(quantizeRows(values, rows, cols, format)), 0, format);
  for (const dtype of ["bfloat16", "float32"] as const) assert.equal(mod64(uniformStorage(1 << 20, 7, 0.02, dtype)), 0, dtype);
  const dir = mkdtempSync(join(tmpdir(), "moekit-aligned-"));
  try {
    const path = join(dir, "w.bin");
    const data = new Uint8Array(300_001).map((_, i) => (i * 7) & 255);
    writeFileSync(path, data);
    const src = new FileSource(path, { mmap: false });
    for (const [offset, length] of [[0, 300_001], [13, 200_000], [8, 65_536]] as const) {
      const got = await src.read(offset, length);
      assert.equal(mod64(got), 0, `read at ${offset}`);
      assert.deepEqual(got, data.subarray(offset, offset + length));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("experts stacks moekit transposes (gpt_oss's in × out) are 64-byte aligned and transposed", () => {
  const stack = Tensor.from(uniformStorage(4 * 64 * 256, 9, 0.02, "float32") as Float32Array, [4, 64, 256]);
  const t = transposeLast2(stack);
  const src = stack.hostStorage() as Float32Array;
  const out = t.hostStorage() as Float32Array;
  assert.equal(mod64(out), 0);
  assert.deepEqual(t.shape, [4, 256, 64]);
  assert.equal(out[2 * 256 * 64 + 5 * 64 + 3], src[2 * 64 * 256 + 3 * 256 + 5]);
});
