/**
 * Every experts-level op of the webgpu backend against the reference backend, on random shapes (odd
 * sizes, T = 1, K = 1, empty experts, all slots on one expert), float32 / float16 / bfloat16 weights.
 * Skips (printing why) when no WebGPU adapter can be created.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Activation, GateSpec, RoutingSpec } from "../../src/backends/backend.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { ACTIVATIONS } from "../../src/backends/activation.js";
import type { DType } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";
import { expectTensorClose, expectTensorEqual } from "../helpers/assert-close.js";
import { ints, randint, randn, rng, webgpuOrSkip } from "./setup.js";

const { backend: gpu, skip } = await webgpuOrSkip();

const expectClose = (actual: Tensor, expected: Tensor, tol = 1e-4, what = "values") => expectTensorClose(actual, expected, tol, what, false);
const expectEqual = (actual: Tensor, expected: Tensor, what = "values") => expectTensorEqual(actual, expected, what, false);

/** Slot expert ids for a scenario. */
function scenarioIds(r: () => number, s: number, e: number, kind: "random" | "one" | "skewed"): Int32Array {
  if (kind === "one") return new Int32Array(s).fill(e - 1);
  if (kind === "skewed") return Int32Array.from({ length: s }, () => (r() < 0.7 ? 1 % e : Math.floor(r() * e)));
  return randint(r, s, e);
}

