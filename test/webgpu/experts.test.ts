/**
 * The three experts implementations on webgpu against the reference backend (random experts, within
 * 1e-4 of max|ref|), and the fixture MoE blocks of every family in test/fixtures/transformers on webgpu
 * against transformers' outputs. Skips (printing why) when no WebGPU adapter can be created.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { GateSpec } from "../../src/backends/backend.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import type { DType } from "../../src/dtype.js";
import { Experts } from "../../src/experts/experts.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import { loadMoeBlock } from "../../src/models/build/load-moe-block.js";
import type { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expected, firstSparseLayer, fixtureDir, TOP_K_FAMILIES, UNSORTED_TOP_K } from "../helpers/fixtures.js";
import { assertSameChoices, choices } from "../helpers/router-out.js";
import { ints, randint, randn, rng, webgpuOrSkip } from "./setup.js";

const IMPLS = ["eager", "batched_mm", "grouped_mm"];
const { backend: gpu, skip } = await webgpuOrSkip();

interface Case {
  name: string;
  t: number;
  k: number;
  e: number;
  h: number;
  i: number;
  gate: GateSpec;
  dtype: DType;
  biases?: boolean;
  oneExpert?: boolean;
}

const CASES: Case[] = [
  { name: "T=1 K=1", t: 1, k: 1, e: 4, h: 24, i: 16, gate: { kind: "concatenated", act: "silu" }, dtype: "float32" },
  { name: "decode T=1 K=8 E=32", t: 1, k: 8, e: 32, h: 64, i: 40, gate: { kind: "concatenated", act: "silu" }, dtype: "float32" },
  { name: "T=37 K=3 E=10 odd sizes", t: 37, k: 3, e: 10, h: 33, i: 19, gate: { kind: "concatenated", act: "gelu" }, dtype: "float32" },
  { name: "all tokens on one expert", t: 20, k: 2, e: 6, h: 32, i: 24, gate: { kind: "concatenated", act: "silu" }, dtype: "float32", oneExpert: true },
  { name: "float16 weights", t: 30, k: 2, e: 8, h: 48, i: 32, gate: { kind: "concatenated", act: "silu" }, dtype: "float16" },
  { name: "bfloat16 weights", t: 30, k: 2, e: 8, h: 48, i: 32, gate: { kind: "concatenated", act: "silu" }, dtype: "bfloat16" },
  {
    name: "gpt_oss interleaved clamped SwiGLU with biases",
    t: 17,
    k: 4,
    e: 8,
    h: 40,
    i: 24,
    gate: { kind: "interleaved", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 7 } },
    dtype: "float32",
    biases: true,
  },
  { name: "non-gated experts (gelu_new)", t: 70, k: 2, e: 5, h: 36, i: 20, gate: { kind: "none", act: "gelu_new" }, dtype: "float32" },
];

function randomCase(c: Case, seed: number): { w: ExpertsWeights; hidden: Tensor; index: Tensor; weights: Tensor } {
  const r = rng(seed);
  const gated = c.gate.kind !== "none";
  const width = gated ? 2 * c.i : c.i;
  const proj = randn(r, [c.e, width, c.h], 0.3, c.dtype);
  const w: ExpertsWeights = {
    numExperts: c.e,
    hiddenSize: c.h,
    intermediateSize: c.i,
    ...(gated ? { gateUp: proj } : { up: proj }),
    down: randn(r, [c.e, c.h, c.i], 0.3, c.dtype),
    gateUpBias: c.biases ? randn(r, [c.e, width], 0.2) : undefined,
    downBias: c.biases ? randn(r, [c.e, c.h], 0.2) : undefined,
    gate: c.gate,
  };
  // Distinct experts per token (as a router picks them); with `oneExpert`, token t's slot j goes to
  // expert E-1-j, so expert E-1 receives every token and the experts below K-1 none.
  const ids = new Int32Array(c.t * c.k);
  for (let t = 0; t < c.t; t++) {
    const pick = new Set<number>();
    while (pick.size < c.k) pick.add(c.oneExpert ? c.e - 1 - pick.size : randint(r, 1, c.e)[0]!);
    [...pick].forEach((e, j) => (ids[t * c.k + j] = e));
  }
  return { w, hidden: randn(r, [c.t, c.h], 1), index: ints(ids, [c.t, c.k]), weights: randn(r, [c.t, c.k], 1) };
}

function onBackend(w: ExpertsWeights, adopt: (t: Tensor) => Tensor): ExpertsWeights {
  const up = (t: Tensor | undefined) => (t ? adopt(t) : undefined);
  return { ...w, gateUp: up(w.gateUp), up: up(w.up), down: adopt(w.down), gateUpBias: up(w.gateUpBias), downBias: up(w.downBias) };
}

if (skip) {
  it("webgpu experts and fixture MoE blocks", { skip }, () => {});
} else {
  const b = gpu!;
  after(() => b.destroy());

  describe("webgpu experts implementations match the reference backend", () => {
    CASES.forEach((c, ci) => {
      it(c.name, async () => {
        const { w, hidden, index, weights } = randomCase(c, 100 + ci);
        const want = await new Experts(w, { backend: referenceBackend, implementation: "eager" }).forward(hidden, index, weights);
        const wg = onBackend(w, (t) => b.adopt(t));
        for (const impl of IMPLS) {
          const experts = new Experts(wg, { backend: b, implementation: impl });
          const got = await experts.forward(hidden, index, weights);
          assert.equal(got.backend, b);
          assertClose(await got.data(), await want.data(), 1e-4, `${impl} ${c.name}`);
        }
      });
    });

    it("grouped_mm and batched_mm record a whole layer with no readback (one submit, at read)", async () => {
      const { w, hidden, index, weights } = randomCase(CASES[2]!, 7);
      const wg = onBackend(w, (t) => b.adopt(t));
      const [gh, gi, gw] = [b.adopt(hidden), b.adopt(index), b.adopt(weights)];
      await b.sync();
      for (const impl of ["grouped_mm", "batched_mm"]) {
        const before = b.runtime.submitted;
        const out = await new Experts(wg, { backend: b, implementation: impl }).forward(gh, gi, gw);
        assert.equal(b.runtime.submitted, before, `${impl}: nothing submitted before the caller reads`);
        await out.data();
        assert.equal(b.runtime.submitted, before + 1, `${impl}: one command buffer`);
      }
    });
  });

  for (const family of TOP_K_FAMILIES) {
    describe(`webgpu: MoE block of ${family} matches transformers`, () => {
      it("router reproduces top_k_index exactly and top_k_weights", async () => {
        const ex = await expected(family);
        const block = await loadMoeBlock(fixtureDir(family), firstSparseLayer(family), { backend: b });
        const { index, weights } = block.route(ex.experts_in!);
        assert.deepEqual([...index.shape], [...ex.top_k_index!.shape]);
        if (UNSORTED_TOP_K.includes(family)) {
          assertSameChoices(await choices(index, weights), await choices(ex.top_k_index!, ex.top_k_weights!), 1e-4, "routing");
        } else {
          assert.deepEqual(Array.from(await index.data()), Array.from(await ex.top_k_index!.data()));
          assertClose(await weights.data(), await ex.top_k_weights!.data(), 1e-4, "top_k_weights");
        }
      });
      for (const impl of IMPLS) {
        it(`${impl}: experts_out and moe_out`, async () => {
          const ex = await expected(family);
          const block = await loadMoeBlock(fixtureDir(family), firstSparseLayer(family), { backend: b, expertsImplementation: impl });
          const out = await block.runExperts(ex.experts_in!, ex.top_k_index!, ex.top_k_weights!);
          assert.equal(out.backend, b);
          assertClose(await out.data(), await ex.experts_out!.data(), 1e-4, "experts_out");
          const moe = await block.forward(ex.moe_in!);
          assertClose(await moe.data(), await ex.moe_out!.data(), 1e-4, "moe_out");
        });
      }
    });
  }
}
