/**
 * Weights larger than one bindable buffer: the webgpu backend splits an [E, N, K] stack into chunks of
 * whole experts, or of N rows when one expert is itself too large (runtime.ts ChunkedLayout). Real
 * limits are 128 MiB and up, so these tests lower the chunk size (`maxChunkBytes`) until the fixture
 * weights split both ways, and check every op that reads weights (linear, groupedLinear, gatheredLinear,
 * embedding, cast, read; other ops get a joined copy), the three experts implementations and whole
 * fixture models against the reference backend / transformers. Last, one experts layer at Qwen1.5-MoE
 * dims in float16 (60 × 2816 × 2048 gate|up = 692 MB, split at the adapter's real binding limit where it
 * is 128 MiB or so; set MOEKIT_SKIP_LARGE=1 to skip it).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import type { DType } from "../../src/dtype.js";
import { Experts } from "../../src/experts/experts.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { WebGpuBackend } from "../../src/backends/webgpu/index.js";
import { type GpuStorage, planChunks } from "../../src/backends/webgpu/runtime.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir } from "../models/model-fixtures.js";
import { ints, randint, randn, rng, webgpuOrSkip } from "./setup.js";

/** n random float16 words in ±[2^-8, 2^-4) (xorshift; fast enough for 10^8 values). */
function randomHalfWords(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x & 0x8000) | (0x1c00 + ((x >>> 8) & 0xfff));
  }
  return out;
}

const { backend: gpu, skip } = await webgpuOrSkip();

describe("planChunks", () => {
  it("one chunk when the stack fits, whole experts when one expert fits, rows of one expert otherwise", () => {
    assert.deepEqual(planChunks(4, 8, 16, 4 * 8 * 16 * 4), [{ e0: 0, e1: 4, n0: 0, n1: 8 }]);
    assert.deepEqual(planChunks(5, 8, 16, 2 * 8 * 16 * 4 + 100), [
      { e0: 0, e1: 2, n0: 0, n1: 8 },
      { e0: 2, e1: 4, n0: 0, n1: 8 },
      { e0: 4, e1: 5, n0: 0, n1: 8 },
    ]);
    assert.deepEqual(planChunks(2, 5, 16, 2 * 16 * 4), [
      { e0: 0, e1: 1, n0: 0, n1: 2 },
      { e0: 0, e1: 1, n0: 2, n1: 4 },
      { e0: 0, e1: 1, n0: 4, n1: 5 },
      { e0: 1, e1: 2, n0: 0, n1: 2 },
      { e0: 1, e1: 2, n0: 2, n1: 4 },
      { e0: 1, e1: 2, n0: 4, n1: 5 },
    ]);
    assert.throws(() => planChunks(1, 2, 100, 256), /exceeds the binding limit/);
  });
});

/** The chunks of a webgpu tensor ([] when unsplit). */
function chunksOf(t: Tensor): readonly unknown[] {
  return (t.storage as GpuStorage).chunked?.chunks ?? [];
}

