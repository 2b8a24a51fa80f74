/**
 * Weight views the load path builds instead of copies (issue 13): a q|k|v weight of three row segments
 * (fuseQkv), and a shared expert's down projection cut into column blocks as strided row segments
 * (shared-in-experts' columnBlocks). The cpu backend reads both in place and must give results bit-equal
 * to the contiguous copies they replace, for every instruction set, compute mode and weight format.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import type { NativeAddon } from "../../src/backends/cpu/native.js";
import { nativeWeight } from "../../src/backends/cpu/weights.js";
import { contiguousOf } from "../../src/backends/host/tensors.js";
import { writeBlockRows } from "../../src/backends/webgpu/upload.js";
import type { DType } from "../../src/dtype.js";
import { weightRows } from "../../src/formats/rows.js";
import { SegmentedStorage } from "../../src/formats/segments.js";
import { rowBytes, type HostStorage } from "../../src/formats/table.js";
import { contiguousRows } from "../../src/loading/fuse.js";
import { fuseQkv } from "../../src/models/layers/attention.js";
import { Linear } from "../../src/models/layers/linear.js";
import { columnBlocks } from "../../src/models/layers/shared-in-experts.js";
import { Tensor } from "../../src/tensor.js";
import { quantTensor } from "./quant-gemm-helpers.js";
import { cpu, randTensor, rng } from "./helpers.js";

type Format = "float32" | "bfloat16" | "float16" | "q8_0" | "q4_k";

function weight(r: () => number, shape: number[], format: Format): Tensor {
  return format === "q8_0" || format === "q4_k" ? quantTensor(r, shape, format, 0.2) : randTensor(r, shape, format as DType, 0.2);
}

function assertBitEqual(a: Tensor, b: Tensor, what: string): void {
  assert.deepEqual([...a.shape], [...b.shape], `${what}: shape`);
  const av = a.storage as Float32Array;
  const bv = b.storage as Float32Array;
  for (let i = 0; i < av.length; i++) if (!Object.is(av[i], bv[i])) assert.fail(`${what}: element ${i}: ${av[i]} on the view, ${bv[i]} on the copy`);
}

function bytesOf(t: Tensor): Uint8Array {
  const s = t.hostStorage();
  return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
}

/** The copy columnBlocks replaced: down [H, c·I] as c contiguous [H, I] blocks of consecutive columns ([c, H, I]). */
function copiedBlocks(down: Tensor, count: number, i: number): Tensor {
  const h = down.shape[0]!;
  const rb = rowBytes(down.dtype, count * i);
  const bb = rowBytes(down.dtype, i);
  const src = bytesOf(down);
  const out = new Uint8Array(count * h * bb);
  for (let c = 0; c < count; c++) for (let r = 0; r < h; r++) out.set(src.subarray(r * rb + c * bb, r * rb + (c + 1) * bb), (c * h + r) * bb);
  const storage = (down.dtype === "float32" ? new Float32Array(out.buffer) : down.dtype === "q8_0" || down.dtype === "q4_k" ? out : new Uint16Array(out.buffer)) as HostStorage;
  return new Tensor([count, h, i], down.dtype, storage);
}

const bf16 = new CpuBackend({ compute: "bfloat16" });

test("a q|k|v weight of three row segments gives the concatenated weight's product bit for bit (f32 / bf16 / q8_0 / q4_k rows)", () => {
  const r = rng(1301);
  const [h, nq, nkv] = [256, 96, 32];
  for (const b of [cpu(), bf16]) {
    for (const isa of b.supportedIsas()) {
      b.setIsa(isa);
      b.setThreads(2);
      for (const format of ["float32", "bfloat16", "q8_0", "q4_k"] as Format[]) {
        const lin = (n: number, bias: boolean) => new Linear(weight(r, [n, h], format), bias ? randTensor(r, [n]) : undefined);
        for (const bias of [false, true]) {
          const proj = { q: lin(nq, bias), k: lin(nkv, bias), v: lin(nkv, bias), o: lin(h, false) };
          const fused = fuseQkv(proj).qkv!;
          const s = fused.weight.storage;
          assert.ok(s instanceof SegmentedStorage && s.segments.length === 3, "a view of three segments");
          assert.deepEqual(
            s.segments.map((g) => g.data),
            [proj.q.weight, proj.k.weight, proj.v.weight].map((t) => t.hostStorage()),
            "the segments are q, k and v's own storage (no copy)",
          );
          const whole = contiguousRows([proj.q.weight, proj.k.weight, proj.v.weight])!;
          for (const m of [1, 5, 40]) {
            const x = randTensor(r, [m, h]);
            const what = `${isa} ${b.compute} ${format}${bias ? " +bias" : ""} M=${m}`;
            assertBitEqual(fused.forward(b, x), b.linear(x, whole, { bias: fused.bias }), what);
          }
        }
      }
    }
    b.setIsa(b.supportedIsas()[0]!);
  }
});

