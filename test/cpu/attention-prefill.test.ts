/**
 * The tiled prefill attention (native/src/attention_prefill.h: Sq·G ≥ 16 query rows per key-value group)
 * against the reference backend and against the per-head kernel it replaced (still the kernel for fewer
 * rows; MOEKIT_ATTN_ROWS forces it), on every instruction set and thread count: causal or not, sliding
 * window, key mask (a padded batch), sinks, GQA, Dk ≠ Dv (MLA heads), row counts off the tile size, a query
 * offset into a cache, float32 / bfloat16 / float16 keys and values, and per-sequence KV views.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AttentionSpec } from "../../src/backends/backend.js";
import { referenceBackend as ref } from "../../src/backends/reference/index.js";
import { widenToF32 } from "../../src/dtype.js";
import { segmentsOf } from "../../src/formats/segments.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose, type AttnDims, configs, cpu, randTensor, rng } from "./helpers.js";

type Float = "float32" | "bfloat16" | "float16";

interface Case extends AttnDims {
  what: string;
  kv: Float;
  causal?: boolean;
  window?: number;
  sinks?: boolean;
  pad?: number[]; // left padding rows of each batch row (key mask 0)
}

const CASES: Case[] = [
  { what: "causal, one tile of 16 rows", b: 1, sq: 16, skv: 16, hq: 2, hkv: 2, dk: 64, dv: 64, kv: "float32" },
  { what: "causal, 150 rows over a 350-token cache (offset 200), several sub-tiles", b: 1, sq: 150, skv: 350, hq: 2, hkv: 2, dk: 128, dv: 128, kv: "bfloat16" },
  { what: "not causal", b: 2, sq: 37, skv: 90, hq: 2, hkv: 1, dk: 32, dv: 32, kv: "float16", causal: false },
  { what: "sliding window across key blocks", b: 1, sq: 200, skv: 260, hq: 2, hkv: 2, dk: 64, dv: 64, kv: "bfloat16", window: 70 },
  { what: "sinks (gpt-oss)", b: 1, sq: 70, skv: 130, hq: 4, hkv: 2, dk: 64, dv: 64, kv: "bfloat16", sinks: true, window: 50 },
  { what: "GQA 4 query heads a key-value head", b: 1, sq: 45, skv: 120, hq: 8, hkv: 2, dk: 64, dv: 64, kv: "float32" },
  { what: "MLA heads (Dk 192, Dv 128)", b: 1, sq: 33, skv: 100, hq: 4, hkv: 4, dk: 192, dv: 128, kv: "bfloat16" },
  { what: "odd head sizes (masked tails)", b: 1, sq: 19, skv: 19, hq: 3, hkv: 3, dk: 37, dv: 19, kv: "float16" },
  { what: "a padded batch (key mask)", b: 3, sq: 24, skv: 80, hq: 2, hkv: 2, dk: 64, dv: 48, kv: "bfloat16", pad: [0, 30, 70] },
  { what: "a padded row with no visible key", b: 2, sq: 20, skv: 40, hq: 2, hkv: 1, dk: 16, dv: 16, kv: "float32", pad: [0, 40] },
  { what: "more rows than a task (8 sub-tiles)", b: 1, sq: 600, skv: 600, hq: 1, hkv: 1, dk: 32, dv: 32, kv: "bfloat16" },
];

/** x [B, S, H, D] as per-sequence buffers after pad[b] rows of a shared zero buffer (a KV cache's batch). */
function perSequenceView(x: Tensor, pad: number[]): Tensor {
  const [b, s, h, d] = x.shape as [number, number, number, number];
  const src = x.storage as Float32Array | Uint16Array;
  const make = (n: number) => (x.dtype === "float32" ? new Float32Array(n) : new Uint16Array(n));
  const zeros = make(Math.max(1, ...pad) * h * d);
  const parts: { data: Float32Array | Uint16Array; rows: number }[] = [];
  for (let i = 0; i < b; i++) {
    const p = pad[i]!;
    const own = make((s - p) * h * d + 2 * h * d);
    own.set(src.subarray((i * s + p) * h * d, (i + 1) * s * h * d));
    parts.push({ data: zeros, rows: p * h }, { data: own, rows: (s - p) * h });
  }
  return new Tensor([b, s, h, d], x.dtype, segmentsOf(parts));
}

