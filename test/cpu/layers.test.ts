/** Native model layers (attention, rmsNorm, layerNorm, softmax, rope, embedding) against the reference backend. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AttentionSpec, Backend, RopeSpec } from "../../src/backends/backend.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import type { DType } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose, type AttnDims, configs, cpu, nativeW, randInts, randTensor, rng } from "./helpers.js";

interface AttnCase extends AttnDims {
  scale?: number;
  causal?: boolean;
  queryOffset?: number;
  window?: number;
  sinks?: boolean;
  /** left padding per batch row (keyMask 0 on the first pad[b] keys), or "random", or "empty" (batch 0 fully masked). */
  mask?: number[] | "random" | "empty";
  dtype?: DType;
  amp?: number;
}

const ATTN_CASES: AttnCase[] = [
  { b: 2, sq: 5, skv: 5, hq: 4, hkv: 2, dk: 7, dv: 5 }, // prefill, odd head dims, GQA 2
  { b: 1, sq: 1, skv: 37, hq: 6, hkv: 1, dk: 64, dv: 64 }, // decode, MQA
  { b: 2, sq: 4, skv: 19, hq: 4, hkv: 4, dk: 33, dv: 17, window: 5, sinks: true, mask: [3, 0] }, // cache + window + sinks + left padding
  { b: 3, sq: 6, skv: 70, hq: 8, hkv: 2, dk: 16, dv: 40, causal: false, queryOffset: 10, mask: "random" }, // key blocks > 64, non-causal
  { b: 2, sq: 3, skv: 9, hq: 2, hkv: 1, dk: 8, dv: 3, mask: "empty", sinks: true }, // rows with no visible key → zeros
  { b: 1, sq: 40, skv: 200, hq: 4, hkv: 2, dk: 128, dv: 128, window: 50.5, sinks: true }, // multi-threaded (> 4 M), fractional window
  { b: 2, sq: 33, skv: 97, hq: 8, hkv: 2, dk: 72, dv: 40, mask: [20, 0], sinks: true }, // multi-threaded, GQA 4, padding
  { b: 1, sq: 1, skv: 130, hq: 16, hkv: 16, dk: 64, dv: 64, amp: 6, scale: 1 }, // large logits: safe online softmax
  { b: 2, sq: 7, skv: 7, hq: 6, hkv: 3, dk: 24, dv: 24, dtype: "bfloat16", window: 1 }, // bf16 inputs, window 1
  { b: 1, sq: 3, skv: 3, hq: 3, hkv: 3, dk: 1, dv: 2, causal: false, window: 100 }, // D = 1, window beyond the keys
];

function attnInputs(r: () => number, c: AttnCase): { q: Tensor; k: Tensor; v: Tensor; spec: AttentionSpec } {
  const dt = c.dtype ?? "float32";
  const amp = c.amp ?? 1;
  const q = randTensor(r, [c.b, c.sq, c.hq, c.dk], dt, amp);
  const k = randTensor(r, [c.b, c.skv, c.hkv, c.dk], dt, amp);
  const v = randTensor(r, [c.b, c.skv, c.hkv, c.dv], dt);
  const spec: AttentionSpec = { scale: c.scale ?? 1 / Math.sqrt(c.dk), causal: c.causal, queryOffset: c.queryOffset, slidingWindow: c.window };
  if (c.sinks) spec.sinks = randTensor(r, [c.hq], "float32", 2);
  if (c.mask) {
    const m = new Int32Array(c.b * c.skv).fill(1);
    for (let bi = 0; bi < c.b; bi++) {
      for (let j = 0; j < c.skv; j++) {
        if (c.mask === "random") m[bi * c.skv + j] = r() < 0.7 ? 1 : 0;
        else if (c.mask === "empty") m[bi * c.skv + j] = bi === 0 ? 0 : 1;
        else if (j < c.mask[bi]!) m[bi * c.skv + j] = 0;
      }
    }
    spec.keyMask = Tensor.from(m, [c.b, c.skv]);
  }
  return { q, k, v, spec };
}