if (skip) {
  it("webgpu ops", { skip }, () => {});
} else {
  const b = gpu!;
  after(() => b.destroy());
  const WDTYPES: DType[] = ["float32", "float16", "bfloat16"];

  describe("webgpu: host boundary", () => {
    it("fromHost / read round-trips every dtype, zeros, adopt", async () => {
      const r = rng(1);
      for (const dt of ["float32", "float16", "bfloat16"] as DType[]) {
        const t = randn(r, [3, 5], 2, dt);
        const g = b.adopt(t);
        assert.equal(g.dtype, dt);
        assert.equal(g.isHost, false);
        assert.deepEqual(Array.from(await g.data()), Array.from(await t.data()));
      }
      const i = ints([1, -2, 3, 2147483647], [2, 2]);
      assert.deepEqual(Array.from(await b.adopt(i).data()), [1, -2, 3, 2147483647]);
      assert.deepEqual(Array.from(await b.zeros([2, 3]).data()), [0, 0, 0, 0, 0, 0]);
      assert.deepEqual(Array.from(await b.zeros([3], "int32").data()), [0, 0, 0]);
      assert.equal((await b.zeros([0, 4]).data()).length, 0);
      const reshaped = b.adopt(i).reshape([4]);
      assert.deepEqual(Array.from(await reshaped.data()), [1, -2, 3, 2147483647]);
      const d = b.adopt(i);
      b.dispose(d);
    });

    it("every contract op the reference has is a method of the webgpu backend", () => {
      const names = Object.getOwnPropertyNames(Object.getPrototypeOf(ref)).filter((n) => n !== "constructor" && n !== "make");
      for (const name of names) assert.equal(typeof (b as unknown as Record<string, unknown>)[name], "function", `webgpu backend lacks '${name}'`);
    });
  });

  describe("webgpu: without shader-f16", () => {
    it("float16 weights widen to float32 at upload and products still match", async () => {
      const { createWebGpuBackend } = await import("../../src/backends/webgpu/index.js");
      const nf = await createWebGpuBackend({ device: b.device, useF16: false });
      assert.equal(nf.f16, false);
      const r = rng(13);
      const w = randn(r, [3, 11, 9], 1, "float16");
      const gw = nf.adopt(w);
      assert.equal((gw.storage as { elem: string }).elem, "f32");
      const x = randn(r, [5, 9]);
      const ids = ints([0, 2, 2, 1, 0]);
      await expectClose(nf.gatheredLinear(nf.adopt(x), gw, nf.adopt(ids)), ref.gatheredLinear(x, w, ids), 1e-4, "gathered f16→f32");
      await expectClose(nf.cast(nf.adopt(x), "float16"), ref.cast(x, "float16"), 0, "cast to float16 stored as f32");
    });
  });

  describe("webgpu: products", () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [1, 7, 5],
      [3, 17, 9],
      [33, 65, 70],
      [130, 31, 67],
    ];
    for (const wdt of WDTYPES) {
      it(`linear (${wdt} weights): plain, bias, 3-D input, stacked expert`, async () => {
        const r = rng(2);
        for (const [m, k, n] of shapes) {
          const x = randn(r, [m, k]);
          const w = randn(r, [n, k], 1, wdt);
          const bias = randn(r, [n], 1, wdt);
          await expectClose(b.linear(b.adopt(x), b.adopt(w)), ref.linear(x, w), 1e-4, `linear ${m}x${k}x${n}`);
          await expectClose(b.linear(b.adopt(x), b.adopt(w), { bias: b.adopt(bias) }), ref.linear(x, w, { bias }), 1e-4, "linear+bias");
        }
        const x3 = randn(r, [2, 3, 10]);
        const w = randn(r, [4, 10], 1, wdt);
        await expectClose(b.linear(b.adopt(x3), b.adopt(w)), ref.linear(x3, w), 1e-4, "linear 3-D");
        const ws = randn(r, [5, 6, 10], 1, wdt);
        const bs = randn(r, [5, 6]);
        const x = randn(r, [7, 10]);
        for (const expert of [0, 3, 4]) {
          await expectClose(b.linear(b.adopt(x), b.adopt(ws), { expert, bias: b.adopt(bs) }), ref.linear(x, ws, { expert, bias: bs }), 1e-4, `expert ${expert}`);
        }
        assert.throws(() => b.linear(b.adopt(x), b.adopt(ws), { expert: 5 }), /outside/);
      });
    }

    it("linear with K = 0: every row is the bias (or zeros), as the reference", async () => {
      const x = Tensor.from(new Float32Array(0), [3, 0]);
      const bias = Tensor.from(Float32Array.from([1.5, -2]), [2]);
      const want = Tensor.from(Float32Array.from([1.5, -2, 1.5, -2, 1.5, -2]), [3, 2]);
      await expectEqual(ref.linear(x, Tensor.from(new Float32Array(0), [2, 0]), { bias }), want, "reference");
      await expectEqual(b.linear(b.adopt(x), b.adopt(Tensor.from(new Float32Array(0), [2, 0])), { bias: b.adopt(bias) }), want, "webgpu");
      await expectEqual(b.linear(b.adopt(x), b.adopt(Tensor.from(new Float32Array(0), [2, 0]))), Tensor.from(new Float32Array(6), [3, 2]), "no bias");
      const stackedBias = Tensor.from(Float32Array.from([9, 9, 1.5, -2]), [2, 2]);
      await expectEqual(b.linear(b.adopt(x), b.adopt(Tensor.from(new Float32Array(0), [2, 2, 0])), { expert: 1, bias: b.adopt(stackedBias) }), want, "stacked expert 1");
    });

    const cases: { name: string; t: number; k: number; e: number; kind: "random" | "one" | "skewed" }[] = [
      { name: "T=1 K=1", t: 1, k: 1, e: 4, kind: "random" },
      { name: "T=1 K=4, E=9", t: 1, k: 4, e: 9, kind: "random" },
      { name: "T=37 K=3, E=10 (empty experts)", t: 37, k: 3, e: 10, kind: "random" },
      { name: "all slots on one expert", t: 50, k: 2, e: 6, kind: "one" },
      { name: "skewed, E=1", t: 9, k: 1, e: 1, kind: "random" },
      { name: "T=150 K=2, E=64 (many empty, long segment)", t: 150, k: 2, e: 64, kind: "skewed" },
    ];
    for (const wdt of WDTYPES) {
      it(`groupedLinear and gatheredLinear (${wdt} weights)`, async () => {
        const r = rng(3);
        for (const c of cases) {
          const h = 1 + Math.floor(r() * 70);
          const n = 1 + Math.floor(r() * 90);
          const s = c.t * c.k;
          const ids = ints(scenarioIds(r, s, c.e, c.kind));
          const x = randn(r, [c.t, h]);
          const w = randn(r, [c.e, n, h], 1, wdt);
          const bias = randn(r, [c.e, n]);
          const sorted = ref.sortByExpert(ids, c.e);
          const opts = { rowIndex: sorted.order, rowsPerInput: c.k, bias };
          const gOpts = { rowIndex: b.adopt(sorted.order), rowsPerInput: c.k, bias: b.adopt(bias) };
          await expectClose(
            b.groupedLinear(b.adopt(x), b.adopt(w), b.adopt(sorted.offsets), gOpts),
            ref.groupedLinear(x, w, sorted.offsets, opts),
            1e-4,
            `grouped gather ${c.name}`,
          );
          const xs = randn(r, [s, h]);
          await expectClose(b.groupedLinear(b.adopt(xs), b.adopt(w), b.adopt(sorted.offsets)), ref.groupedLinear(xs, w, sorted.offsets), 1e-4, `grouped ${c.name}`);
          await expectClose(
            b.gatheredLinear(b.adopt(x), b.adopt(w), b.adopt(ids), { rowsPerInput: c.k, bias: b.adopt(bias) }),
            ref.gatheredLinear(x, w, ids, { rowsPerInput: c.k, bias }),
            1e-4,
            `gathered ${c.name}`,
          );
          await expectClose(b.gatheredLinear(b.adopt(xs), b.adopt(w), b.adopt(ids)), ref.gatheredLinear(xs, w, ids), 1e-4, `gathered rpi=1 ${c.name}`);
        }
      });
    }

    it("groupedLinear reads its segments from GPU offsets (sortByExpert on the GPU, one submit)", async () => {
      const r = rng(4);
      const [t, k, e, h, n] = [70, 4, 16, 40, 24];
      const ids = ints(scenarioIds(r, t * k, e, "skewed"));
      const x = randn(r, [t, h]);
      const w = randn(r, [e, n, h]);
      const gx = b.adopt(x);
      const gw = b.adopt(w);
      const gids = b.adopt(ids);
      const before = b.runtime.submitted;
      const sorted = b.sortByExpert(gids, e);
      const y = b.groupedLinear(gx, gw, sorted.offsets, { rowIndex: sorted.order, rowsPerInput: k });
      const out = await y.data();
      assert.equal(b.runtime.submitted - before, 1, "one command buffer for sort + grouped product + readback");
      const rs = ref.sortByExpert(ids, e);
      await expectClose(new Tensor(y.shape, "float32", out), ref.groupedLinear(x, w, rs.offsets, { rowIndex: rs.order, rowsPerInput: k }), 1e-4);
    });
  });

  describe("webgpu: gate, routing, slots", () => {
    it("gate: concatenated, interleaved (each + clamped SwiGLU), none, every activation", async () => {
      const r = rng(5);
      const specs: GateSpec[] = [
        ...ACTIVATIONS.map((act): GateSpec => ({ kind: "concatenated", act })),
        { kind: "interleaved", act: "silu" },
        { kind: "interleaved", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 7 } },
        { kind: "concatenated", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 7 } },
        ...ACTIVATIONS.map((act): GateSpec => ({ kind: "none", act })),
      ];
      for (const spec of specs) {
        for (const [s, w] of [[1, 2], [13, 34], [5, 130]] as [number, number][]) {
          const p = randn(r, [s, w], 9);
          await expectClose(b.gate(b.adopt(p), spec), ref.gate(p, spec), 1e-5, `gate ${JSON.stringify(spec)} ${s}x${w}`);
        }
      }
    });

    const bias = (e: number, r: () => number) => randn(r, [e], 0.3);
    const specs: { name: string; e: number; k: number; spec: (r: () => number) => RoutingSpec }[] = [
      { name: "softmax top-1", e: 5, k: 1, spec: () => ({ k: 1, scoring: "softmax", weights: "scores" }) },
      { name: "softmax top-2 renorm", e: 8, k: 2, spec: () => ({ k: 2, scoring: "softmax", weights: "scores", normalize: { eps: 0, min: 0 } }) },
      { name: "top-k softmax (granite, gpt_oss)", e: 32, k: 4, spec: () => ({ k: 4, scoring: "none", weights: "softmaxTopK" }) },
      {
        name: "noaux_tc (sigmoid, bias, groups top2sum, -inf, renorm, scale)",
        e: 64,
        k: 6,
        spec: (r) => ({
          k: 6,
          scoring: "sigmoid",
          selectionBias: bias(64, r),
          groups: { count: 8, keep: 3, score: "top2sum", fill: -Infinity },
          weights: "scores",
          normalize: { eps: 1e-20, min: 0 },
          scale: 2.5,
        }),
      },
      {
        name: "deepseek_v2 group-limited (max, fill 0, scale)",
        e: 24,
        k: 3,
        spec: () => ({ k: 3, scoring: "softmax", groups: { count: 4, keep: 2, score: "max", fill: 0 }, weights: "scores", scale: 16 }),
      },
      { name: "groups of one expert", e: 6, k: 2, spec: () => ({ k: 2, scoring: "sigmoid", groups: { count: 6, keep: 3, score: "top2sum", fill: -Infinity }, weights: "scores" }) },
      {
        name: "ernie (softmax, bias, normalize min)",
        e: 12,
        k: 3,
        spec: (r) => ({ k: 3, scoring: "softmax", selectionBias: bias(12, r), weights: "scores", normalize: { eps: 0, min: 1e-12 } }),
      },
      { name: "k = E", e: 3, k: 3, spec: () => ({ k: 3, scoring: "softmax", weights: "scores" }) },
      { name: "gapMaskedSoftmax", e: 16, k: 2, spec: () => ({ k: 2, scoring: "gapMaskedSoftmax", weights: "scores", jitterEps: 0.01 }) },
      { name: "gapMaskedSoftmax, wide gap", e: 7, k: 2, spec: () => ({ k: 2, scoring: "gapMaskedSoftmax", weights: "scores", jitterEps: 0.4 }) },
    ];
    for (const c of specs) {
      it(`route: ${c.name}`, async () => {
        const r = rng(6);
        for (const t of [1, 3, 70]) {
          const logits = randn(r, [t, c.e], 3);
          const spec = c.spec(r);
          const gspec: RoutingSpec = { ...spec, selectionBias: spec.selectionBias && b.adopt(spec.selectionBias) };
          const got = b.route(b.adopt(logits), gspec);
          const want = ref.route(logits, spec);
          await expectEqual(got.index, want.index, `index T=${t}`);
          await expectClose(got.weights, want.weights, 1e-5, `weights T=${t}`);
        }
      });
    }

    it("sortByExpert: stable segments, inverse permutation, across chunks", async () => {
      const r = rng(7);
      const runs: [number, number, "random" | "one" | "skewed"][] = [
        [1, 1, "random"],
        [1, 8, "random"],
        [7, 3, "one"],
        [255, 5, "random"],
        [256, 64, "skewed"],
        [1000, 7, "random"],
        [2049, 128, "skewed"],
        [600, 1, "random"],
      ];
      for (const [s, e, kind] of runs) {
        const ids = ints(scenarioIds(r, s, e, kind));
        const got = b.sortByExpert(b.adopt(ids), e);
        const want = ref.sortByExpert(ids, e);
        await expectEqual(got.offsets, want.offsets, `offsets S=${s} E=${e}`);
        await expectEqual(got.order, want.order, `order S=${s} E=${e}`);
        await expectEqual(got.position, want.position, `position S=${s} E=${e}`);
      }
    });

    it("combineSlots (direct and through slotRow), gatherRows, accumulateRows (repeated rows)", async () => {
      const r = rng(8);
      for (const [t, k, h] of [[1, 1, 1], [5, 3, 17], [33, 2, 300]] as [number, number, number][]) {
        const y = randn(r, [t * k, h]);
        const w = randn(r, [t, k]);
        await expectClose(b.combineSlots(b.adopt(y), b.adopt(w)), ref.combineSlots(y, w), 1e-5, "combine");
        const perm = ints(Int32Array.from({ length: t * k }, (_, i) => (i * 7 + 3) % (t * k)));
        await expectClose(b.combineSlots(b.adopt(y), b.adopt(w), b.adopt(perm)), ref.combineSlots(y, w, perm), 1e-5, "combine mapped");
        const rows = ints(randint(r, 2 * t, t));
        await expectClose(b.gatherRows(b.adopt(y), b.adopt(rows)), ref.gatherRows(y, rows), 0, "gatherRows");
        const base = randn(r, [t, h]);
        const refOut = ref.adopt(Tensor.from(new Float32Array(base.storage as Float32Array), [t, h]));
        const gOut = b.adopt(base);
        const add = randn(r, [2 * t, h]);
        const aw = randn(r, [2 * t]);
        ref.accumulateRows(refOut, add, rows, aw);
        b.accumulateRows(gOut, b.adopt(add), b.adopt(rows), b.adopt(aw));
        b.accumulateRows(gOut, b.adopt(add), b.adopt(rows), b.adopt(aw));
        ref.accumulateRows(refOut, add, rows, aw);
        await expectClose(gOut, refOut, 1e-5, "accumulateRows");
      }
    });
  });

  describe("webgpu: elementwise", () => {
    it("add / mul with same shape, suffix and per-row broadcast; scale", async () => {
      const r = rng(9);
      const a = randn(r, [6, 7, 9]);
      for (const bs of [[6, 7, 9], [9], [7, 9], [6, 7, 1], [42, 1]]) {
        const bt = randn(r, bs);
        await expectClose(b.add(b.adopt(a), b.adopt(bt)), ref.add(a, bt), 1e-6, `add ${bs}`);
        await expectClose(b.mul(b.adopt(a), b.adopt(bt)), ref.mul(a, bt), 1e-6, `mul ${bs}`);
      }
      assert.throws(() => b.add(b.adopt(a), b.adopt(randn(r, [5]))), /cannot broadcast/);
      await expectClose(b.scale(b.adopt(a), -0.37), ref.scale(a, -0.37), 1e-6, "scale");
      const h = randn(r, [4, 5], 1, "float16");
      await expectClose(b.add(b.adopt(h), b.adopt(h)), ref.add(h, h), 1e-6, "add f16 operands");
    });

    it("activate: every activation, large magnitudes", async () => {
      const r = rng(10);
      const x = randn(r, [3, 257], 12);
      for (const act of ACTIVATIONS as Activation[]) await expectClose(b.activate(b.adopt(x), act), ref.activate(x, act), 1e-5, act);
    });

    it("softmax over the last dim", async () => {
      const r = rng(11);
      for (const shape of [[1, 1], [3, 5], [2, 4, 200], [70, 33]]) {
        const x = randn(r, shape, 20);
        await expectClose(b.softmax(b.adopt(x)), ref.softmax(x), 1e-5, `softmax ${shape}`);
      }
    });

    it("cast between float32, bfloat16 and float16 rounds like the reference (exactly)", async () => {
      const r = rng(12);
      const vals = randn(r, [1001], 3).storage as Float32Array;
      vals.set([0, -0, 65504, 65520, 70000, -1e9, 1e-8, 6e-5, 3.0517578125e-5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
      const x = Tensor.from(vals, [7, 11, 13]);
      for (const from of ["float32", "bfloat16", "float16"] as DType[]) {
        const src = from === "float32" ? x : ref.cast(x, from);
        for (const to of ["float32", "bfloat16", "float16"] as DType[]) {
          const got = b.cast(b.adopt(src), to);
          assert.equal(got.dtype, to);
          await expectEqual(got, ref.cast(src, to), `cast ${from} → ${to}`);
        }
      }
    });
  });
}
