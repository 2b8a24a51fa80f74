import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend } from "../../src/backends/backend.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { Experts } from "../../src/experts/experts.js";
import { Router } from "../../src/experts/routers.js";
import { rowSegments, rowView } from "../../src/loading/fuse.js";
import { GatedMlp } from "../../src/models/layers/mlp.js";
import { SparseMoeBlock, type SharedExperts } from "../../src/models/layers/moe-block.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { randomExperts, randomTensor, rng } from "../helpers/random.js";
import { optionalBf16Cpu, optionalCpu } from "../helpers/optional-cpu.js";
import { quantizeTensor } from "../../src/models/build/quantize.js";
import type { QuantFormat } from "../../src/formats/quant/index.js";

const cpu = await optionalBf16Cpu();
const { cpu: cpu32 } = await optionalCpu();

const H = 48;
const I = 16;
const E = 6;
const T = 7;

/** A block with E routed experts (top-2) and a shared gated MLP of `chunks`·I columns (gate|up stored apart, as a row view). */
function blocks(b: Backend, chunks: number, opts: { gated?: boolean; dtype?: "float32" | "bfloat16"; average?: boolean } = {}) {
  const dtype = opts.dtype ?? "float32";
  const r = rng(chunks * 10 + (opts.gated ? 1 : 0));
  const ex = randomExperts(chunks, { t: T, h: H, i: I, e: E, k: 2 }, { dtype });
  const w = chunks * I;
  const gateUp = rowView([randomTensor(r, [w, H], 0.3, dtype), randomTensor(r, [w, H], 0.3, dtype)], dtype, [2 * w, H]);
  const shared: SharedExperts = {
    mlp: new GatedMlp(b.adopt(gateUp), b.adopt(randomTensor(r, [H, w], 0.3, dtype)), "silu"),
    gate: opts.gated ? b.adopt(randomTensor(r, [1, H], 0.5)) : undefined,
    average: opts.average,
  };
  const router = new Router({ kind: "softmaxTopK", k: 2, normTopkProb: false }, { weight: b.adopt(randomTensor(r, [E, H], 0.5)) }, b);
  const experts = () => new Experts(ex.weights, { backend: b, implementation: "grouped_mm" });
  return {
    fused: new SparseMoeBlock(router, experts(), shared, b),
    apart: new SparseMoeBlock(router, experts(), shared, b, { sharedInExperts: false }),
    x: b.adopt(randomTensor(r, [T, H])),
  };
}

/**
 * A block of block-format weights: E routed experts of width 32 (top-2) and a shared gated MLP of 3·32 columns with a
 * sigmoid gate, hidden 64; the routed stacks in `routed`, the shared MLP's matrices in `shared`. T tokens.
 */
function quantizedBlocks(b: Backend, routed: QuantFormat, shared: QuantFormat, t: number) {
  const [h, i, chunks] = [64, 32, 3];
  const r = rng(7);
  const ex = randomExperts(11, { t, h, i, e: E, k: 2 });
  const q = (x: Tensor, f: QuantFormat) => quantizeTensor(x, f, "test weight");
  const weights = { ...ex.weights, gateUp: q(ex.weights.gateUp!, routed), down: q(ex.weights.down, routed) };
  const w = chunks * i;
  const mlp = new GatedMlp(q(randomTensor(r, [2 * w, h], 0.3), shared), q(randomTensor(r, [h, w], 0.3), shared), "silu");
  const sharedExperts: SharedExperts = { mlp, gate: randomTensor(r, [1, h], 0.5) };
  const router = new Router({ kind: "softmaxTopK", k: 2, normTopkProb: false }, { weight: randomTensor(r, [E, h], 0.5) }, b);
  const experts = () => new Experts(weights, { backend: b, implementation: "grouped_mm" });
  return {
    fused: new SparseMoeBlock(router, experts(), sharedExperts, b),
    apart: new SparseMoeBlock(router, experts(), sharedExperts, b, { sharedInExperts: false }),
    x: randomTensor(r, [t, h]),
  };
}