if (skip) {
  it("webgpu split weights", { skip }, () => {});
} else {
  const base = gpu!;
  after(() => base.destroy());
  // Same device, small chunks: 1 KiB splits a [6, 24, 20] f32 stack (1920 B per expert) into row
  // chunks, 4 KiB into two experts per chunk.
  const byRows = new WebGpuBackend(base.device, { maxChunkBytes: 1024 });
  const byExperts = new WebGpuBackend(base.device, { maxChunkBytes: 4096 });

  describe("webgpu: products over split weights match the reference backend", () => {
    for (const [name, b] of [
      ["row chunks", byRows],
      ["expert chunks", byExperts],
    ] as const) {
      for (const dtype of ["float32", "float16", "bfloat16"] as DType[]) {
        it(`${name}, ${dtype} weights: linear, groupedLinear, gatheredLinear, read`, async () => {
          const r = rng(dtype.length + name.length);
          const [e, n, k, s] = [6, 24, 20, 37];
          const w = randn(r, [e, n, k], 0.5, dtype);
          const bias = randn(r, [e, n], 0.5);
          const gw = b.adopt(w);
          assert.ok(chunksOf(gw).length > 1, "the stack is split");
          assertClose(await b.read(gw), await ref.read(w), 0, "read joins the chunks");
          // linear over one expert, few rows (matrix-vector) and many (GEMM), with a bias
          for (const m of [1, 3, 30]) {
            const x = randn(r, [m, k], 1);
            for (const expert of [0, 4, 5]) {
              const want = ref.linear(x, w, { expert, bias });
              assertClose(await b.linear(x, gw, { expert, bias }).data(), await want.data(), 1e-4, `linear m=${m} expert ${expert}`);
            }
          }
          // a plain [N, K] weight split by rows
          const w2 = randn(r, [50, k], 0.5, dtype);
          const x2 = randn(r, [7, k], 1);
          assertClose(await b.linear(x2, b.adopt(w2)).data(), await ref.linear(x2, w2).data(), 1e-4, "linear [N, K]");
          // grouped over sorted slots (gathered rows), including empty experts
          const ids = ints(randint(r, s, e - 2));
          const sorted = ref.sortByExpert(ids, e);
          const order = await sorted.order.data();
          const x = randn(r, [s, k], 1);
          const xs = ref.gatherRows(x, sorted.order);
          const want = ref.groupedLinear(xs, w, sorted.offsets, { bias });
          const got = b.groupedLinear(x, gw, b.adopt(sorted.offsets), { bias, rowIndex: b.adopt(Tensor.from(Int32Array.from(order), [s])) });
          assertClose(await got.data(), await want.data(), 1e-4, "groupedLinear");
          // gathered (two slots per input row), ids in every chunk
          const gids = ints(randint(r, 2 * s, e));
          const wantG = ref.gatheredLinear(x, w, gids, { bias, rowsPerInput: 2 });
          assertClose(await b.gatheredLinear(x, gw, gids, { bias, rowsPerInput: 2 }).data(), await wantG.data(), 1e-4, "gatheredLinear");
        });
      }
    }

    it("embedding over a row-split table; cast keeps the split; other ops read a joined copy", async () => {
      const b = byRows;
      const r = rng(5);
      const table = randn(r, [40, 16], 1);
      const gt = b.adopt(table);
      assert.ok(chunksOf(gt).length >= 2);
      const ids = ints([0, 39, 15, 16, 17, 3, 38]);
      assertClose(await b.embedding(gt, ids).data(), await ref.embedding(table, ids).data(), 0, "embedding");
      for (const dtype of ["float16", "bfloat16", "float32"] as DType[]) {
        const c = b.cast(gt, dtype);
        assert.equal(chunksOf(c).length, chunksOf(gt).length, `cast to ${dtype} keeps the chunks`);
        assertClose(await c.data(), await ref.cast(table, dtype).data(), 0, `cast to ${dtype}`);
      }
      assertClose(await b.scale(gt, 2).data(), await ref.scale(table, 2).data(), 0, "scale of a split tensor");
    });
  });

  describe("webgpu: experts implementations over split stacks", () => {
    for (const dtype of ["float32", "float16"] as DType[]) {
      it(`${dtype}: eager, batched_mm, grouped_mm equal the reference`, async () => {
        const r = rng(11);
        const [e, h, i, t, k] = [8, 32, 20, 23, 2];
        const w: ExpertsWeights = {
          numExperts: e,
          hiddenSize: h,
          intermediateSize: i,
          gateUp: randn(r, [e, 2 * i, h], 0.3, dtype),
          down: randn(r, [e, h, i], 0.3, dtype),
          gate: { kind: "concatenated", act: "silu" },
        };
        const idx = new Int32Array(t * k);
        for (let tok = 0; tok < t; tok++) {
          idx[tok * k] = Math.floor(r() * e);
          idx[tok * k + 1] = (idx[tok * k]! + 1 + Math.floor(r() * (e - 1))) % e;
        }
        const hidden = randn(r, [t, h], 1);
        const index = ints(idx, [t, k]);
        const weights = randn(r, [t, k], 1);
        const want = await new Experts(w, { backend: ref, implementation: "eager" }).forward(hidden, index, weights);
        for (const b of [byRows, byExperts]) {
          const wg = { ...w, gateUp: b.adopt(w.gateUp!), down: b.adopt(w.down) };
          assert.ok(chunksOf(wg.gateUp).length > 1 && chunksOf(wg.down).length > 1);
          for (const impl of ["eager", "batched_mm", "grouped_mm"]) {
            const got = await new Experts(wg, { backend: b, implementation: impl }).forward(hidden, index, weights);
            assertClose(await got.data(), await want.data(), 1e-4, `${impl} (chunks of ${b.chunkBytes} B)`);
          }
        }
      });
    }
  });

  describe("webgpu: whole fixture models with every weight split (1 KiB chunks)", () => {
    for (const family of ["qwen2_moe", "deepseek_v3", "gpt_oss"].filter((f) => F32.families.includes(f))) {
      it(`${family}: grouped_mm and batched_mm logits match transformers`, async () => {
        const ex = await expectedTensors(F32, family);
        for (const impl of ["grouped_mm", "batched_mm"]) {
          const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: byRows, expertsImplementation: impl });
          const { logits } = await model.forward(ex.input_ids!);
          assertClose(await logits.data(), await ex.logits!.data(), 1e-4, `${family} ${impl} logits`);
        }
      });
    }
  });

  describe("webgpu: a Qwen1.5-MoE-size experts layer (float16, 60 experts, H 2048, I 1408)", () => {
    const skipLarge = process.env.MOEKIT_SKIP_LARGE ? "MOEKIT_SKIP_LARGE is set" : false;
    it("batched_mm (T = 1) and grouped_mm (T = 3) equal the reference on the experts hit", { skip: skipLarge }, async () => {
      const b = base;
      const [e, h, i, k] = [60, 2048, 1408, 4];
      const gateUpWords = randomHalfWords(e * 2 * i * h, 1);
      const downWords = randomHalfWords(e * h * i, 2);
      const w: ExpertsWeights = {
        numExperts: e,
        hiddenSize: h,
        intermediateSize: i,
        gateUp: b.adopt(Tensor.from(gateUpWords, [e, 2 * i, h], "float16")),
        down: b.adopt(Tensor.from(downWords, [e, h, i], "float16")),
        gate: { kind: "concatenated", act: "silu" },
      };
      const limit = b.chunkBytes;
      process.stderr.write(`# Qwen-size layer: gate|up in ${chunksOf(w.gateUp!).length || 1} buffers, down in ${chunksOf(w.down).length || 1} (chunks ≤ ${(limit / 2 ** 20).toFixed(0)} MiB)\n`);
      const r = rng(3);
      for (const [impl, t] of [["batched_mm", 1], ["grouped_mm", 3]] as const) {
        // experts from both ends of the stack (first and last chunk)
        const ids = Int32Array.from({ length: t * k }, (_, j) => [0, 59, 31, 17, 58, 1, 44, 2, 30, 57, 3, 16][j]!);
        const hidden = randn(r, [t, h], 1);
        const weights = randn(r, [t, k], 1);
        const got = await new Experts(w, { backend: b, implementation: impl }).forward(hidden, ints(ids, [t, k]), weights);
        // The reference on just the experts hit (re-indexed), from the same float16 words.
        const used = [...new Set(ids)];
        const pick = (words: Uint16Array, per: number) => {
          const out = new Uint16Array(used.length * per);
          used.forEach((x, j) => out.set(words.subarray(x * per, (x + 1) * per), j * per));
          return out;
        };
        const small: ExpertsWeights = {
          numExperts: used.length,
          hiddenSize: h,
          intermediateSize: i,
          gateUp: Tensor.from(pick(gateUpWords, 2 * i * h), [used.length, 2 * i, h], "float16"),
          down: Tensor.from(pick(downWords, h * i), [used.length, h, i], "float16"),
          gate: { kind: "concatenated", act: "silu" },
        };
        const remapped = ints(Int32Array.from(ids, (x) => used.indexOf(x)), [t, k]);
        const want = await new Experts(small, { backend: ref, implementation: "eager" }).forward(hidden, remapped, weights);
        assertClose(await got.data(), await want.data(), 1e-4, `${impl} T=${t}`);
      }
      b.dispose(w.gateUp!);
      b.dispose(w.down);
      await b.sync();
    });
  });
}
