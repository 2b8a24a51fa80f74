/**
 * Native attention on 16-bit keys / values (a bfloat16 / float16 KV cache) and on keys / values that are
 * views of per-sequence row buffers (a KV cache's batch): read in place and widened in the kernel, they
 * give the float32 kernel's results on the widened values bit for bit (same summation order), and the
 * reference backend's within float32 rounding.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AttentionSpec } from "../../src/backends/backend.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { widenToF32 } from "../../src/dtype.js";
import { segmentsOf } from "../../src/formats/segments.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose, type AttnDims, configs, cpu, randTensor, rng } from "./helpers.js";

type Half = "bfloat16" | "float16";

/** A float32 copy of a 16-bit tensor (exact). */
function widened(t: Tensor): Tensor {
  return Tensor.from(widenToF32(t.storage as Uint16Array, t.dtype), [...t.shape]);
}

/**
 * x [B, S, H, D] as a view of per-row buffers, right-aligned after pad[b] rows of a shared zero buffer
 * (how a KV cache hands out a batch of sequences of different lengths).
 */
function perSequenceView(x: Tensor, pad: number[]): Tensor {
  const [b, s, h, d] = x.shape as [number, number, number, number];
  const src = x.storage as Float32Array | Uint16Array;
  const make = (n: number) => (x.dtype === "float32" ? new Float32Array(n) : new Uint16Array(n));
  const zeros = make(Math.max(...pad) * h * d);
  const parts: { data: Float32Array | Uint16Array; rows: number }[] = [];
  for (let i = 0; i < b; i++) {
    const p = pad[i]!;
    const own = make((s - p) * h * d + 3 * h * d); // spare capacity past the rows, as a grown buffer has
    own.set(src.subarray((i * s + p) * h * d, (i + 1) * s * h * d));
    parts.push({ data: zeros, rows: p * h }, { data: own, rows: (s - p) * h });
  }
  return new Tensor([b, s, h, d], x.dtype, segmentsOf(parts));
}

function maskOf(b: number, skv: number, pad: number[]): Tensor {
  const m = new Int32Array(b * skv).fill(1);
  pad.forEach((p, i) => m.fill(0, i * skv, i * skv + p));
  return Tensor.from(m, [b, skv]);
}

interface Case extends AttnDims {
  k: Half;
  v: Half;
  window?: number;
  sinks?: boolean;
  pad?: number[];
}

const CASES: Case[] = [
  { b: 1, sq: 1, skv: 200, hq: 8, hkv: 2, dk: 128, dv: 128, k: "bfloat16", v: "bfloat16" }, // decode, GQA 4
  { b: 1, sq: 1, skv: 150, hq: 4, hkv: 4, dk: 64, dv: 64, k: "float16", v: "float16", sinks: true }, // decode, sinks
  { b: 2, sq: 5, skv: 77, hq: 4, hkv: 2, dk: 37, dv: 19, k: "bfloat16", v: "float16", window: 20 }, // odd dims (masked tails), mixed formats
  { b: 1, sq: 40, skv: 300, hq: 4, hkv: 2, dk: 128, dv: 128, k: "float16", v: "bfloat16" }, // multi-threaded prefill over a cache
  { b: 3, sq: 1, skv: 130, hq: 6, hkv: 3, dk: 24, dv: 24, k: "bfloat16", v: "bfloat16", pad: [0, 50, 129] }, // a batch of ragged sequences
  { b: 2, sq: 1, skv: 1300, hq: 4, hkv: 2, dk: 64, dv: 48, k: "bfloat16", v: "float16", sinks: true, pad: [0, 700] }, // decode over 3 chunks of 512 keys, combined
  { b: 1, sq: 1, skv: 1200, hq: 2, hkv: 1, dk: 32, dv: 32, k: "float16", v: "float16", window: 700 }, // a window across chunks
];

function inputs(r: () => number, c: Case): { q: Tensor; k: Tensor; v: Tensor; spec: AttentionSpec } {
  const q = randTensor(r, [c.b, c.sq, c.hq, c.dk], "float32", 2);
  const k = randTensor(r, [c.b, c.skv, c.hkv, c.dk], c.k, 2);
  const v = randTensor(r, [c.b, c.skv, c.hkv, c.dv], c.v);
  const spec: AttentionSpec = { scale: 1 / Math.sqrt(c.dk), slidingWindow: c.window };
  if (c.sinks) spec.sinks = randTensor(r, [c.hq], "float32", 2);
  if (c.pad) spec.keyMask = maskOf(c.b, c.skv, c.pad);
  return { q, k, v, spec };
}

async function assertSame(a: Tensor, b: Tensor, what: string): Promise<void> {
  const x = await a.data();
  const y = await b.data();
  assert.equal(x.length, y.length, what);
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) assert.fail(`${what}: element ${i} is ${x[i]}, the float32 kernel gives ${y[i]}`);
}