describe("shared expert of block-format weights inside the routed experts' pass", () => {
  const backends: [string, Backend | undefined][] = [["reference", referenceBackend], ["cpu", cpu32]];
  for (const [name, b] of backends) {
    for (const format of ["q8_0", "q4_0", "q5_0", "mxfp4"] as const) {
      // 1 token: one-row jobs (quant GEMV); 40 tokens: the int8 GEMM where the kernel set has one (packed from 9 rows)
      it(`${name} ${format}: the fusion is taken and gives the block's output as run apart (1 and 40 tokens)`, { skip: !b }, async () => {
        for (const t of [1, 40]) {
          const { fused, apart, x } = quantizedBlocks(b!, format, format, t);
          assert.ok(fused.sharedFused, `${format}: fused`);
          assert.equal(fused.sharedFused.experts.weights.gateUp!.dtype, format);
          assert.equal(fused.sharedFused.experts.weights.down.dtype, format);
          const got = (await (await fused.forward(x)).data()) as Float32Array;
          const want = (await (await apart.forward(x)).data()) as Float32Array;
          // the same products on the same (int8) inputs, summed in another order
          assertClose(got, want, 1e-5, `${name} ${format} T=${t}`);
        }
      });
    }
  }

  it("keeps the shared MLP apart for a shared expert in another format than the routed ones (q4_k_m's K-quant shared down)", () => {
    assert.equal(quantizedBlocks(referenceBackend, "q4_0", "q8_0", 2).fused.sharedFused, undefined, "q4_0 routed, q8_0 shared");
    assert.equal(quantizedBlocks(referenceBackend, "q8_0", "q4_0", 2).fused.sharedFused, undefined, "q8_0 routed, q4_0 shared");
    // q4_k_m's layout at the real model's widths (I = 1408 = 5.5 · 256): routed down rows of I fall back to q5_0 while the
    // shared down's rows of W = 4·I stay q4_k, whose 256-blocks do not divide I. Here I = 128, W = 256, hidden 256.
    const r = rng(3);
    const ex = randomExperts(5, { t: 2, h: 256, i: 128, e: 2, k: 1 });
    const routed = new Experts({ ...ex.weights, gateUp: quantizeTensor(ex.weights.gateUp!, "q4_k", "w"), down: quantizeTensor(ex.weights.down, "q5_0", "w") }, { backend: referenceBackend });
    const mlp = new GatedMlp(quantizeTensor(randomTensor(r, [512, 256], 0.3), "q4_k", "w"), quantizeTensor(randomTensor(r, [256, 256], 0.3), "q4_k", "w"), "silu");
    const router = new Router({ kind: "softmaxTopK", k: 1, normTopkProb: false }, { weight: randomTensor(r, [2, 256], 0.5) }, referenceBackend);
    assert.equal(new SparseMoeBlock(router, routed, { mlp }, referenceBackend).sharedFused, undefined, "q4_k shared down beside q5_0 routed down");
  });
});

describe("shared expert inside the routed experts' pass", () => {
  const backends: [string, Backend, "float32" | "bfloat16"][] = [["reference", referenceBackend, "float32"], ...(cpu ? [["cpu bf16", cpu, "bfloat16"] as [string, Backend, "float32" | "bfloat16"]] : [])];
  for (const [name, b, dtype] of backends) {
    for (const [chunks, gated] of [[1, false], [3, true]] as const) {
      it(`${name}: a shared MLP of ${chunks}·I columns${gated ? " with a sigmoid gate" : ""} gives the block's output as run apart`, async () => {
        const { fused, apart, x } = blocks(b, chunks, { gated, dtype });
        assert.ok(fused.sharedFused, "fused");
        assert.equal(fused.sharedFused.count, chunks);
        assert.equal(fused.sharedFused.experts.numExperts, E + chunks);
        assert.equal(apart.sharedFused, undefined);
        for (const impl of ["eager", "grouped_mm"]) {
          fused.experts.implementation = impl;
          apart.experts.implementation = impl;
          const got = (await (await fused.forward(x)).data()) as Float32Array;
          const want = (await (await apart.forward(x)).data()) as Float32Array;
          assert.equal(fused.sharedFused.experts.implementation, impl, "the extended experts follow the block's implementation");
          // bf16 compute rounds the shared output once per chunk instead of once
          assertClose(got, want, dtype === "float32" ? 1e-5 : 1e-2, `${name} ${impl}`);
        }
      });
    }
  }

  it("keeps the shared MLP apart where the layouts do not allow it", () => {
    assert.equal(blocks(referenceBackend, 2, { average: true }).fused.sharedFused, undefined, "averaged with the routed output (cohere2_moe)");
    const { fused } = blocks(referenceBackend, 1);
    const s = fused.shared!;
    const odd = new GatedMlp(rowView([randomTensor(rng(1), [24, H]), randomTensor(rng(2), [24, H])], "float32", [48, H]), randomTensor(rng(3), [H, 24]), "silu");
    assert.equal(new SparseMoeBlock(fused.router, fused.experts, { ...s, mlp: odd }, referenceBackend).sharedFused, undefined, "width not a multiple of the expert width");
    const gelu = new GatedMlp(s.mlp.gateUp, s.mlp.down, "gelu");
    assert.equal(new SparseMoeBlock(fused.router, fused.experts, { ...s, mlp: gelu }, referenceBackend).sharedFused, undefined, "another activation");
    const bf16 = new GatedMlp(referenceBackend.cast(s.mlp.gateUp, "bfloat16"), s.mlp.down, "silu");
    assert.equal(new SparseMoeBlock(fused.router, fused.experts, { ...s, mlp: bf16 }, referenceBackend).sharedFused, undefined, "another format");
    assert.equal(new SparseMoeBlock(fused.router, fused.experts, s, referenceBackend, { call: { identityExperts: 2 } }).sharedFused, undefined, "identity experts");
  });

  it("rowSegments: rows of a contiguous tensor or of a view, without copying", () => {
    const a = Tensor.from(Float32Array.from({ length: 12 }, (_, i) => i), [4, 3]);
    assert.deepEqual(rowSegments(a, 1, 2).map((s) => [s.byteOffset, s.rows]), [[12, 2]]);
    const v = rowView([a, Tensor.from(Float32Array.from({ length: 6 }, (_, i) => 100 + i), [2, 3])], "float32", [6, 3]);
    const segs = rowSegments(v, 3, 2);
    assert.deepEqual(segs.map((s) => [s.byteOffset, s.rows]), [[36, 1], [0, 1]]);
    assert.equal(segs[0]!.data, a.storage);
    assert.throws(() => rowSegments(a, 3, 2), /rows \[3, 5\) are outside the 4 rows/);
  });
});