for (const { isa, threads } of configs()) {
  test(`attention matches reference: causal, window, sinks, masks, GQA, head dims, decode (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(40 + threads);
    for (const c of ATTN_CASES) {
      const { q, k, v, spec } = attnInputs(r, c);
      const got = b.attention(q, k, v, spec);
      // Large logits (amp): float32 scores carry |s|·2⁻²⁴ absolute error into exp, the reference none.
      await assertClose(got, ref.attention(q, k, v, spec), c.amp ? 5e-5 : 2e-6, `attention ${JSON.stringify(c)}`, 1);
      if (c.mask === "empty") {
        const out = await got.data();
        const row = c.sq * c.hq * c.dv;
        assert.ok(out.subarray(0, row).every((x) => x === 0), "fully masked rows are zeros");
      }
    }
  });

  test(`decode against a cache equals the last row of the prefill (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(60 + threads);
    const { q, k, v } = attnInputs(r, { b: 1, sq: 9, skv: 9, hq: 4, hkv: 2, dk: 32, dv: 32 });
    const full = await b.attention(q, k, v, { scale: 0.3, slidingWindow: 4 }).data();
    const last = b.attention(b.slice(q, 1, 8, 1), k, v, { scale: 0.3, slidingWindow: 4 });
    const lastRow = full.subarray(8 * 4 * 32);
    const got = await last.data();
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - lastRow[i]!) <= 1e-6, `decode row ${i}: ${got[i]} vs ${lastRow[i]}`);
  });

  test(`rmsNorm, layerNorm, softmax, rope, embedding match reference (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(80 + threads);
    // [520, 2048] crosses the 1 M-element threshold of the multi-threaded row split.
    for (const shape of [[1, 2048], [3, 5, 37], [130, 1], [70, 300], [2, 16], [520, 2048]] as number[][]) {
      const d = shape[shape.length - 1]!;
      for (const dt of ["float32", "bfloat16"] as const) {
        const x = randTensor(r, shape, dt, 3);
        const w = randTensor(r, [d], dt, 2);
        const bias = randTensor(r, [d], "float32", 1);
        await assertClose(b.rmsNorm(x, w, 1e-6), ref.rmsNorm(x, w, 1e-6), 3e-6, `rmsNorm ${shape} ${dt}`, 1);
        await assertClose(b.rmsNorm(x, undefined, 1e-5), ref.rmsNorm(x, undefined, 1e-5), 3e-6, `rmsNorm no weight ${shape} ${dt}`, 1);
        await assertClose(b.layerNorm(x, w, bias, 1e-5), ref.layerNorm(x, w, bias, 1e-5), 3e-6, `layerNorm ${shape} ${dt}`, 1);
        await assertClose(b.layerNorm(x, w, undefined, 1e-5), ref.layerNorm(x, w, undefined, 1e-5), 3e-6, `layerNorm no bias ${shape} ${dt}`, 1);
        const logits = randTensor(r, shape, dt, 20);
        await assertClose(b.softmax(logits), ref.softmax(logits), 1e-6, `softmax ${shape} ${dt}`);
      }
    }
    const offset = randTensor(r, [4, 33], "float32", 1);
    const shifted = b.add(offset, Tensor.from(new Float32Array(33).fill(1000), [33]));
    const lw = randTensor(r, [33]);
    await assertClose(b.layerNorm(shifted, lw, undefined, 1e-5), ref.layerNorm(shifted, lw, undefined, 1e-5), 3e-6, "layerNorm on a large mean", 1);
    for (const spec of [{ style: "halfSplit" }, { style: "interleaved" }, { style: "halfSplit", rotaryDim: 6 }, { style: "interleaved", rotaryDim: 2 }] as RopeSpec[]) {
      for (const shape of [[2, 5, 3, 10], [1, 1, 7, 10], [1, 64, 16, 128], [3, 2, 1, 10], [1, 260, 32, 128]] as number[][]) {
        const [bb, t, , d] = shape as [number, number, number, number];
        const half = Math.min(spec.rotaryDim ?? d, d) / 2;
        const x = randTensor(r, shape);
        const cos = randTensor(r, [bb * t, half]);
        const sin = randTensor(r, [bb * t, half]);
        await assertClose(b.rope(x, cos, sin, spec), ref.rope(x, cos, sin, spec), 1e-6, `rope ${JSON.stringify(spec)} ${shape}`, 1);
      }
    }
    for (const dt of ["float32", "bfloat16", "float16"] as const) {
      const table = randTensor(r, [50, 7], dt);
      const ids = Tensor.from(randInts(r, 6, 50), [2, 3]);
      await assertClose(b.embedding(table, ids), ref.embedding(table, ids), 0, `embedding ${dt}`);
    }
  });
}

/** Both backends throw, with the same message. */
function sameError(f: (bk: Backend) => unknown, pattern: RegExp): void {
  let want = "";
  assert.throws(() => f(ref), (e: Error) => ((want = e.message), pattern.test(e.message)));
  assert.throws(() => f(cpu()), (e: Error) => e.message === want);
}

test("model layers reject bad arguments in TS with the reference's messages", () => {
  const r = rng(5);
  const q = randTensor(r, [1, 2, 4, 8]);
  const k = randTensor(r, [1, 5, 2, 8]);
  const v = randTensor(r, [1, 5, 2, 3]);
  sameError((b) => b.attention(q, randTensor(r, [1, 5, 3, 8]), randTensor(r, [1, 5, 3, 3]), { scale: 1 }), /4 query heads cannot share 3/);
  sameError((b) => b.attention(q, k, randTensor(r, [1, 4, 2, 3]), { scale: 1 }), /do not fit \[B, S, H, D\] attention/);
  sameError((b) => b.attention(q, k, v, { scale: 1, queryOffset: 4 }), /queryOffset 4 does not place 2 queries within 5 keys/);
  sameError((b) => b.attention(q, k, v, { scale: 1, queryOffset: -1 }), /queryOffset -1/);
  sameError((b) => b.attention(q, k, v, { scale: 1, slidingWindow: 0 }), /slidingWindow must be ≥ 1/);
  sameError((b) => b.attention(q, k, v, { scale: 1, keyMask: Tensor.from(new Int32Array(4), [1, 4]) }), /keyMask must be \[1, 5\]/);
  sameError((b) => b.attention(q, k, v, { scale: 1, sinks: randTensor(r, [3]) }), /sinks must have 4 entries/);
  sameError((b) => b.attention(q.reshape([2, 4, 8]), k, v, { scale: 1 }), /q must have rank 4/);
  const x = randTensor(r, [2, 3, 2, 8]);
  const cs = randTensor(r, [6, 4]);
  sameError((b) => b.rope(x, cs, cs, { style: "halfSplit", rotaryDim: 5 }), /rotaryDim 5 must be even/);
  sameError((b) => b.rope(x, cs, cs, { style: "halfSplit", rotaryDim: 10 }), /rotaryDim 10 must be even and in \[2, 8\]/);
  sameError((b) => b.rope(x, randTensor(r, [6, 3]), cs, { style: "interleaved" }), /must hold \[6, 4\] values/);
  sameError((b) => b.rope(randTensor(r, [4, 8]), cs, cs, { style: "interleaved" }), /x must be \[\.\.\., T, heads, D\]/);
  sameError((b) => b.rmsNorm(x, randTensor(r, [7]), 1e-6), /rmsNorm: weight \[7\] must have 8 entries/);
  sameError((b) => b.layerNorm(x, randTensor(r, [8]), randTensor(r, [9]), 1e-6), /layerNorm: bias \[9\] must have 8 entries/);
  sameError((b) => b.rmsNorm(Tensor.from(new Int32Array(4), [4]), undefined, 1e-6), /x must be a float tensor/);
  const table = randTensor(r, [10, 4]);
  sameError((b) => b.embedding(table, Tensor.from(Int32Array.from([1, 10]), [2])), /token id 10 at position 1 is outside the vocabulary \[0, 10\)/);
  sameError((b) => b.embedding(table, Tensor.from(Int32Array.from([-1]), [1])), /token id -1 at position 0/);
  sameError((b) => b.embedding(table, Tensor.from(new Float32Array(2), [2])), /ids must be int32/);
});

test("the addon re-checks the model layers' arguments itself", () => {
  const n = cpu().native;
  const f = (len: number) => new Float32Array(len);
  // attention: B=1, Sq=2, Skv=4, Hq=2, Hkv=1, Dk=4, Dv=3
  const att = { q: f(16), k: f(16), v: f(12), b: 1, sq: 2, skv: 4, hq: 2, hkv: 1, dk: 4, dv: 3, scale: 0.5, causal: 1, offset: 2, window: 0, out: f(12) };
  n.attention(att);
  assert.throws(() => n.attention({ ...att, q: f(15) }), /q has 15 elements, needs 16/);
  assert.throws(() => n.attention({ ...att, k: f(12) }), /k has 12 elements/);
  assert.throws(() => n.attention({ ...att, v: f(11) }), /v has 11 elements/);
  assert.throws(() => n.attention({ ...att, out: f(11) }), /out has 11 elements/);
  assert.throws(() => n.attention({ ...att, offset: 3 }), /queryOffset does not place/);
  assert.throws(() => n.attention({ ...att, hq: 3, hkv: 2 }), /cannot share/);
  assert.throws(() => n.attention({ ...att, hkv: 0 }), /hkv = 0/);
  assert.throws(() => n.attention({ ...att, window: -1 }), /window = -1/);
  assert.throws(() => n.attention({ ...att, keyMask: new Int32Array(3) }), /keyMask has 3 elements/);
  assert.throws(() => n.attention({ ...att, sinks: f(1) }), /sinks has 1 elements/);
  assert.throws(() => n.attention({ ...att, keyMask: f(4) as never }), /keyMask must be a Int32Array/);
  assert.throws(() => n.attention({ ...att, b: 2 ** 31, sq: 2 ** 31 - 1 }), /b = .* outside/);
  assert.throws(() => n.attention({ ...att, b: 65536, sq: 65536, skv: 65536, hq: 65536, offset: 0 }), /q has 16 elements|overflows/);
  // row ops
  const row = (o: object) => n.rowNorm({ kind: 0, x: f(12), rows: 2, d: 6, eps: 1e-6, out: f(12), ...o });
  assert.throws(() => row({ x: f(10) }), /rmsNorm: x has 10 elements, needs 12/);
  assert.throws(() => row({ weight: f(5) }), /rmsNorm: weight has 5 elements/);
  assert.throws(() => row({ kind: 1 }), /layerNorm needs a weight/);
  assert.throws(() => row({ kind: 1, weight: f(6), bias: f(2) }), /layerNorm: bias has 2 elements/);
  assert.throws(() => row({ kind: 2, out: f(11) }), /softmax: out has 11 elements/);
  assert.throws(() => row({ kind: 3 }), /kind = 3/);
  // rope: T=2, heads=3, D=4
  const rope = (o: object) => n.rope({ x: f(24), t: 2, heads: 3, d: 4, cos: f(4), sin: f(4), half: 2, interleaved: 0, out: f(24), ...o });
  assert.throws(() => rope({ half: 3 }), /rotaryDim exceeds/);
  assert.throws(() => rope({ cos: f(3) }), /cos has 3 elements/);
  assert.throws(() => rope({ x: f(23), interleaved: 1 }), /x has 23 elements/);
  // embedding: the table is a weight descriptor [V, H]
  const emb = (o: object) => n.embedding({ table: nativeW(f(20), 5, 4), ids: Int32Array.from([0]), out: f(4), ...o });
  emb({});
  assert.throws(() => emb({ ids: Int32Array.from([0, 5]), out: f(8) }), /token id 5 at position 1 outside \[0, 5\)/);
  assert.throws(() => emb({ ids: Int32Array.from([-3]) }), /token id -3/);
  assert.throws(() => emb({ table: nativeW(f(19), 5, 4) }), /table.segments\[0\]: 5 rows of 16 bytes from byte 0 run past its 76-byte buffer/);
  assert.throws(() => emb({ table: nativeW(f(20), 5, 4, 12) }), /table.format = 12 is not a weight format/);
  assert.throws(() => emb({ table: nativeW(f(20), 5, 4, 9) }), /table: a row of 4 mxfp4 values is not whole blocks/);
  assert.throws(() => emb({ ids: Int32Array.from([0, 1]), out: f(7) }), /out has 7 elements/);
});

