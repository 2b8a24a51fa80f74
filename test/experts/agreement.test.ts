import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { Experts } from "../../src/experts/experts.js";
import type { GateSpec } from "../../src/backends/backend.js";
import { assertClose } from "../helpers/assert-close.js";
import { randomExperts } from "../helpers/random.js";

const IMPLS = ["eager", "batched_mm", "grouped_mm"];

/** Each case: dims plus how slots are assigned; the three implementations must agree. */
const CASES: { name: string; dims: { t: number; h: number; i: number; e: number; k: number }; assign?: (t: number, k: number) => number; gate?: GateSpec; bias?: boolean }[] = [
  { name: "odd sizes, E not a power of two", dims: { t: 7, h: 13, i: 5, e: 6, k: 2 } },
  { name: "K = 1", dims: { t: 9, h: 16, i: 8, e: 5, k: 1 } },
  { name: "T = 1", dims: { t: 1, h: 24, i: 12, e: 7, k: 3 } },
  { name: "T·K much larger than E", dims: { t: 64, h: 8, i: 6, e: 3, k: 2 } },
  { name: "experts with zero tokens", dims: { t: 5, h: 12, i: 4, e: 11, k: 2 }, assign: (t, k) => (t + k) % 3 },
  { name: "every token on one expert", dims: { t: 10, h: 9, i: 7, e: 4, k: 1 }, assign: () => 2 },
  { name: "every slot of every token on one expert", dims: { t: 6, h: 10, i: 4, e: 5, k: 3 }, assign: () => 4 },
  { name: "gpt_oss interleaved clamped gate with biases", dims: { t: 8, h: 16, i: 8, e: 5, k: 2 }, gate: { kind: "interleaved", act: "silu", clampedSwiglu: { alpha: 1.702, limit: 7 } }, bias: true },
  { name: "gelu gate", dims: { t: 6, h: 10, i: 6, e: 4, k: 2 }, gate: { kind: "concatenated", act: "gelu" } },
  { name: "non-gated relu experts", dims: { t: 6, h: 10, i: 6, e: 4, k: 2 }, gate: { kind: "none", act: "relu" } },
];

describe("eager, batched_mm and grouped_mm agree", () => {
  for (const [n, c] of CASES.entries()) {
    it(c.name, async () => {
      const x = randomExperts(100 + n, c.dims, { assign: c.assign, gate: c.gate, bias: c.bias });
      const outs: Float32Array[] = [];
      for (const impl of IMPLS) {
        const experts = new Experts(x.weights, { implementation: impl, backend: referenceBackend });
        const y = await experts.forward(x.hidden, x.topkIndex, x.topkWeights);
        assert.deepEqual([...y.shape], [c.dims.t, c.dims.h]);
        outs.push((await y.data()) as Float32Array);
      }
      assertClose(outs[1]!, outs[0]!, 1e-5, "batched_mm vs eager");
      assertClose(outs[2]!, outs[0]!, 1e-5, "grouped_mm vs eager");
    });
  }

  it("bfloat16 and float16 weights agree across implementations", async () => {
    for (const dtype of ["bfloat16", "float16"] as const) {
      const x = randomExperts(7, { t: 5, h: 16, i: 8, e: 4, k: 2 }, { dtype });
      const outs = [];
      for (const impl of IMPLS) outs.push(await (await new Experts(x.weights, { implementation: impl }).forward(x.hidden, x.topkIndex, x.topkWeights)).data());
      assertClose(outs[1]!, outs[0]!, 1e-5, `${dtype} batched_mm vs eager`);
      assertClose(outs[2]!, outs[0]!, 1e-5, `${dtype} grouped_mm vs eager`);
    }
  });

  it("matches a direct computation of one token", async () => {
    // T = 1, K = 2, H = 2, I = 1, silu gate: y = Σ_k w_k · down[e_k] · silu(g·x) · (u·x)
    const x = randomExperts(3, { t: 1, h: 2, i: 1, e: 3, k: 2 }, { assign: (_t, k) => (k === 0 ? 2 : 0) });
    const gu = x.weights.gateUp!.hostStorage() as Float32Array;
    const dn = x.weights.down.hostStorage() as Float32Array;
    const h = x.hidden.hostStorage() as Float32Array;
    const w = x.topkWeights.hostStorage() as Float32Array;
    const silu = (v: number) => v / (1 + Math.exp(-v));
    const expect = [0, 0];
    [2, 0].forEach((e, k) => {
      const g = gu[e * 4 + 0]! * h[0]! + gu[e * 4 + 1]! * h[1]!;
      const u = gu[e * 4 + 2]! * h[0]! + gu[e * 4 + 3]! * h[1]!;
      const a = silu(g) * u;
      for (let c = 0; c < 2; c++) expect[c]! += w[k]! * dn[e * 2 + c]! * a;
    });
    for (const impl of IMPLS) {
      const y = await (await new Experts(x.weights, { implementation: impl }).forward(x.hidden, x.topkIndex, x.topkWeights)).data();
      assertClose(y, expect, 1e-6, impl);
    }
  });
});
