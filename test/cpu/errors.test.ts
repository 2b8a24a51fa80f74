/** Invalid arguments are rejected with clear errors, in TS and again by the addon itself. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Tensor } from "../../src/tensor.js";
import { cpu, nativeW, randTensor, rng } from "./helpers.js";

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
  const lin = { x: f(32), m: 4, k: 8, n: 6, w: nativeW(f(48), 6, 8), y: f(24) };
  n.linear(lin);
  // Buffers too small for the dims claimed, descriptors that lie.
  assert.throws(() => n.linear({ ...lin, x: f(10) }), /native linear: x has 10 elements, needs 32/);
  assert.throws(() => n.linear({ ...lin, w: nativeW(f(47), 6, 8) }), /native linear: w.segments\[0\]: 6 rows of 32 bytes from byte 0 run past its 188-byte buffer/);
  assert.throws(() => n.linear({ ...lin, w: nativeW(f(48), 6, 8, 0, 8) }), /run past its 192-byte buffer/);
  assert.throws(() => n.linear({ ...lin, w: nativeW(f(48), 5, 8) }), /native linear: w has 5 rows, needs 6/);
  assert.throws(() => n.linear({ ...lin, w: nativeW(f(48), 6, 8, 11) }), /w.format = 11 is not a weight format/);
  assert.throws(() => n.linear({ ...lin, w: nativeW(f(48), 6, 8, 7) }), /w: a row of 8 q4_k values is not whole blocks/);
  assert.throws(() => n.linear({ ...lin, w: nativeW(f(48), 6, 8, 3) }), /w.format = 3 is not a weight format/);
  assert.throws(() => n.linear({ ...lin, w: { ...nativeW(f(48), 6, 8), segments: [{ data: f(24), byteOffset: 0, rows: 3 }] } }), /segments hold 3 rows, the descriptor says 6/);
  assert.throws(() => n.linear({ ...lin, y: f(23) }), /native linear: y has 23 elements, needs 24/);
  assert.throws(() => n.linear({ ...lin, m: -1 }), /native linear: m = -1/);
  assert.throws(() => n.linear({ ...lin, expert: 1 }), /expert = 1 outside \[0, 0\]/);
  assert.throws(() => n.linear({ ...lin, x: [1, 2] as unknown as Float32Array }), /native linear: x must be a Float32Array/);
  assert.throws(() => (n.linear as unknown as (...a: unknown[]) => void)(f(32), 4, 8), /native linear: expects one descriptor object/);
  // Bad indices.
  const g = { x: f(32), r: 4, k: 8, n: 6, experts: 3, w: nativeW(f(144), 18, 8), offsets: Int32Array.from([0, 2, 2, 4]), y: f(24) };
  n.groupedLinear(g);
  assert.throws(() => n.groupedLinear({ ...g, rowIndex: Int32Array.from([0, 1, 2, 99]) }), /rowIndex 99 outside/);
  assert.throws(() => n.groupedLinear({ ...g, offsets: Int32Array.from([0, 3, 2, 4]) }), /non-decreasing/);
  assert.throws(() => n.groupedLinear({ ...g, offsets: Int32Array.from([0, 2]) }), /offsets has 2 elements, needs 4/);
  assert.throws(() => n.groupedLinear({ ...g, experts: 4 }), /w has 18 rows, needs 24/);
  const ga = { x: f(32), r: 4, k: 8, n: 6, experts: 3, w: nativeW(f(144), 18, 8), ids: Int32Array.from([0, 1, 2, 0]), y: f(24) };
  n.gatheredLinear(ga);
  assert.throws(() => n.gatheredLinear({ ...ga, ids: Int32Array.from([0, 1, -5, 0]) }), /expert id -5 at slot 2/);
  assert.throws(() => n.combineSlots({ y: f(24), r: 6, h: 4, weights: f(6), t: 3, k: 2, slotRow: Int32Array.from([0, 1, 2, 3, 4, 1000]), out: f(12) }), /slotRow 1000 outside/);
  const sort = (ids: number[], order = 2) => n.sortByExpert({ ids: Int32Array.from(ids), experts: 4, order: new Int32Array(order), position: new Int32Array(2), offsets: new Int32Array(5) });
  assert.throws(() => sort([0, 7]), /expert id 7/);
  assert.throws(() => sort([0, 1], 1), /order has 1 elements, needs 2/);
  assert.throws(() => n.gatherRows({ x: f(24), r: 6, h: 4, rows: Int32Array.from([6]), out: f(4) }), /row 6 outside/);
  assert.throws(() => n.accumulateRows({ out: f(8), t: 2, h: 4, y: f(4), rows: Int32Array.from([-1]), weights: f(1) }), /row -1 outside/);
  assert.throws(() => n.gate({ p: f(10), s: 2, width: 5, kind: 0, act: 0, out: f(4) }), /even width/);
  assert.throws(() => n.gate({ p: f(8), s: 2, width: 4, kind: 0, act: 0, out: f(3) }), /out has 3 elements, needs 4/);
});

test("native entries are safe on their own: sizes that overflow 64 bits or lie about their buffers are a clean RangeError", () => {
  const n = cpu().native;
  const f = (len: number) => new Float32Array(len);
  // issue 11: E·N·K = 2^22 · 2^21 · 2^21 = 2^64 wrapped to 0 and read out of bounds. Now every product is checked.
  const huge = { format: 0, rows: 2 ** 43, cols: 2 ** 21, segments: [{ data: f(16), byteOffset: 0, rows: 2 ** 43 }] };
  const gathered = { x: f(16), r: 1, k: 2 ** 21, n: 2 ** 21, experts: 2 ** 22, w: huge, ids: Int32Array.from([0]), y: f(16) };
  assert.throws(() => n.gatheredLinear(gathered), RangeError);
  assert.throws(() => n.gatheredLinear({ ...gathered, x: f(2 ** 21) }), /native gatheredLinear: w.segments\[0\]: 8796093022208 rows of 8388608 bytes from byte 0 run past its 64-byte buffer/);
  assert.throws(() => n.groupedLinear({ ...gathered, x: f(2 ** 21), offsets: new Int32Array(2 ** 22 + 1) }), /run past its 64-byte buffer/);
  assert.throws(() => n.linear({ x: f(2 ** 21), m: 1, k: 2 ** 21, n: 2 ** 21, experts: 2 ** 22, w: huge, y: f(16) }), /run past its 64-byte buffer/);
  // dims whose product overflows size_t before any buffer is read
  assert.throws(() => n.linear({ x: f(16), m: 2 ** 31 - 1, k: 2 ** 31 - 1, n: 1, w: nativeW(f(16), 1, 16), y: f(16) }), /x has 16 elements, needs 4611686014132420609/);
  assert.throws(() => n.attention({ q: f(16), k: f(16), v: f(16), b: 2 ** 31 - 1, sq: 2 ** 31 - 1, skv: 2 ** 31 - 1, hq: 2 ** 31 - 1, hkv: 1, dk: 2 ** 31 - 1, dv: 1, scale: 1, causal: 1, offset: 0, window: 0, out: f(16) }), /q size overflows/);
  // segments that claim more rows than their buffer holds, or offsets past it
  const seg = (byteOffset: number, rows: number) => ({ format: 1, rows, cols: 4, segments: [{ data: new Uint16Array(8), byteOffset, rows }] });
  assert.throws(() => n.embedding({ table: seg(0, 3), ids: Int32Array.from([2]), out: f(4) }), /3 rows of 8 bytes from byte 0 run past its 16-byte buffer/);
  assert.throws(() => n.embedding({ table: seg(2 ** 53, 1), ids: Int32Array.from([0]), out: f(4) }), /run past its 16-byte buffer/);
  assert.throws(() => n.embedding({ table: seg(0, 2 ** 53 + 2), ids: Int32Array.from([0]), out: f(4) }), /rows = .* outside/);
  assert.throws(() => n.fusedExperts({ x: f(8), t: 1, h: 8, topk: 1, ids: Int32Array.from([0]), weights: f(1), experts: 2 ** 31 - 1, inter: 2 ** 31 - 1, gateUp: huge, down: huge, gateKind: 0, act: 0, out: f(8) }), RangeError);
  n.embedding({ table: seg(0, 2), ids: Int32Array.from([1]), out: f(4) });
});
