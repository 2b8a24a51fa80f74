/**
 * Weight buffers moekit allocates start on 64-byte boundaries once the cpu backend's addon is loaded, and from 4 MiB
 * up have their whole 2 MiB stretches on huge pages (src/formats/aligned.ts, native/src/addon_memory.cc): the
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
import { ALIGN_MIN_BYTES, HUGE_MIN_BYTES, alignedBytes, alignedFloat32, alignedUint16, setAddressProbe, setHugePager } from "../../src/formats/aligned.js";
import { quantizeRows } from "../../src/formats/quant/index.js";
import { rowBytes } from "../../src/formats/table.js";
import { SegmentedStorage } from "../../src/formats/segments.js";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import { stackParts, transposeLast2 } from "../../src/loading/fuse.js";
import { registerMappedView, type MappedRegion } from "../../src/loading/mapped-views.js";
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
  setHugePager(undefined);
  try {
    for (const bytes of [1 << 20, 5 << 20]) {
      const b = alignedBytes(bytes);
      assert.deepEqual([b.byteOffset, b.buffer.byteLength], [0, bytes]);
    }
  } finally {
    setAddressProbe((v) => addon.addressMod64!(v));
    setHugePager((v) => addon.hugePages!(v));
  }
});

const linux = process.platform === "linux";
const thp = "/sys/kernel/mm/transparent_hugepage/enabled";

test("the whole 2 MiB stretches of a fresh buffer move to huge pages: marked, zeroed, writable, the view unchanged", { skip: (!linux || !existsSync(thp) || readFileSync(thp, "utf8").includes("[never]")) && "no transparent huge pages" }, () => {
  // In a child process of its own: the KiB of mappings marked for huge pages (VmFlags "hg" in /proc/self/smaps) then
  // change only by this buffer's (here, earlier tests' buffers may be collected in between).
  const script = `
    import { loadNative } from ${JSON.stringify(new URL("../../src/backends/cpu/native.ts", import.meta.url).href)};
    import { readFileSync } from "node:fs";
    const marked = () => readFileSync("/proc/self/smaps", "utf8").split("\\n").reduce((acc, line) => {
      const m = /^Size:\\s+(\\d+) kB/.exec(line);
      if (m) acc.size = Number(m[1]);
      if (line.startsWith("VmFlags:") && line.split(/\\s+/).includes("hg")) acc.total += acc.size;
      return acc;
    }, { size: 0, total: 0 }).total;
    const addon = loadNative();
    const bytes = 80 * 1024 * 1024 + 12345;
    const view = new Uint8Array(new ArrayBuffer(bytes), 17, bytes - 17);
    const before = marked();
    const moved = addon.hugePages(view);
    const after = marked();
    const zero = view.every((x) => x === 0);
    view[0] = 1; view[view.length - 1] = 2; view[40 * 1024 * 1024] = 3;
    const kept = [view[0], view[view.length - 1], view[40 * 1024 * 1024], view.byteOffset, view.length];
    console.log(JSON.stringify({ moved, markedKiB: after - before, zero, kept }));
  `;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { moved: number; markedKiB: number; zero: boolean; kept: number[] };
  const bytes = 80 * 1024 * 1024 + 12_345;
  assert.ok(got.moved >= 78 * 1024 * 1024 && got.moved <= bytes - 17 && got.moved % (2 * 1024 * 1024) === 0, `${got.moved} bytes moved`);
  assert.equal(got.markedKiB, got.moved / 1024, "the moved stretches, and only they, are marked");
  assert.equal(got.zero, true);
  assert.deepEqual(got.kept, [1, 2, 3, 17, bytes - 17]);
  // here: no whole stretch inside, a bad argument, and the helper's path
  assert.equal(addon.hugePages!(new Uint8Array(3 << 20).subarray(0, (2 << 20) - 1)), 0, "no whole stretch inside");
  assert.throws(() => (addon.hugePages as (v: unknown) => number)(8), /hugePages: expected a typed array/);
  const via = alignedBytes(HUGE_MIN_BYTES);
  assert.deepEqual([via.length, mod64(via)], [HUGE_MIN_BYTES, 0]);
  assert.ok(via.every((x) => x === 0));
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

test("KV cache blocks of 4 MiB and more are 64-byte aligned (their 2 MiB stretches on huge pages); smaller ones are plain", () => {
  for (const dtype of ["float32", "bfloat16", "float16"] as const) {
    const n = HUGE_MIN_BYTES / kvBytesPerValue(dtype);
    const big = allocateRows(dtype, n + 3);
    assert.deepEqual([big.length, mod64(big), big.buffer.byteLength], [n + 3, 0, (n + 3) * kvBytesPerValue(dtype) + 64], dtype);
    const small = allocateRows(dtype, n - 1);
    assert.deepEqual([small.length, small.byteOffset, small.buffer.byteLength], [n - 1, 0, (n - 1) * kvBytesPerValue(dtype)], dtype);
  }
});

test("a stack of parts moekit allocated is gathered into one buffer (huge pages); mapped parts, or no pager, keep a view", async () => {
  // 8 experts' q4_0 [512, 2048] matrices (576 KiB each: no whole 2 MiB stretch alone), 4.5 MiB stacked
  const E = 8;
  const rows = 512;
  const cols = 2048;
  const parts = Array.from({ length: E }, (_, e) => quantizeRows(new Float32Array(rows * cols).map((_, i) => Math.sin(i * 0.01 + e)), rows, cols, "q4_0"));
  const key = (e: number) => `experts.${e}.down_proj.weight`;
  const open = (mapped: Set<number>) => {
    const tensors = new Map(parts.map((p, e) => [key(e), new Tensor([rows, cols], "q4_0", mapped.has(e) ? p.slice() : p, null)]));
    for (const e of mapped) registerMappedView(tensors.get(key(e))!.hostStorage().buffer, fakeRegion, 0);
    const provider = { info: (name: string) => ({ name, stored: "Q4_0", shape: [rows, cols], begin: 0, end: 0 }), tensor: async (name: string) => tensors.get(name)! };
    return new Checkpoint("stack", {}, new Map(parts.map((_, e) => [key(e), provider])));
  };
  const keys = Array.from({ length: E }, (_, e) => [key(e)]);
  const joined = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  parts.forEach((p, e) => joined.set(p, e * p.length));

  const stack = await stackParts(open(new Set()), keys, [[rows, cols]]);
  assert.equal(stack.isView, false, "one buffer");
  assert.deepEqual(stack.shape, [E, rows, cols]);
  assert.equal(mod64(stack.hostStorage()), 0);
  assert.ok(Buffer.compare(stack.hostStorage() as Uint8Array, joined) === 0, "the parts' bytes, in order");

  const mixed = await stackParts(open(new Set([3])), keys, [[rows, cols]]);
  assert.ok(mixed.storage instanceof SegmentedStorage, "a mapped part: a view");
  const segs = mixed.storage.segments;
  assert.equal(segs[0]!.data.buffer, segs[2]!.data.buffer, "the parts before it gathered in one buffer");
  assert.notEqual(segs[0]!.data.buffer, parts[0]!.buffer);
  const bytes = new Uint8Array(joined.length);
  let at = 0;
  for (const seg of segs) {
    const n = seg.rows * rowBytes("q4_0", cols);
    bytes.set(new Uint8Array(seg.data.buffer, seg.data.byteOffset + seg.byteOffset, n), at);
    at += n;
  }
  assert.equal(at, joined.length);
  assert.ok(Buffer.compare(bytes, joined) === 0, "the same bytes, in order");

  setHugePager(undefined);
  try {
    const plain = await stackParts(open(new Set()), keys, [[rows, cols]]);
    assert.ok(plain.isView, "no huge pages to be had: the parts as read, under a view");
    assert.equal((plain.storage as SegmentedStorage).segments[4]!.data, parts[4]);
  } finally {
    setHugePager((v) => addon.hugePages!(v));
  }
});

const fakeRegion: MappedRegion = { name: "fake", advise: () => false, resident: () => 0, retain() {}, release() {} };
