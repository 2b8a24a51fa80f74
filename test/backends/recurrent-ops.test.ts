/**
 * The recurrent-layer ops (causalConv1d, gatedDeltaRule) on the reference and cpu backends: small
 * hand-computed cases, a call split in two with the state carried equals one call, padding tokens are
 * skipped (equal to the row without them), and bad arguments are refused naming what is wrong.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend, DeltaRuleSpec } from "../../src/backends/backend.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { Tensor } from "../../src/tensor.js";
import { expectTensorClose } from "../helpers/assert-close.js";
import { randomTensor, rng } from "../helpers/random.js";

const f = (v: number[], shape: number[]) => Tensor.from(Float32Array.from(v), shape);
const data = async (t: Tensor) => Array.from(await t.data()).map((x) => Math.round(x * 1e6) / 1e6);

/** Columns [from, to) of axis 1. */
function cols(b: Backend, t: Tensor, from: number, to: number): Tensor {
  return b.slice(b.adopt(t), 1, from, to - from);
}

/** Row r of a [B, S, ...] tensor with the tokens at `drop` removed, as [1, S − |drop|, ...]. */
async function rowWithout(t: Tensor, r: number, drop: number[]): Promise<Tensor> {
  const [, s, ...rest] = t.shape as number[];
  const inner = rest.reduce((a, x) => a * x, 1);
  const v = (await t.data()) as Float32Array;
  const keep: number[] = [];
  for (let i = 0; i < s!; i++) if (!drop.includes(i)) keep.push(...v.subarray((r * s! + i) * inner, (r * s! + i + 1) * inner));
  return f(keep, [1, s! - drop.length, ...rest]);
}

async function backends(): Promise<[string, Backend][]> {
  const out: [string, Backend][] = [["reference", referenceBackend]];
  const { cpuBackendAvailable, createCpuBackend } = await import("../../src/backends/cpu/index.js");
  // without the addon the cpu suite reports it; these ops then run on the reference only
  if (cpuBackendAvailable()) out.push(["cpu", createCpuBackend()]);
  return out;
}