function inputs(r: () => number, c: Case): { q: Tensor; k: Tensor; v: Tensor; spec: AttentionSpec } {
  const q = randTensor(r, [c.b, c.sq, c.hq, c.dk], "float32", 2);
  const k = randTensor(r, [c.b, c.skv, c.hkv, c.dk], c.kv, 2);
  const v = randTensor(r, [c.b, c.skv, c.hkv, c.dv], c.kv);
  const spec: AttentionSpec = { scale: 1 / Math.sqrt(c.dk), queryOffset: c.skv - c.sq, causal: c.causal ?? true, slidingWindow: c.window };
  if (c.sinks) spec.sinks = randTensor(r, [c.hq], "float32", 2);
  if (c.pad) {
    const m = new Int32Array(c.b * c.skv).fill(1);
    c.pad.forEach((p, i) => m.fill(0, i * c.skv, i * c.skv + p));
    spec.keyMask = Tensor.from(m, [c.b, c.skv]);
  }
  return { q, k, v, spec };
}

function perHead<T>(f: () => T): T {
  process.env.MOEKIT_ATTN_ROWS = "1";
  try {
    return f();
  } finally {
    delete process.env.MOEKIT_ATTN_ROWS;
  }
}

async function assertSame(a: Tensor, b: Tensor, what: string): Promise<void> {
  const x = await a.data();
  const y = await b.data();
  assert.equal(x.length, y.length, what);
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) assert.fail(`${what}: element ${i} is ${x[i]}, want ${y[i]}`);
}

// Measured worst error over these cases and seeds 501-503, relative to max(max|want|, 1): 1.0e-6 against
// the reference, 1.1e-6 against the per-head kernel (avx512bf16 / avx512 / avx2; scalar 1.0e-6 / 1.1e-6):
// float32 rounding of sums in another order and a polynomial e^x (~2 ulp).
const TOL = 3e-6;

for (const { isa, threads } of configs()) {
  test(`tiled prefill attention matches the reference and the per-head kernel (${isa}, ${threads} threads)`, async () => {
    const b = cpu();
    b.setIsa(isa as "avx512");
    b.setThreads(threads);
    const r = rng(500 + threads);
    for (const c of CASES) {
      const { q, k, v, spec } = inputs(r, c);
      const what = `${c.what} ${JSON.stringify(c)}`;
      const got = b.attention(q, k, v, spec);
      await assertClose(got, ref.attention(q, k, v, spec), TOL, `${what} against the reference`, 1);
      await assertClose(got, perHead(() => b.attention(q, k, v, spec)), TOL, `${what} against the per-head kernel`, 1);
      const pad = c.pad ?? Array.from({ length: c.b }, () => 0);
      await assertSame(b.attention(q, perSequenceView(k, pad), perSequenceView(v, pad), spec), got, `${what}, per-sequence buffers`);
      if (c.kv !== "float32") {
        const w = (t: Tensor) => Tensor.from(widenToF32(t.storage as Uint16Array, t.dtype), [...t.shape]);
        await assertSame(b.attention(q, w(k), w(v), spec), got, `${what}: the float32 kernel on the widened rows`);
      }
    }
  });
}

test("tiled prefill gives the same bits on 1, 2 and 3 threads (the tiles do not depend on the thread count)", async () => {
  const b = cpu();
  const r = rng(77);
  const c = CASES[1]!;
  const { q, k, v, spec } = inputs(r, c);
  const out = async (t: number) => {
    b.setThreads(t);
    return b.attention(q, k, v, spec);
  };
  const one = await out(1);
  await assertSame(await out(2), one, "2 threads");
  await assertSame(await out(3), one, "3 threads");
});