test("a shared down cut into strided column blocks equals the column-block copy bit for bit (every float format, q8_0, q4_k)", () => {
  const r = rng(1302);
  const count = 3;
  for (const b of [cpu(), bf16]) {
    for (const isa of b.supportedIsas()) {
      b.setIsa(isa);
      b.setThreads(2);
      for (const format of ["float32", "bfloat16", "float16", "q8_0", "q4_k"] as Format[]) {
        // I a multiple of the format's block (q4_k: 256 values), H the input width of gate|up
        const i = format === "q4_k" ? 256 : 64;
        const h = 256;
        const down = weight(r, [h, count * i], format);
        const view = new Tensor([count, h, i], format, new SegmentedStorage(columnBlocks(down, count, i)));
        const copy = copiedBlocks(down, count, i);
        const segs = (view.storage as SegmentedStorage).segments;
        assert.ok(
          segs.every((g) => g.data === down.hostStorage() && g.rowStride === rowBytes(format, count * i)),
          "each block reads the stored rows in place",
        );
        if (isa === b.supportedIsas()[0] && b === bf16) {
          // the host readers: widened rows (reference backend), stored bytes (webgpu upload, slice / concat of views)
          assert.deepEqual(Array.from(weightRows(view, 5, count * h - 9)), Array.from(weightRows(copy, 5, count * h - 9)), `${format}: host rows`);
          const rb = rowBytes(format, i);
          const dst = new Uint8Array((count * h - 3) * rb);
          writeBlockRows(view, 2, count * h - 3, rb, dst);
          assert.deepEqual(dst, bytesOf(copy).subarray(2 * rb, (count * h - 1) * rb), `${format}: stored bytes of rows`);
          assert.deepEqual(new Uint8Array(contiguousOf(view, "test", "view").buffer), bytesOf(copy), `${format}: contiguous copy`);
        }
        const gateUp = weight(r, [count, 2 * i, h], format);
        for (const t of [1, 6, 40]) {
          const x = randTensor(r, [t, h]);
          const ids = Int32Array.from({ length: t * 2 }, (_, s) => (s % 2 === 0 ? 1 : (s * 5) % count));
          const args = { hidden: x, topkIndex: Tensor.from(ids, [t, 2]), topkWeights: randTensor(r, [t, 2]), projection: gateUp, gate: { kind: "concatenated", act: "silu" } as const };
          const what = `${isa} ${b.compute} ${format} T=${t}`;
          assertBitEqual(b.fusedExperts({ ...args, down: view }), b.fusedExperts({ ...args, down: copy }), `fused ${what}`);
          const act = randTensor(r, [t, i]);
          assertBitEqual(b.linear(act, view, { expert: 2 }), b.linear(act, copy, { expert: 2 }), `linear ${what}`);
          const flat = Tensor.from(ids, [t * 2]);
          const acts = randTensor(r, [t * 2, i]);
          assertBitEqual(b.gatheredLinear(acts, view, flat), b.gatheredLinear(acts, copy, flat), `gathered ${what}`);
        }
      }
    }
    b.setIsa(b.supportedIsas()[0]!);
  }
});

test("bad row strides are refused with the segment named, by the view and by the addon", () => {
  const down = randTensor(rng(3), [4, 24], "bfloat16");
  const rb = rowBytes("bfloat16", 8);
  const seg = (rowStride: number, rows = 4, byteOffset = 0) => ({ data: down.hostStorage(), byteOffset, rows, rowStride });
  assert.throws(() => new Tensor([4, 8], "bfloat16", new SegmentedStorage([seg(rb - 2)])), /view segment 0 has rowStride 14, not an integer ≥ its 16-byte rows/);
  assert.throws(() => new Tensor([4, 8], "bfloat16", new SegmentedStorage([seg(48, 4, 34)])), /view segment 0: 4 rows of 16 bytes every 48 bytes from byte 34 run past its 192-byte buffer/);
  // the last block of columns ends exactly at the buffer's end
  assert.doesNotThrow(() => new Tensor([4, 8], "bfloat16", new SegmentedStorage([seg(48, 4, 32)])));
  const native = (cpu() as unknown as { native: NativeAddon }).native;
  const w = nativeWeight(new Tensor([4, 8], "bfloat16", new SegmentedStorage([seg(48, 4, 32)])), "linear", "weight");
  const call = (segments: typeof w.segments) => native.linear({ x: new Float32Array(8), m: 1, k: 8, n: 4, w: { ...w, segments }, y: new Float32Array(4) });
  assert.doesNotThrow(() => call(w.segments));
  assert.throws(() => call([{ ...w.segments[0]!, rowStride: 8 }]), /w\.segments\[0\]\.rowStride = 8 is less than the 16-byte rows/);
  assert.throws(() => call([{ ...w.segments[0]!, byteOffset: 34 }]), /w\.segments\[0\]: 4 rows of 16 bytes every 48 bytes from byte 34 run past its 192-byte buffer/);
  assert.throws(() => call([{ ...w.segments[0]!, rowStride: 1.5 }]), /w\.segments\[0\]\.rowStride = 1\.5(0*) outside/);
});
