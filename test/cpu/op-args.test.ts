/** One argument layer (src/backends/op-args): the reference and cpu backends reject bad calls with the same message. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Backend, RoutingSpec } from "../../src/backends/backend.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { Tensor } from "../../src/tensor.js";
import { cpu, randTensor, rng } from "./helpers.js";

test("reference and cpu throw the same message for each bad call", () => {
  const r = rng(8);
  const x = randTensor(r, [4, 8]);
  const w = randTensor(r, [3, 6, 8]);
  const logits = randTensor(r, [2, 4]);
  const i32 = (v: number[]) => Tensor.from(Int32Array.from(v), [v.length]);
  const cases: [string, (b: Backend) => unknown, RegExp][] = [
    ["unknown scoring", (b) => b.route(logits, { k: 2, scoring: "sparsemixer", weights: "scores" } as unknown as RoutingSpec), /route: unknown scoring 'sparsemixer'/],
    ["gap-masked k", (b) => b.route(logits, { k: 3, scoring: "gapMaskedSoftmax", weights: "scores" }), /gapMaskedSoftmax routes exactly 2 experts/],
    ["groups", (b) => b.route(logits, { k: 1, scoring: "softmax", weights: "scores", groups: { count: 3, keep: 1, score: "max", fill: 0 } }), /4 experts cannot form 3 groups/],
    ["int weight", (b) => b.linear(x, Tensor.from(new Int32Array(48), [6, 8])), /linear: weight must be a float tensor, got int32/],
    ["bias dtype", (b) => b.gatheredLinear(x, w, i32([0, 1, 2, 0]), { bias: Tensor.from(new Int32Array(18), [3, 6]) }), /gatheredLinear: bias must be a float tensor/],
    ["rowsPerInput", (b) => b.gatheredLinear(x, w, i32([0, 1, 2, 0]), { rowsPerInput: 1.5 }), /rowsPerInput must be a positive integer/],
    ["activation", (b) => b.activate(x, "swoosh" as "silu"), /activate: unknown activation 'swoosh'/],
    ["cast", (b) => b.cast(x, "int32"), /cast: only float dtypes can be cast, got float32 → int32/],
    ["broadcast", (b) => b.add(x, randTensor(r, [3])), /add: cannot broadcast \[3\] to \[4, 8\]/],
    ["norm rank", (b) => b.rmsNorm(Tensor.from(new Float32Array(1), []), undefined, 1e-6), /rmsNorm: x must have at least one dim/],
    ["rope style", (b) => b.rope(randTensor(r, [2, 1, 4]), randTensor(r, [2, 2]), randTensor(r, [2, 2]), { style: "spiral" as "halfSplit" }), /rope: unknown rotary style 'spiral'/],
    ["slice", (b) => b.slice(x, 1, 6, 3), /slice: \[6, 9\) is outside \[0, 8\) on axis 1/],
    ["concat", (b) => b.concat([x, randTensor(r, [4, 7])], 0), /concat: \[4, 7\] does not match \[4, 8\] outside axis 0/],
    ["argmax", (b) => b.argmax(randTensor(r, [2, 0])), /argmax: the last dim is empty/],
  ];
  for (const [name, call, pattern] of cases) {
    let want = "";
    assert.throws(() => call(ref), (e: Error) => ((want = e.message), pattern.test(e.message)), `${name} (reference)`);
    assert.throws(() => call(cpu()), (e: Error) => e.message === want, `${name} (cpu): same message`);
  }
});
