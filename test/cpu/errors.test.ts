/** Invalid arguments are rejected with clear errors, in TS and again by the addon itself. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Tensor } from "../../src/tensor.js";
import { cpu, randTensor, rng } from "./helpers.js";

const r = rng(3);
const x = randTensor(r, [4, 8]);
const w = randTensor(r, [3, 6, 8]);
const w2 = randTensor(r, [6, 8]);
const i32 = (v: number[]) => Tensor.from(Int32Array.from(v), [v.length]);

test("the backend is named cpu and reports its instruction set and threads", () => {
  const b = cpu();
  assert.equal(b.name, "cpu");
  assert.ok(["avx512bf16", "avx512", "avx2", "scalar"].includes(b.isa));
  b.setThreads(3);
  assert.equal(b.threads, 3);
  assert.throws(() => b.setThreads(0), /threads must be an integer in \[1, 255\]/);
  assert.throws(() => b.setIsa("sse9" as "avx2"), /not supported/);
});

test("products reject bad shapes, dtypes, experts and indices", () => {
  const b = cpu();
  assert.throws(() => b.linear(randTensor(r, [4, 7]), w2), /linear: input \[4, 7\] has 7 features but weight \[6, 8\] expects 8/);
  assert.throws(() => b.linear(x, w, { expert: 3 }), /linear: expert 3 outside \[0, 3\)/);
  assert.throws(() => b.linear(x, w, { expert: 1.5 }), /linear: expert 1.5 outside/);
  assert.throws(() => b.linear(x, w2, { bias: randTensor(r, [5]) }), /linear: bias must have shape \[6\], got \[5\]/);
  assert.throws(() => b.linear(x, Tensor.from(new Int32Array(48), [6, 8])), /linear: weight must be a float tensor, got int32/);
  assert.throws(() => b.linear(Tensor.from(new Int32Array(32), [4, 8]), w2), /linear: input must be a float tensor/);
  const off = i32([0, 2, 2, 4]);
  assert.throws(() => b.groupedLinear(x, w, i32([0, 2, 4])), /groupedLinear: offsets must have 4 entries/);
  assert.throws(() => b.groupedLinear(x, w, i32([0, 3, 2, 4])), /groupedLinear: offsets must be non-decreasing/);
  assert.throws(() => b.groupedLinear(x, w, i32([0, 2, 2, 5])), /groupedLinear: offsets must run from 0 to 4/);
  assert.throws(() => b.groupedLinear(x, w, off, { rowIndex: i32([0, 1, 2, 9]) }), /groupedLinear: rowIndex 9 outside \[0, 4\)/);
  assert.throws(() => b.groupedLinear(x, w, off, { rowIndex: i32([0, 1, 2, -1]) }), /groupedLinear: rowIndex -1 outside/);
  assert.throws(() => b.groupedLinear(x, w, off, { rowsPerInput: 0 }), /rowsPerInput must be a positive integer/);
  assert.throws(() => b.gatheredLinear(x, w, i32([0, 1, 3, 0])), /gatheredLinear: expert id 3 at slot 2 outside \[0, 3\)/);
  assert.throws(() => b.gatheredLinear(x, w, i32([0, 1, 2])), /gatheredLinear: 3 ids for 4 input rows × 1 slots/);
  assert.throws(() => b.gatheredLinear(x, w, i32([0, 1, 2, 0]), { bias: randTensor(r, [3, 5]) }), /gatheredLinear: bias must have shape \[3, 6\]/);
});

test("gates and slot ops reject bad arguments", () => {
  const b = cpu();
  assert.throws(() => b.gate(randTensor(r, [2, 5]), { kind: "concatenated", act: "silu" }), /gate: a gated projection needs an even width/);
  assert.throws(() => b.gate(randTensor(r, [2, 4]), { kind: "concatenated", act: "swoosh" as "silu" }), /gate: unknown activation 'swoosh'/);
  assert.throws(() => b.gate(randTensor(r, [8]), { kind: "none", act: "silu" }), /gate: projection must have rank 2/);
  const y = randTensor(r, [6, 4]);
  const wt = randTensor(r, [3, 2]);
  assert.throws(() => b.combineSlots(randTensor(r, [5, 4]), wt), /combineSlots: y has 5 rows for 3×2 slots/);
  assert.throws(() => b.combineSlots(y, wt, i32([0, 1, 2, 3, 4, 6])), /combineSlots: slotRow 6 outside \[0, 6\)/);
  assert.throws(() => b.combineSlots(y, wt, i32([0, 1])), /combineSlots: slotRow has 2 entries for 3×2 slots/);
  assert.throws(() => b.sortByExpert(i32([0, 4]), 4), /sortByExpert: expert id 4 at slot 1 outside \[0, 4\)/);
  assert.throws(() => b.sortByExpert(i32([0]), 0), /sortByExpert: numExperts must be a positive integer/);
  assert.throws(() => b.sortByExpert(randTensor(r, [2]), 2), /sortByExpert: ids must be int32/);
  assert.throws(() => b.gatherRows(y, i32([6])), /gatherRows: row 6 outside \[0, 6\)/);
  const out = b.zeros([2, 4]);
  assert.throws(() => b.accumulateRows(out, y, i32([0, 1, 0, 1, 0, 2]), randTensor(r, [6])), /accumulateRows: row 2 outside \[0, 2\)/);
  assert.throws(() => b.accumulateRows(b.zeros([2, 4], "bfloat16"), y, i32([0]), randTensor(r, [1])), /accumulateRows: out must be float32/);
});

test("the addon re-checks sizes and indices itself (no crash, no out-of-bounds access)", () => {
  const n = cpu().native;
  const f = (len: number) => new Float32Array(len);
  // Buffers too small for the dims claimed.
  assert.throws(() => n.linear(f(10), 4, 8, f(48), 0, 0, 6, null, 0, 0, f(24)), /native linear: x has 10 elements, needs 32/);
  assert.throws(() => n.linear(f(32), 4, 8, f(47), 0, 0, 6, null, 0, 0, f(24)), /native linear: weight has 47 elements, needs 48/);
  assert.throws(() => n.linear(f(32), 4, 8, f(48), 0, 8, 6, null, 0, 0, f(24)), /native linear: weight has 48 elements, needs 56/);
  assert.throws(() => n.linear(f(32), 4, 8, f(48), 1, 0, 6, null, 0, 0, f(24)), /16-bit weight must be a Uint16Array/);
  assert.throws(() => n.linear(f(32), 4, 8, f(48), 0, 0, 6, null, 0, 0, f(23)), /native linear: y has 23 elements, needs 24/);
  assert.throws(() => n.linear(f(32), -1, 8, f(48), 0, 0, 6, null, 0, 0, f(24)), /native linear: M = -1/);
  assert.throws(() => n.linear(f(32), 4, 8, f(48), 7, 0, 6, null, 0, 0, f(24)), /weight dtype = 7/);
  assert.throws(() => n.linear([1, 2] as unknown as Float32Array, 1, 2, f(2), 0, 0, 1, null, 0, 0, f(1)), /native linear: x must be a typed array/);
  // Bad indices.
  const off = Int32Array.from([0, 2, 2, 4]);
  assert.throws(() => n.groupedLinear(f(32), 4, 8, f(144), 0, 3, 6, off, Int32Array.from([0, 1, 2, 99]), 1, null, 0, f(24)), /rowIndex 99 outside/);
  assert.throws(() => n.groupedLinear(f(32), 4, 8, f(144), 0, 3, 6, Int32Array.from([0, 3, 2, 4]), null, 1, null, 0, f(24)), /non-decreasing/);
  assert.throws(() => n.groupedLinear(f(32), 4, 8, f(144), 0, 3, 6, Int32Array.from([0, 2]), null, 1, null, 0, f(24)), /offsets has 2 elements, needs 4/);
  assert.throws(() => n.gatheredLinear(f(32), 4, 8, f(144), 0, 3, 6, Int32Array.from([0, 1, -5, 0]), 1, null, 0, f(24)), /expert id -5 at slot 2/);
  assert.throws(() => n.combineSlots(f(24), 6, 4, f(6), 3, 2, Int32Array.from([0, 1, 2, 3, 4, 1000]), f(12)), /slotRow 1000 outside/);
  assert.throws(() => n.sortByExpert(Int32Array.from([0, 7]), 4, new Int32Array(2), new Int32Array(2), new Int32Array(5)), /expert id 7/);
  assert.throws(() => n.sortByExpert(Int32Array.from([0, 1]), 4, new Int32Array(1), new Int32Array(2), new Int32Array(5)), /order has 1 elements, needs 2/);
  assert.throws(() => n.gatherRows(f(24), 6, 4, Int32Array.from([6]), f(4)), /row 6 outside/);
  assert.throws(() => n.accumulateRows(f(8), 2, 4, f(4), Int32Array.from([-1]), f(1)), /row -1 outside/);
  assert.throws(() => n.gate(f(10), 2, 5, 0, 0, 0, 0, 0, f(4)), /even width/);
  assert.throws(() => n.gate(f(8), 2, 4, 0, 0, 0, 0, 0, f(3)), /out has 3 elements, needs 4/);
});
