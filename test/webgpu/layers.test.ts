/**
 * The model-layer ops of the webgpu backend against the reference backend: embedding, RMSNorm /
 * LayerNorm, RoPE (half-split, interleaved, partial), attention (causal, GQA, sliding window, sinks,
 * key masks with fully masked rows, different k / v head dims, decode offsets, long key runs),
 * slice / concat / repeat (every dtype), clamp and argmax (ties, NaN). Random shapes with odd sizes;
 * float32 / float16 / bfloat16 weights. Skips (printing why) when no WebGPU adapter can be created.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { AttentionSpec, RopeSpec } from "../../src/backends/backend.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import type { DType } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";
import { expectTensorClose, expectTensorEqual } from "../helpers/assert-close.js";
import { ints, randint, randn, rng, webgpuOrSkip } from "./setup.js";

const { backend: gpu, skip } = await webgpuOrSkip();

const expectClose = (actual: Tensor, expected: Tensor, tol = 1e-5, what = "values") => expectTensorClose(actual, expected, tol, what);
const expectEqual = (actual: Tensor, expected: Tensor, what = "values") => expectTensorEqual(actual, expected, what);

const DTYPES: DType[] = ["float32", "float16", "bfloat16"];

if (skip) {
  it("webgpu model-layer ops", { skip }, () => {});
} else {
  const b = gpu!;
  after(() => b.destroy());

  describe("webgpu: embedding and norms", () => {
    for (const dt of DTYPES) {
      it(`embedding (${dt} table)`, async () => {
        const r = rng(11);
        for (const [v, h, idShape] of [
          [1, 1, [1]],
          [37, 19, [2, 5]],
          [300, 64, [13]],
        ] as [number, number, number[]][]) {
          const table = randn(r, [v, h], 1, dt);
          const n = idShape.reduce((x, y) => x * y, 1);
          const ids = ints(randint(r, n, v), idShape);
          await expectEqual(b.embedding(b.adopt(table), ids), ref.embedding(table, ids), `embedding ${v}x${h}`);
          await expectEqual(b.embedding(b.adopt(table), b.adopt(ids)), ref.embedding(table, ids), "device ids");
        }
        const table = randn(r, [5, 3], 1, dt);
        assert.throws(() => b.embedding(b.adopt(table), ints([1, 5])), /outside the vocabulary/);
        assert.throws(() => b.embedding(b.adopt(table), ints([-1])), /outside the vocabulary/);
      });
    }

    it("rmsNorm: with / without weight, f32 / f16 / bf16 weights, odd and long rows", async () => {
      const r = rng(12);
      for (const shape of [[1, 1], [3, 5, 67], [4, 300], [2, 2, 2, 8], [1, 2049]]) {
        const d = shape[shape.length - 1]!;
        const x = randn(r, shape, 3);
        for (const dt of DTYPES) {
          const w = randn(r, [d], 1, dt);
          await expectClose(b.rmsNorm(b.adopt(x), b.adopt(w), 1e-6), ref.rmsNorm(x, w, 1e-6), 1e-5, `rmsNorm ${shape} ${dt}`);
        }
        await expectClose(b.rmsNorm(b.adopt(x), undefined, 1e-5), ref.rmsNorm(x, undefined, 1e-5), 1e-5, `rmsNorm ${shape} no weight`);
      }
      const x = randn(r, [3, 4]);
      assert.throws(() => b.rmsNorm(b.adopt(x), b.adopt(randn(r, [5])), 1e-6), /must have 4 entries/);
      await expectEqual(b.rmsNorm(b.zeros([0, 4]), b.adopt(randn(r, [4])), 1e-6), ref.rmsNorm(ref.zeros([0, 4]), randn(r, [4]), 1e-6), "empty");
    });

    it("layerNorm: with / without bias", async () => {
      const r = rng(13);
      for (const shape of [[1, 1], [3, 5, 67], [4, 300], [7, 1031]]) {
        const d = shape[shape.length - 1]!;
        const x = randn(r, shape, 3);
        for (let i = 0; i < x.size; i++) (x.storage as Float32Array)[i]! += 5; // a mean to remove
        for (const dt of DTYPES) {
          const w = randn(r, [d], 1, dt);
          const bias = randn(r, [d], 1);
          await expectClose(b.layerNorm(b.adopt(x), b.adopt(w), b.adopt(bias), 1e-5), ref.layerNorm(x, w, bias, 1e-5), 1e-5, `layerNorm ${shape} ${dt}`);
          await expectClose(b.layerNorm(b.adopt(x), b.adopt(w), undefined, 1e-5), ref.layerNorm(x, w, undefined, 1e-5), 1e-5, `layerNorm ${shape} no bias`);
        }
      }
    });
  });

  describe("webgpu: rope", () => {
    const cases: [number[], RopeSpec][] = [
      [[2, 5, 3, 8], { style: "halfSplit" }],
      [[2, 5, 3, 8], { style: "interleaved" }],
      [[1, 7, 4, 10], { style: "halfSplit", rotaryDim: 6 }],
      [[1, 7, 4, 10], { style: "interleaved", rotaryDim: 4 }],
      [[9, 1, 64], { style: "halfSplit" }],
      [[3, 2, 1, 2], { style: "interleaved" }],
      [[1, 33, 5, 96], { style: "halfSplit", rotaryDim: 32 }],
    ];
    for (const [shape, spec] of cases) {
      it(`${spec.style} x ${JSON.stringify(shape)} rotaryDim ${spec.rotaryDim ?? "D"}`, async () => {
        const r = rng(14);
        const x = randn(r, shape, 2);
        const d = shape[shape.length - 1]!;
        const t = x.size / (shape[shape.length - 2]! * d);
        const half = (spec.rotaryDim ?? d) / 2;
        const cos = randn(r, [t, half]);
        const sin = randn(r, [t, half]);
        await expectClose(b.rope(b.adopt(x), b.adopt(cos), b.adopt(sin), spec), ref.rope(x, cos, sin, spec), 1e-6, "rope");
      });
    }
    it("rejects bad rotaryDim and tables", () => {
      const r = rng(15);
      const x = b.adopt(randn(r, [1, 2, 3, 8]));
      assert.throws(() => b.rope(x, b.zeros([2, 4]), b.zeros([2, 4]), { style: "halfSplit", rotaryDim: 5 }), /rotaryDim/);
      assert.throws(() => b.rope(x, b.zeros([3, 4]), b.zeros([3, 4]), { style: "halfSplit" }), /must hold/);
    });
  });

  describe("webgpu: attention", () => {
    interface Case {
      name: string;
      b: number;
      sq: number;
      skv: number;
      hq: number;
      hkv: number;
      dk: number;
      dv?: number;
      spec?: Partial<AttentionSpec>;
      sinks?: boolean;
      /** left padding per batch row (keyMask zeros at the start). */
      pad?: number[];
    }
    const cases: Case[] = [
      { name: "prefill causal MHA", b: 1, sq: 7, skv: 7, hq: 3, hkv: 3, dk: 16 },
      { name: "prefill causal GQA 8/2, B=2", b: 2, sq: 9, skv: 9, hq: 8, hkv: 2, dk: 24 },
      { name: "MQA 4/1, odd head dim", b: 1, sq: 5, skv: 5, hq: 4, hkv: 1, dk: 13 },
      { name: "decode: 1 query over 70 cached keys", b: 2, sq: 1, skv: 70, hq: 4, hkv: 2, dk: 32 },
      { name: "3 queries after 140 cached keys", b: 1, sq: 3, skv: 143, hq: 2, hkv: 1, dk: 8 },
      { name: "sliding window 5 over 130 keys", b: 1, sq: 130, skv: 130, hq: 2, hkv: 1, dk: 16, spec: { slidingWindow: 5 } },
      { name: "sliding window 64 decode at 200", b: 1, sq: 2, skv: 200, hq: 2, hkv: 2, dk: 16, spec: { slidingWindow: 64 } },
      { name: "sinks (gpt_oss) with window", b: 1, sq: 11, skv: 11, hq: 4, hkv: 2, dk: 16, sinks: true, spec: { slidingWindow: 4 } },
      { name: "sinks, decode", b: 1, sq: 1, skv: 20, hq: 4, hkv: 2, dk: 16, sinks: true },
      { name: "MLA head dims: dk 24, dv 16", b: 1, sq: 6, skv: 6, hq: 4, hkv: 4, dk: 24, dv: 16 },
      { name: "dk 192, dv 128 (DeepSeek-V3 sizes)", b: 1, sq: 3, skv: 5, hq: 2, hkv: 2, dk: 192, dv: 128 },
      { name: "dk 64, dv 256", b: 1, sq: 2, skv: 66, hq: 1, hkv: 1, dk: 64, dv: 256 },
      { name: "non-causal", b: 2, sq: 4, skv: 9, hq: 2, hkv: 1, dk: 8, spec: { causal: false } },
      { name: "explicit queryOffset", b: 1, sq: 3, skv: 9, hq: 2, hkv: 2, dk: 8, spec: { queryOffset: 2 } },
      { name: "left padding: fully masked rows give zeros", b: 3, sq: 6, skv: 6, hq: 4, hkv: 2, dk: 8, pad: [0, 2, 5] },
      { name: "padding + cache + sinks", b: 2, sq: 2, skv: 9, hq: 2, hkv: 1, dk: 8, pad: [3, 0], sinks: true },
      { name: "D = 1", b: 1, sq: 4, skv: 4, hq: 1, hkv: 1, dk: 1 },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const r = rng(c.skv * 31 + c.dk);
        const dv = c.dv ?? c.dk;
        const q = randn(r, [c.b, c.sq, c.hq, c.dk], 1);
        const k = randn(r, [c.b, c.skv, c.hkv, c.dk], 1);
        const v = randn(r, [c.b, c.skv, c.hkv, dv], 1);
        const spec: AttentionSpec = { scale: 1 / Math.sqrt(c.dk), ...c.spec };
        const gspec: AttentionSpec = { ...spec };
        if (c.sinks) {
          spec.sinks = randn(r, [c.hq], 2);
          gspec.sinks = b.adopt(spec.sinks);
        }
        if (c.pad) {
          const m = new Int32Array(c.b * c.skv).fill(1);
          c.pad.forEach((p, bi) => m.fill(0, bi * c.skv, bi * c.skv + p));
          spec.keyMask = ints(m, [c.b, c.skv]);
          gspec.keyMask = b.adopt(spec.keyMask);
        }
        const want = ref.attention(q, k, v, spec);
        await expectClose(b.attention(b.adopt(q), b.adopt(k), b.adopt(v), gspec), want, 1e-5, c.name);
        if (c.pad) {
          // rows whose visible keys are all padding are exactly zero
          const got = await b.attention(b.adopt(q), b.adopt(k), b.adopt(v), gspec).data();
          const wantV = await want.data();
          for (let i = 0; i < wantV.length; i++) if (wantV[i] === 0) assert.equal(got[i], 0);
        }
      });
    }
    it("rejects mismatched shapes, heads, offsets and windows", () => {
      const q = b.zeros([1, 2, 4, 8]);
      const k = b.zeros([1, 3, 3, 8]);
      assert.throws(() => b.attention(q, k, k, { scale: 1 }), /cannot share/);
      const k2 = b.zeros([1, 3, 2, 8]);
      assert.throws(() => b.attention(q, k2, b.zeros([1, 3, 2, 7]).reshape([1, 3, 2, 7]), { scale: 1, queryOffset: 2 }), /queryOffset/);
      assert.throws(() => b.attention(q, k2, k2, { scale: 1, slidingWindow: 0 }), /slidingWindow/);
      assert.throws(() => b.attention(q, k2, k2, { scale: 1, keyMask: b.zeros([1, 2], "int32") }), /keyMask/);
      assert.throws(() => b.attention(q, k2, k2, { scale: 1, sinks: b.zeros([3]) }), /sinks/);
    });
  });

  describe("webgpu: limits", () => {
    it("a tensor larger than the adapter binds is a clear error, not a device error", () => {
      const limit = b.device.limits.maxStorageBufferBindingSize;
      const n = Math.floor(limit / 4) + 1;
      assert.throws(() => b.zeros([n]), /maxStorageBufferBindingSize/);
    });
  });

  describe("webgpu: shape ops, clamp, argmax", () => {
    const all: DType[] = ["float32", "float16", "bfloat16", "int32"];
    const make = (r: () => number, shape: number[], dt: DType) => (dt === "int32" ? ints(randint(r, shape.reduce((x, y) => x * y, 1), 1000), shape) : randn(r, shape, 1, dt));
    for (const dt of all) {
      it(`slice / concat / repeat keep ${dt}`, async () => {
        const r = rng(16);
        const x = make(r, [3, 5, 7], dt);
        for (const [axis, start, len] of [
          [0, 1, 2],
          [1, 0, 5],
          [1, 3, 1],
          [-1, 2, 5],
          [2, 6, 1],
          [1, 2, 0],
        ] as const) {
          await expectEqual(b.slice(b.adopt(x), axis, start, len), ref.slice(x, axis, start, len), `slice ${axis} ${start} ${len}`);
        }
        const parts = [make(r, [3, 2, 7], dt), make(r, [3, 1, 7], dt), make(r, [3, 4, 7], dt)];
        await expectEqual(b.concat(parts.map((p) => b.adopt(p)), 1), ref.concat(parts, 1), "concat axis 1");
        const lastParts = [make(r, [2, 3, 5], dt), make(r, [2, 3, 1], dt)];
        await expectEqual(b.concat(lastParts.map((p) => b.adopt(p)), -1), ref.concat(lastParts, -1), "concat axis -1");
        const firstParts = [make(r, [1, 4], dt), make(r, [3, 4], dt)];
        await expectEqual(b.concat(firstParts.map((p) => b.adopt(p)), 0), ref.concat(firstParts, 0), "concat axis 0");
        for (const [axis, times] of [
          [0, 2],
          [1, 3],
          [2, 1],
          [-1, 4],
        ] as const) {
          await expectEqual(b.repeat(b.adopt(x), axis, times), ref.repeat(x, axis, times), `repeat ${axis} ${times}`);
        }
      });
    }

    it("slice / concat / repeat errors", () => {
      const x = b.zeros([2, 3]);
      assert.throws(() => b.slice(x, 2, 0, 1), /axis/);
      assert.throws(() => b.slice(x, 1, 2, 2), /outside/);
      assert.throws(() => b.concat([x, b.zeros([3, 3])], 1), /does not match/);
      assert.throws(() => b.concat([x, b.zeros([2, 3], "int32")], 0), /dtypes differ/);
      assert.throws(() => b.concat([], 0), /nothing/);
      assert.throws(() => b.repeat(x, 0, 0), /positive/);
    });

    it("clamp", async () => {
      const r = rng(17);
      for (const shape of [[1], [5, 7], [1000]]) {
        const x = randn(r, shape, 10);
        await expectEqual(b.clamp(b.adopt(x), -3, 2.5), ref.clamp(x, -3, 2.5), `clamp ${shape}`);
      }
      const h = randn(r, [4, 6], 10, "bfloat16");
      await expectEqual(b.clamp(b.adopt(h), -1, 1), ref.clamp(h, -1, 1), "clamp of bfloat16 input");
      assert.throws(() => b.clamp(b.zeros([2]), 2, 1), /exceeds/);
    });

    it("argmax: rows, ties to the lowest index, NaN, long rows", async () => {
      const r = rng(18);
      for (const shape of [[1], [3, 1], [5, 7], [2, 3, 1000], [1, 4099]]) {
        const x = randn(r, shape, 10);
        await expectEqual(b.argmax(b.adopt(x)), ref.argmax(x), `argmax ${shape}`);
      }
      const ties = Tensor.from(Float32Array.from([1, 3, 3, 0, 5, 5, 5, 5, NaN, 2, NaN, 2, NaN, NaN, NaN, NaN, -1, -1, NaN, -1]), [5, 4]);
      await expectEqual(b.argmax(b.adopt(ties)), ref.argmax(ties), "ties and NaN");
      const wide = new Float32Array(3000).fill(7);
      await expectEqual(b.argmax(b.adopt(Tensor.from(wide, [3000]))), ref.argmax(Tensor.from(wide, [3000])), "all equal");
      assert.throws(() => b.argmax(b.zeros([2, 0])), /empty/);
    });
  });
}
