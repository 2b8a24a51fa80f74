/**
 * gpt_oss's clamped SwiGLU over a concatenated gate|up projection (gate rows then up rows, as llama.cpp's
 * separate ffn_gate_exps / ffn_up_exps stacks give it) equals the interleaved path on the same weights
 * with their rows permuted: every backend (reference, cpu with its native gate and fused layer, webgpu
 * where an adapter exists), every implementation, biases included, and with the gate|up as a view of
 * two stacks (the GGUF layout). The limit is small enough for the clamp to change the result.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Backend, GateSpec } from "../../src/backends/backend.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { Experts } from "../../src/experts/experts.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import { SegmentedStorage } from "../../src/formats/segments.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { randomExperts } from "../helpers/random.js";
import { webgpuOrSkip } from "../webgpu/setup.js";
import { optionalCpu } from "../helpers/optional-cpu.js";

const CLAMP = { alpha: 1.702, limit: 0.25 };
const INTERLEAVED: GateSpec = { kind: "interleaved", act: "silu", clampedSwiglu: CLAMP };
const CONCATENATED: GateSpec = { kind: "concatenated", act: "silu", clampedSwiglu: CLAMP };
const DIMS = { t: 9, h: 40, i: 21, e: 5, k: 2 };

/** Rows (or bias columns) of each expert's interleaved [2I, ...] gate|up as gate rows, then up rows. */
function deinterleave(src: Float32Array, e: number, i: number, per: number): { gate: Float32Array; up: Float32Array; both: Float32Array } {
  const gate = new Float32Array(e * i * per);
  const up = new Float32Array(e * i * per);
  const both = new Float32Array(e * 2 * i * per);
  for (let x = 0; x < e; x++) {
    for (let r = 0; r < i; r++) {
      const g = src.subarray((x * 2 * i + 2 * r) * per, (x * 2 * i + 2 * r + 1) * per);
      const u = src.subarray((x * 2 * i + 2 * r + 1) * per, (x * 2 * i + 2 * r + 2) * per);
      gate.set(g, (x * i + r) * per);
      up.set(u, (x * i + r) * per);
      both.set(g, (x * 2 * i + r) * per);
      both.set(u, (x * 2 * i + i + r) * per);
    }
  }
  return { gate, up, both };
}

const data = async (t: Tensor) => (await t.data()) as Float32Array;

/** The interleaved weights, and the same weights concatenated: one buffer, or a view of a gate and an up stack. */
async function layouts(seed: number) {
  const { t, h, i, e } = DIMS;
  const x = randomExperts(seed, DIMS, { gate: INTERLEAVED, bias: true });
  // scale the projection up so that many gate and up values pass the limit
  const gu = (await data(x.weights.gateUp!)).map((v) => v * 3);
  const interleaved: ExpertsWeights = { ...x.weights, gateUp: Tensor.from(gu, [e, 2 * i, h]) };
  const w = deinterleave(gu, e, i, h);
  const b = deinterleave(await data(x.weights.gateUpBias!), e, i, 1);
  const common = { ...x.weights, gate: CONCATENATED, gateUpBias: Tensor.from(b.both, [e, 2 * i]) };
  const concatenated: ExpertsWeights = { ...common, gateUp: Tensor.from(w.both, [e, 2 * i, h]) };
  const per = i * h * 4;
  const segments = [];
  for (let ex = 0; ex < e; ex++) segments.push({ data: w.gate, byteOffset: ex * per, rows: i }, { data: w.up, byteOffset: ex * per, rows: i });
  const view: ExpertsWeights = { ...common, gateUp: new Tensor([e, 2 * i, h], "float32", new SegmentedStorage(segments), null) };
  const unclamped: ExpertsWeights = { ...interleaved, gate: { kind: "interleaved", act: "silu" } };
  assert.equal(t, x.hidden.shape[0]);
  return { x, interleaved, concatenated, view, unclamped };
}

async function run(backend: Backend, w: ExpertsWeights, x: ReturnType<typeof randomExperts>, implementation: string): Promise<Float32Array> {
  const experts = new Experts(w, { backend, implementation });
  const y = await experts.forward(backend.adopt(x.hidden), x.topkIndex, x.topkWeights);
  return (await backend.read(y)) as Float32Array;
}

async function agree(backend: Backend, implementations: readonly string[], tol: number): Promise<void> {
  const { x, interleaved, concatenated, view, unclamped } = await layouts(41);
  for (const impl of implementations) {
    const want = await run(backend, interleaved, x, impl);
    assertClose(await run(backend, concatenated, x, impl), want, tol, `${backend.name} ${impl}: concatenated vs interleaved`);
    assertClose(await run(backend, view, x, impl), want, tol, `${backend.name} ${impl}: gate|up view vs interleaved`);
    const free = await run(backend, unclamped, x, impl);
    assert.ok(free.some((v, j) => Math.abs(v - want[j]!) > 1e-2), `${backend.name} ${impl}: the clamp changes the result (the test can fail)`);
  }
}

async function gateOp(backend: Backend): Promise<void> {
  const { i } = DIMS;
  const r = randomExperts(7, { ...DIMS, e: 1, h: 2 * i }).hidden; // [t, 2I] values as a projection
  const p = Float32Array.from(await data(r), (v) => v * 2);
  const rows = r.shape[0]!;
  const perm = new Float32Array(p.length);
  for (let s = 0; s < rows; s++) perm.set(deinterleave(p.subarray(s * 2 * i, (s + 1) * 2 * i), 1, i, 1).both, s * 2 * i);
  const up = (a: Float32Array) => {
    return backend.adopt(Tensor.from(a, [rows, 2 * i]));
  };
  const want = (await backend.read(backend.gate(up(p), INTERLEAVED))) as Float32Array;
  assertClose((await backend.read(backend.gate(up(perm), CONCATENATED))) as Float32Array, want, 1e-6, `${backend.name} gate op`);
}

describe("clamped SwiGLU: concatenated gate|up equals interleaved on permuted rows", () => {
  it("reference backend: gate op and eager / batched_mm / grouped_mm", async () => {
    await gateOp(referenceBackend);
    await agree(referenceBackend, ["eager", "batched_mm", "grouped_mm"], 1e-5);
  });

  it("a clamp on a non-gated projection is refused", () => {
    const p = Tensor.from(new Float32Array(8), [2, 4]);
    assert.throws(() => referenceBackend.gate(p, { kind: "none", act: "silu", clampedSwiglu: CLAMP } as unknown as GateSpec), /clampedSwiglu needs a gated projection/);
  });
});

const { cpu, why: cpuWhy } = await optionalCpu();

describe("clamped SwiGLU layouts on the cpu backend", { skip: cpu ? false : `cpu backend unavailable: ${cpuWhy}` }, () => {
  it("native gate op, and the implementations (grouped_mm: the fused layer) on every instruction set", async () => {
    const b = cpu as import("../../src/backends/cpu/index.js").CpuBackend;
    for (const isa of b.supportedIsas()) {
      b.setIsa(isa);
      await gateOp(b);
      await agree(b, ["eager", "batched_mm", "grouped_mm"], 1e-5);
    }
  });
});

const { backend: gpu, skip: gpuSkip } = await webgpuOrSkip();
describe("clamped SwiGLU layouts on the webgpu backend", { skip: gpuSkip }, () => {
  if (gpu) after(() => gpu.destroy());
  it("gate op and the implementations", async () => {
    await gateOp(gpu!);
    await agree(gpu!, ["eager", "batched_mm", "grouped_mm"], 1e-4);
  });
});
