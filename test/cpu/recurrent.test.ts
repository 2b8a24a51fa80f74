/**
 * The native recurrent kernels (native/src/recurrent/) against their float64 reference twins, on every
 * instruction set this CPU has, at the sizes of real layers (Qwen3-Next's Gated DeltaNet: Dk = Dv = 128, the
 * conv over 8192 channels split in blocks) and at odd ones (the generic Dv path, channels not a multiple of
 * a vector); decode steps (one token at a time, the state carried) equal one call over the sequence; the
 * addon refuses short buffers itself. Tolerances relative to the largest reference value: conv 1e-6,
 * delta rule 2e-5 (float32 accumulation over Dk = 128 terms, 6 tokens).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { DeltaRuleSpec } from "../../src/backends/backend.js";
import { cpuBackendAvailable, createCpuBackend, type CpuBackend } from "../../src/backends/cpu/index.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { Tensor } from "../../src/tensor.js";
import { expectTensorClose } from "../helpers/assert-close.js";
import { randomTensor, rng } from "../helpers/random.js";

const skip = cpuBackendAvailable() ? undefined : "the cpu addon is not built";
const cpu: CpuBackend | undefined = skip ? undefined : createCpuBackend();
const isas = cpu ? (cpu.native.supportedIsas().filter((i) => i !== "avx512bf16") as ("avx512" | "avx2" | "scalar")[]) : [];
const startIsa = cpu?.native.isa();
after(() => {
  if (cpu && startIsa) cpu.native.setIsa(startIsa);
});

const mask = (b: number, s: number, every: number) => Tensor.from(Int32Array.from({ length: b * s }, (_, i) => (i % every === every - 1 ? 0 : 1)), [b, s]);

function deltaCase(seed: number, [B, S, H, Dk, Dv]: number[], perChannel: boolean) {
  const r = rng(seed);
  const spec: DeltaRuleSpec = {
    gate: { a: randomTensor(r, perChannel ? [B!, S!, H!, Dk!] : [B!, S!, H!], 3), scale: randomTensor(r, [H!], 2), bias: randomTensor(r, [perChannel ? H! * Dk! : H!]) },
    state: randomTensor(r, [B!, H!, Dk!, Dv!]),
    tokenMask: mask(B!, S!, 5),
  };
  // q, k of unit-ish norm as the layers feed them (l2-normalised), v and beta as projections give them
  const qk = 1 / Math.sqrt(Dk!);
  const args = [randomTensor(r, [B!, S!, H!, Dk!], qk), randomTensor(r, [B!, S!, H!, Dk!], qk), randomTensor(r, [B!, S!, H!, Dv!]), randomTensor(r, [B!, S!, H!], 0.9)] as const;
  return { spec, args };
}

for (const isa of isas) {
  describe(`cpu recurrent kernels (${isa}) against the reference`, () => {
    it("causalConv1d: Qwen3-Next's 8192 channels × Kw 4 with SiLU, bias, state and padding; odd widths", { skip }, async () => {
      assert.ok(cpu!.native.setIsa(isa));
      for (const [B, S, C, Kw, act] of [
        [2, 5, 8192, 4, "silu"],
        [1, 1, 8192, 4, "silu"],
        [3, 7, 37, 3, "gelu"],
        [1, 4, 19, 1, "identity"],
      ] as const) {
        const r = rng(C + S);
        const x = randomTensor(r, [B, S, C]);
        const w = randomTensor(r, [C, Kw]);
        const spec = { bias: randomTensor(r, [C]), state: randomTensor(r, [B, Kw - 1, C]), act, tokenMask: mask(B, S, 3) };
        const c = cpu!.causalConv1d(x, w, spec);
        const ref = referenceBackend.causalConv1d(x, w, spec);
        await expectTensorClose(c.out, ref.out, 1e-6, `conv out [${B}, ${S}, ${C}] Kw ${Kw}`);
        await expectTensorClose(c.state, ref.state, 0, `conv state [${B}, ${S}, ${C}] Kw ${Kw}`);
      }
    });

    for (const perChannel of [false, true]) {
      it(`gatedDeltaRule: Dk = Dv = 128 (32 heads), Dv 64 and odd sizes, ${perChannel ? "per-channel (KDA)" : "per-head"} gate`, { skip }, async () => {
        assert.ok(cpu!.native.setIsa(isa));
        for (const dims of [
          [1, 6, 32, 128, 128],
          [2, 3, 4, 128, 64],
          [2, 5, 3, 24, 20],
        ]) {
          const { spec, args } = deltaCase(dims[3]! + dims[4]!, dims, perChannel);
          const c = cpu!.gatedDeltaRule(...args, spec);
          const ref = referenceBackend.gatedDeltaRule(...args, spec);
          await expectTensorClose(c.out, ref.out, 2e-5, `delta out [${dims.join(", ")}]`);
          await expectTensorClose(c.state, ref.state, 2e-5, `delta state [${dims.join(", ")}]`);
        }
      });
    }

    it("gatedDeltaRule: decode steps with the state carried equal one call over the sequence", { skip }, async () => {
      assert.ok(cpu!.native.setIsa(isa));
      const [B, S, H, Dk, Dv] = [2, 4, 8, 128, 128];
      const { spec, args } = deltaCase(77, [B, S, H, Dk, Dv], false);
      const whole = cpu!.gatedDeltaRule(...args, { gate: spec.gate, state: spec.state });
      let state = spec.state;
      const outs: Tensor[] = [];
      const col = (t: Tensor, i: number) => cpu!.slice(cpu!.adopt(t), 1, i, 1);
      for (let t = 0; t < S; t++) {
        const step = cpu!.gatedDeltaRule(col(args[0], t), col(args[1], t), col(args[2], t), col(args[3], t), { gate: { ...spec.gate, a: col(spec.gate.a, t) }, state });
        outs.push(step.out);
        state = step.state;
      }
      await expectTensorClose(cpu!.concat(outs, 1), whole.out, 1e-6, "stepped outputs");
      await expectTensorClose(state!, whole.state, 1e-6, "stepped state");
    });
  });
}

describe("cpu recurrent kernels: the addon's own checks", () => {
  it("refuses buffers shorter than the sizes say, naming the field", { skip }, () => {
    const n = cpu!.native;
    const f = (len: number) => new Float32Array(len);
    assert.throws(
      () => n.causalConv1d({ x: f(7), b: 1, s: 2, c: 4, kw: 3, weight: f(12), state: f(8), act: 0, out: f(8) }),
      /causalConv1d.*x/,
    );
    assert.throws(() => n.causalConv1d({ x: f(8), b: 1, s: 2, c: 4, kw: 3, weight: f(12), state: f(7), act: 0, out: f(8) }), /causalConv1d.*state/);
    assert.throws(() => n.causalConv1d({ x: f(8), b: 1, s: 2, c: 4, kw: 3, weight: f(12), state: f(8), act: 99, out: f(8) }), /causalConv1d.*act/);
    const d = { q: f(8), k: f(8), v: f(8), beta: f(2), b: 1, s: 2, h: 1, dk: 4, dv: 4, perChannel: 0, gateA: f(2), gateScale: f(1), gateBias: f(1), state: f(16), out: f(8) };
    assert.doesNotThrow(() => n.gatedDeltaRule(d));
    assert.throws(() => n.gatedDeltaRule({ ...d, perChannel: 1 }), /gatedDeltaRule.*gateA/);
    assert.throws(() => n.gatedDeltaRule({ ...d, state: f(15) }), /gatedDeltaRule.*state/);
    assert.throws(() => n.gatedDeltaRule({ ...d, q: new Int32Array(8) as never }), /gatedDeltaRule.*q/);
  });
});