for (const [name, b] of await backends()) {
  describe(`${name}: causalConv1d`, () => {
    it("computes a hand-checked case and returns the last Kw − 1 inputs as state", async () => {
      const { out, state } = b.causalConv1d(f([1, 2, 3], [1, 3, 1]), f([0.5, 1], [1, 2]));
      assert.deepEqual(await data(out), [1, 2.5, 4]);
      assert.deepEqual(await data(state), [3]);
      const withState = b.causalConv1d(f([1], [1, 1, 1]), f([0.5, 1], [1, 2]), { state: f([3], [1, 1, 1]), bias: f([10], [1]), act: "relu" });
      assert.deepEqual(await data(withState.out), [12.5]);
    });

    it("two calls with the state carried equal one call; padding tokens are skipped", async () => {
      const r = rng(3);
      const x = randomTensor(r, [2, 7, 5]);
      const w = randomTensor(r, [5, 4]);
      const bias = randomTensor(r, [5]);
      const whole = b.causalConv1d(b.adopt(x), b.adopt(w), { bias: b.adopt(bias), act: "silu" });
      const first = b.causalConv1d(cols(b, x, 0, 3), b.adopt(w), { bias: b.adopt(bias), act: "silu" });
      const second = b.causalConv1d(cols(b, x, 3, 7), b.adopt(w), { bias: b.adopt(bias), act: "silu", state: first.state });
      await expectTensorClose(b.concat([first.out, second.out], 1), whole.out, 1e-6, "split outputs");
      await expectTensorClose(second.state, whole.state, 0, "split state");

      const mask = Tensor.from(Int32Array.from([0, 0, 1, 1, 0, 1, 1, /* row 1 */ 1, 1, 1, 1, 1, 1, 1]), [2, 7]);
      const masked = b.causalConv1d(b.adopt(x), b.adopt(w), { bias: b.adopt(bias), act: "silu", tokenMask: b.adopt(mask) });
      const alone = b.causalConv1d(b.adopt(await rowWithout(x, 0, [0, 1, 4])), b.adopt(w), { bias: b.adopt(bias), act: "silu" });
      await expectTensorClose(await rowWithout(b.slice(masked.out, 0, 0, 1), 0, [0, 1, 4]), alone.out, 1e-6, "masked row");
      await expectTensorClose(b.slice(masked.state, 0, 0, 1), alone.state, 0, "masked row state");
      assert.deepEqual((await data(masked.out)).slice(0, 10), new Array(10).fill(0), "padding outputs 0");
    });

    it("refuses bad arguments", () => {
      const x = f(new Array(6).fill(1), [1, 3, 2]);
      assert.throws(() => b.causalConv1d(x, f([1, 1], [1, 2])), /causalConv1d: weight \[1, 2\] must have one row per channel/);
      assert.throws(() => b.causalConv1d(x, f([1, 1, 1, 1], [2, 2]), { state: f([1, 1, 1, 1], [1, 2, 2]) }), /causalConv1d: state must have shape \[1, 1, 2\]/);
      assert.throws(() => b.causalConv1d(x, f([1, 1, 1, 1], [2, 2]), { tokenMask: Tensor.from(Int32Array.from([1, 2, 1]), [1, 3]) }), /tokenMask values must be 0 or 1/);
      assert.throws(() => b.causalConv1d(x, f([1, 1, 1, 1], [2, 2]), { act: "nope" as never }), /causalConv1d: unknown activation 'nope'/);
    });
  });

  describe(`${name}: gatedDeltaRule`, () => {
    const one = (v: number) => f([v], [1]);
    it("computes a hand-checked case (decay ½, beta ½)", async () => {
      // g = −1 · softplus(0) = −ln 2: the state halves each token before the update.
      const spec: DeltaRuleSpec = { gate: { a: f([0, 0], [1, 2, 1]), scale: one(-1), bias: one(0) } };
      const { out, state } = b.gatedDeltaRule(f([1, 2], [1, 2, 1, 1]), f([1, 1], [1, 2, 1, 1]), f([2, 2], [1, 2, 1, 1]), f([0.5, 0.5], [1, 2, 1]), spec);
      assert.deepEqual(await data(out), [1, 2.5]);
      assert.deepEqual(await data(state), [1.25]);
    });

    it("a per-channel gate decays each key row on its own", async () => {
      // Dk 2, Dv 1, k = (1, 0) then (0, 1): row 0 decays by e^{g0} at token 1 only.
      const a = f([0, 0, 0, 0], [1, 2, 1, 2]);
      const spec: DeltaRuleSpec = { gate: { a, scale: one(-1), bias: f([0, 100], [2]) }, state: f([4, 4], [1, 1, 2, 1]) };
      const { state } = b.gatedDeltaRule(f([0, 0, 0, 0], [1, 2, 1, 2]), f([1, 0, 0, 1], [1, 2, 1, 2]), f([0, 0], [1, 2, 1, 1]), f([1, 1], [1, 2, 1]), spec);
      // token 0: S = (2, 4·e^-100 ≈ 0); S0 -= 2 → 0 (beta 1, v 0). token 1: S0 = 0, S1 ≈ 0.
      assert.deepEqual(await data(state), [0, 0]);
    });

    for (const perChannel of [false, true]) {
      it(`two calls with the state carried equal one call; padding is skipped (${perChannel ? "per-channel" : "per-head"} gate)`, async () => {
        const r = rng(perChannel ? 5 : 4);
        const [B, S, H, Dk, Dv] = [2, 6, 3, 4, 5];
        const q = randomTensor(r, [B, S, H, Dk]);
        const k = randomTensor(r, [B, S, H, Dk], 0.5);
        const v = randomTensor(r, [B, S, H, Dv]);
        const beta = randomTensor(r, [B, S, H], 0.5);
        const a = randomTensor(r, perChannel ? [B, S, H, Dk] : [B, S, H]);
        const scale = randomTensor(r, [H]);
        const bias = randomTensor(r, [perChannel ? H * Dk : H]);
        const gate = (from: number, to: number) => ({ a: cols(b, a, from, to), scale: b.adopt(scale), bias: b.adopt(bias) });
        const run = (from: number, to: number, state?: Tensor) =>
          b.gatedDeltaRule(cols(b, q, from, to), cols(b, k, from, to), cols(b, v, from, to), cols(b, beta, from, to), { gate: gate(from, to), state });
        const whole = run(0, S);
        const first = run(0, 2);
        const second = run(2, S, first.state);
        await expectTensorClose(b.concat([first.out, second.out], 1), whole.out, 1e-6, "split outputs");
        await expectTensorClose(second.state, whole.state, 1e-6, "split state");

        const mask = Tensor.from(Int32Array.from([1, 1, 1, 1, 1, 1, /* row 1 */ 0, 0, 1, 0, 1, 1]), [B, S]);
        const masked = b.gatedDeltaRule(b.adopt(q), b.adopt(k), b.adopt(v), b.adopt(beta), { gate: gate(0, S), tokenMask: b.adopt(mask) });
        const drop = [0, 1, 3];
        const alone = b.gatedDeltaRule(
          b.adopt(await rowWithout(q, 1, drop)),
          b.adopt(await rowWithout(k, 1, drop)),
          b.adopt(await rowWithout(v, 1, drop)),
          b.adopt(await rowWithout(beta, 1, drop)),
          { gate: { a: b.adopt(await rowWithout(a, 1, drop)), scale: b.adopt(scale), bias: b.adopt(bias) } },
        );
        await expectTensorClose(await rowWithout(b.slice(masked.out, 0, 1, 1), 0, drop), alone.out, 1e-6, "masked row");
        await expectTensorClose(b.slice(masked.state, 0, 1, 1), alone.state, 1e-6, "masked row state");
        await expectTensorClose(b.slice(masked.out, 0, 0, 1), b.slice(whole.out, 0, 0, 1), 1e-6, "unmasked row");
      });
    }

    it("refuses bad arguments", () => {
      const x = f(new Array(4).fill(1), [1, 2, 1, 2]);
      const beta = f([1, 1], [1, 2, 1]);
      const gate = { a: f([0, 0], [1, 2, 1]), scale: one(-1), bias: one(0) };
      assert.throws(() => b.gatedDeltaRule(x, f([1, 1], [1, 2, 1, 1]), x, beta, { gate }), /gatedDeltaRule: k must have shape \[1, 2, 1, 2\]/);
      assert.throws(() => b.gatedDeltaRule(x, x, x, f([1, 1, 1], [1, 3, 1]), { gate }), /beta must have shape \[1, 2, 1\]/);
      assert.throws(() => b.gatedDeltaRule(x, x, x, beta, { gate: { ...gate, scale: f([1, 1], [2]) } }), /gate.scale \[2\] must have 1 entries/);
      assert.throws(() => b.gatedDeltaRule(x, x, x, beta, { gate: { ...gate, a: f([0, 0, 0], [1, 3, 1]) } }), /gate.a must have shape \[1, 2, 1\]/);
      assert.throws(() => b.gatedDeltaRule(x, x, x, beta, { gate, state: f([0], [1, 1, 1, 1]) }), /state must have shape \[1, 1, 2, 2\]/);
      assert.throws(() => b.gatedDeltaRule(x, x, x, beta, {} as DeltaRuleSpec), /spec must be an object with a gate/);
    });
  });
}
