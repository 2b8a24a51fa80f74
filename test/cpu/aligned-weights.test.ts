/**
 * Weight buffers moekit allocates start on 64-byte boundaries once the cpu backend's addon is loaded, and from 2 MiB
 * up lie on pages of their own marked for huge pages (src/formats/aligned.ts, native/src/addon_memory.cc): the
 * allocation helpers themselves, and the sites that make weights — quantized rows, synthetic weights, tensors read
 * from a file without mapping it, transposed experts stacks.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadNative } from "../../src/backends/cpu/native.js";
import { uniformStorage } from "../../src/bench/random.js";
import { ALIGN_MIN_BYTES, PAGES_MIN_BYTES, alignedBytes, alignedFloat32, alignedUint16, setAddressProbe, setPageAllocator } from "../../src/formats/aligned.js";
import { quantizeRows } from "../../src/formats/quant/index.js";
import { transposeLast2 } from "../../src/loading/fuse.js";
import { FileSource } from "../../src/loading/node-files.js";
import { allocateRows, kvBytesPerValue } from "../../src/models/cache/kv-dtype.js";
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

test("without the addon's hooks (a browser) buffers are plain typed arrays", () => {
  setAddressProbe(undefined);
  setPageAllocator(undefined);
  try {
    for (const bytes of [1 << 20, 5 << 20]) {
      const b = alignedBytes(bytes);
      assert.deepEqual([b.byteOffset, b.buffer.byteLength], [0, bytes]);
    }
  } finally {
    setAddressProbe((v) => addon.addressMod64!(v));
    setPageAllocator((bytes) => addon.allocPages!(bytes));
  }
});

const linux = process.platform === "linux";
const thp = "/sys/kernel/mm/transparent_hugepage/enabled";

/** KiB of this process's mappings marked for huge pages (VmFlags "hg" in /proc/self/smaps; adjacent ones may merge). */
function hugeMarkedKiB(): number {
  let size = 0;
  let total = 0;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const m = /^Size:\s+(\d+) kB/.exec(line);
    if (m) size = Number(m[1]);
    if (line.startsWith("VmFlags:") && line.split(/\s+/).includes("hg")) total += size;
  }
  return total;
}

test("buffers from 2 MiB up are pages of their own: exact length, zeroed, writable, 64-byte aligned; bad sizes throw", { skip: !linux && "Linux only" }, () => {
  const bytes = 6 * 1024 * 1024 + 12_345;
  const own = addon.allocPages!(bytes)!;
  assert.ok(own instanceof ArrayBuffer);
  const b = new Uint8Array(own);
  assert.equal(b.length, bytes);
  assert.equal(mod64(b), 0);
  assert.ok(b.every((x) => x === 0));
  b[bytes - 1] = 7;
  b[0] = 9;
  assert.deepEqual([b[0], b[bytes - 1]], [9, 7]);
  const via = alignedBytes(PAGES_MIN_BYTES);
  assert.deepEqual([via.byteOffset, via.buffer.byteLength, mod64(via)], [0, PAGES_MIN_BYTES, 0]);
  assert.equal(alignedBytes(PAGES_MIN_BYTES - 1).buffer.byteLength, PAGES_MIN_BYTES - 1 + 64, "below 2 MiB: the 64-byte path");
  for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => addon.allocPages!(bad), /allocPages: bytes must be a whole number >= 1/, String(bad));
  assert.throws(() => (addon.allocPages as (v: unknown) => unknown)("8"), /allocPages: bytes must be a number/);
});

test("a buffer's whole 2 MiB stretches are marked for huge pages, its tail is not, and dropping it unmaps them", { skip: (!linux || !existsSync(thp) || readFileSync(thp, "utf8").includes("[never]")) && "no transparent huge pages" }, () => {
  // In a child process: gc() is needed to drop the buffer, and the mapping sizes must be this test's own.
  const script = `
    import { loadNative } from ${JSON.stringify(new URL("../../src/backends/cpu/native.ts", import.meta.url).href)};
    import { readFileSync } from "node:fs";
    const marked = () => readFileSync("/proc/self/smaps", "utf8").split("\\n").reduce((acc, line) => {
      const m = /^Size:\\s+(\\d+) kB/.exec(line);
      if (m) acc.size = Number(m[1]);
      if (line.startsWith("VmFlags:") && line.split(/\\s+/).includes("hg")) acc.total += acc.size;
      return acc;
    }, { size: 0, total: 0 }).total;
    const before = marked();
    let buf = new Uint8Array(loadNative().allocPages(10 * 1024 * 1024 + 4096 * 3 + 100)).fill(1);
    const held = marked();
    buf = undefined;
    let after = held;
    for (let i = 0; i < 50 && after !== before; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); after = marked(); }
    console.log(JSON.stringify({ before, held, after }));
  `;
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const { before, held, after } = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { before: number; held: number; after: number };
  assert.equal(held - before, 10240, "the buffer's 10 MiB of whole 2 MiB stretches are marked, its 12 KiB tail is not");
  assert.equal(after, before, "unmapped once collected");
  // (this process: a 2 MiB + 1 byte buffer marks exactly its first 2 MiB)
  const k0 = hugeMarkedKiB();
  const keep = addon.allocPages!(2 * 1024 * 1024 + 1);
  assert.equal(hugeMarkedKiB() - k0, 2048);
  assert.equal(keep!.byteLength, 2 * 1024 * 1024 + 1);
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

test("KV cache blocks of 2 MiB and more are pages of their own; smaller ones are plain", () => {
  for (const dtype of ["float32", "bfloat16", "float16"] as const) {
    const n = PAGES_MIN_BYTES / kvBytesPerValue(dtype);
    const big = allocateRows(dtype, n + 3);
    assert.deepEqual([big.length, big.byteOffset, big.buffer.byteLength, mod64(big)], [n + 3, 0, (n + 3) * kvBytesPerValue(dtype), 0], dtype);
    const small = allocateRows(dtype, n - 1);
    assert.deepEqual([small.length, small.byteOffset, small.buffer.byteLength], [n - 1, 0, (n - 1) * kvBytesPerValue(dtype)], dtype);
  }
});