for (const { isa, threads } of configs()) {
  test(`attention on bfloat16 / float16 keys and values equals the float32 kernel on the widened rows (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(90 + threads);
    for (const c of CASES) {
      const { q, k, v, spec } = inputs(r, c);
      const what = `attention ${JSON.stringify(c)}`;
      const k32 = widened(k);
      const v32 = widened(v);
      const want = b.attention(q, k32, v32, spec);
      await assertSame(b.attention(q, k, v, spec), want, `${what}, 16-bit rows`);
      await assertClose(b.attention(q, k, v, spec), ref.attention(q, k, v, spec), 2e-6, `${what} against the reference`, 1);
      const pad = c.pad ?? Array.from({ length: c.b }, () => 0);
      await assertSame(b.attention(q, perSequenceView(k, pad), perSequenceView(v, pad), spec), want, `${what}, per-sequence 16-bit buffers`);
      await assertSame(b.attention(q, perSequenceView(k32, pad), perSequenceView(v32, pad), spec), want, `${what}, per-sequence float32 buffers`);
    }
  });
}

test("decode gives a sequence the same output alone and in a padded batch, on any thread count (chunks start at its first key)", async () => {
  const b = cpu();
  const r = rng(11);
  const [h, d, len, pad] = [4, 64, 1100, 300];
  const q = randTensor(r, [1, 1, h, d]);
  const k = randTensor(r, [1, len, h, d], "bfloat16");
  const v = randTensor(r, [1, len, h, d], "bfloat16");
  const spec = { scale: 0.125, sinks: randTensor(r, [h]) };
  const aloneOut = async (threads: number) => {
    b.setThreads(threads);
    return b.attention(q, k, v, spec).data();
  };
  const want = await aloneOut(1);
  assert.deepEqual(Array.from(await aloneOut(2)), Array.from(want), "2 threads");
  // the same sequence as row 1 of a batch, after `pad` zero rows, beside another sequence
  const other = randTensor(r, [1, len + pad, h, d], "bfloat16");
  const both = (x: Tensor, o: Tensor) => {
    const out = new Uint16Array(2 * (len + pad) * h * d);
    out.set(o.storage as Uint16Array);
    out.set(x.storage as Uint16Array, (2 * (len + pad) - len) * h * d);
    return new Tensor([2, len + pad, h, d], "bfloat16", out);
  };
  const q2 = Tensor.from(Float32Array.from([...((await randTensor(r, [1, 1, h, d]).data()) as Float32Array), ...((await q.data()) as Float32Array)]), [2, 1, h, d]);
  const mask = maskOf(2, len + pad, [0, pad]);
  const got = (await b.attention(q2, both(k, other), both(v, other), { ...spec, keyMask: mask }).data()).subarray(h * d);
  assert.deepEqual(Array.from(got), Array.from(want), "in a padded batch");
});

test("views whose segments split a token row are read through a float32 copy, with the same results", async () => {
  const b = cpu();
  const r = rng(7);
  const q = randTensor(r, [1, 1, 4, 16]);
  const k = randTensor(r, [1, 10, 2, 16], "bfloat16");
  const v = randTensor(r, [1, 10, 2, 16], "bfloat16");
  const split = (t: Tensor) => {
    const s = t.storage as Uint16Array;
    return new Tensor([...t.shape], "bfloat16", segmentsOf([{ data: s, rows: 7 }, { data: s, byteOffset: 7 * 16 * 2, rows: 13 }]));
  };
  const spec = { scale: 0.25 };
  await assertSame(b.attention(q, split(k), split(v), spec), b.attention(q, widened(k), widened(v), spec), "split token rows");
});

test("the addon rejects keys of a format attention does not read, naming the field", () => {
  const n = cpu().native;
  const f = (len: number) => new Float32Array(len);
  const att = { q: f(8), b: 1, sq: 1, skv: 2, hq: 2, hkv: 1, dk: 4, dv: 4, scale: 1, causal: 1, offset: 1, window: 0, out: f(8) };
  const bf = (rows: number, format = 1) => ({ format, rows, cols: 4, segments: [{ data: new Uint16Array(rows * 4), byteOffset: 0, rows }] });
  n.attention({ ...att, k: bf(2), v: bf(2, 2) });
  assert.throws(() => n.attention({ ...att, k: bf(1), v: bf(2) }), /k has 1 rows, needs 2/);
  assert.throws(() => n.attention({ ...att, k: { ...bf(2), segments: [{ data: new Uint16Array(4), byteOffset: 0, rows: 2 }] }, v: bf(2) }), /k\.segments\[0\]: 2 rows of 8 bytes/);
  const wide = { ...att, q: f(64), dk: 32 };
  const q8 = { format: 4, rows: 2, cols: 32, segments: [{ data: new Uint8Array(68), byteOffset: 0, rows: 2 }] };
  assert.throws(() => n.attention({ ...wide, k: q8, v: bf(2) }), /attention: k must hold float32, bfloat16 or float16 values/);
});
