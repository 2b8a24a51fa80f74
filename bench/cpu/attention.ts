/**
 * Attention at length on the cpu backend (docs/performance.md "Attention at length"), Qwen1.5-MoE-A2.7B's
 * attention (16 query and 16 key-value heads of 128):
 *
 * 1. decode: one query against a KV cache of `context` tokens held in a layer's host rows
 *    (src/models/cache/host-rows.ts) in each format (float32, bfloat16, float16); median ms, the K + V
 *    bytes read and GB/s, next to the read probe run right before each context;
 * 2. batched decode (a server's step): 8 sequences of ragged lengths (context·(i+1)/8) or one length,
 *    each appending one token: the attention over the batch as the cache hands it out now (a view of the
 *    per-sequence buffers, read in place), and the copy into one right-aligned [B, total, H, D] array that
 *    the cache made before per layer and step (timed here as it was written: zero fill + row copies);
 * 3. prefill at length: a chunk of `rows` query rows (causal) that ends a cache of `context` tokens (the
 *    chunk's own keys last), float32 and bfloat16 caches: the tiled kernel, the per-head kernel
 *    (MOEKIT_ATTN_ROWS set; only up to 5·10^10 multiply-adds a run) and --baseline-addon's build; GFLOP/s
 *    (2·(Dk + Dv) per visible query-key pair and head) next to the bf16 GEMM ceiling (backend.linear on
 *    bfloat16 weights, measured right before each context).
 *
 *   node --import tsx bench/cpu/attention.ts [--contexts 4096,32768] [--dtypes float32,bfloat16,float16]
 *        [--threads 2,1] [--batch-contexts 512,1024,2048,4096] [--iters 7] [--json file]
 *        [--prefill-rows 512,2048] [--prefill-contexts 4096,32768] [--sections decode,batch,prefill]
 *        [--baseline-addon path/to/moekit_native.node]
 * --baseline-addon: another build of the addon (e.g. main's, before the 16-bit cache) timed on the float32
 * cache in the same rounds (row dtype "float32 (baseline)"; prefill: on each cache dtype).
 */
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import { kvOperand } from "../../src/backends/cpu/kv-operand.js";
import { gemmCeiling } from "../../src/bench/probes.js";
import { randomFloats, rng } from "../../src/bench/random.js";
import { median } from "../../src/bench/stats.js";
import { HostRows } from "../../src/models/cache/host-rows.js";
import { kvBytesPerValue, type KvCacheDtype } from "../../src/models/cache/kv-dtype.js";
import { Tensor } from "../../src/tensor.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const list = (k: string, d: string) => (args.get(k) ?? d).split(",").filter((x) => x !== "");
const CONTEXTS = list("contexts", "128,4096,32768").map(Number);
const DTYPES = list("dtypes", "float32,bfloat16,float16") as KvCacheDtype[];
const THREADS = list("threads", "2,1").map(Number);
const BATCH_CONTEXTS = list("batch-contexts", "512,1024,2048,4096").map(Number);
const ITERS = Number(args.get("iters") ?? 7);
const PREFILL_ROWS = list("prefill-rows", "512,2048").map(Number);
const PREFILL_CONTEXTS = list("prefill-contexts", "4096,32768").map(Number);
const SECTIONS = new Set(list("sections", "decode,batch,prefill"));
const H = 16;
const D = 128;
const ROW = H * D;
const B = 8;

const cpu = new CpuBackend();
const baseline = args.get("baseline-addon") ? (createRequire(import.meta.url)(args.get("baseline-addon")!) as typeof cpu.native) : undefined;
const r = rng(1);
const results: Record<string, unknown>[] = [];
const log = (o: Record<string, unknown>) => {
  results.push(o);
  console.log(JSON.stringify(o));
};

/**
 * Each function timed ITERS times, the functions interleaved round by round (a load burst on this shared
 * machine then hits every variant alike); median and best ms of each.
 */
function timeRounds(fns: (() => unknown)[], iters = ITERS): { med: number; min: number }[] {
  for (const f of fns) f();
  const t: number[][] = fns.map(() => []);
  for (let i = 0; i < iters; i++) {
    fns.forEach((f, j) => {
      const t0 = performance.now();
      f();
      t[j]!.push(performance.now() - t0);
    });
  }
  return t.map((x) => ({ med: median(x), min: Math.min(...x) }));
}

const ms3 = (x: number) => +x.toFixed(3);

/** GB/s of the native read probe over `bytes` (the best of 3). */
function probe(bytes: number): number {
  const buf = new Int32Array(bytes / 4).fill(1);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    cpu.readProbe(buf);
    best = Math.min(best, performance.now() - t0);
  }
  return bytes / (best * 1e6);
}

/** A layer's cache holding `lengths[i]` tokens for sequence i, ready for the next token. */
function filledCache(dtype: KvCacheDtype, lengths: number[]): HostRows {
  const rows = new HostRows(cpu, 0, dtype);
  lengths.forEach((len, id) => {
    // prefill in chunks of 1024 tokens (bounded temporaries)
    for (let p = 0; p < len; p += 1024) {
      const s = Math.min(1024, len - p);
      const k = Tensor.from(randomFloats(r, s * ROW, 1), [1, s, H, D]);
      const v = Tensor.from(randomFloats(r, s * ROW, 1), [1, s, H, D]);
      rows.append([id], [p], k, v);
    }
  });
  return rows;
}

function oneToken(b: number): { k: Tensor; v: Tensor } {
  return { k: Tensor.from(randomFloats(r, b * ROW, 1), [b, 1, H, D]), v: Tensor.from(randomFloats(r, b * ROW, 1), [b, 1, H, D]) };
}

function oneChunk(rows: number): { k: Tensor; v: Tensor } {
  return { k: Tensor.from(randomFloats(r, rows * ROW, 1), [1, rows, H, D]), v: Tensor.from(randomFloats(r, rows * ROW, 1), [1, rows, H, D]) };
}

function mask(lengths: number[], total: number): Tensor {
  const m = new Int32Array(lengths.length * total);
  lengths.forEach((len, i) => m.fill(1, i * total + total - len - 1, (i + 1) * total));
  return Tensor.from(m, [lengths.length, total]);
}

// ---- 1. decode of one sequence --------------------------------------------------------------------
for (const ctx of SECTIONS.has("decode") ? CONTEXTS : []) {
  const q = Tensor.from(randomFloats(r, H * D, 1), [1, 1, H, D]);
  const steps = DTYPES.map((dtype) => {
    const cache = filledCache(dtype, [ctx]);
    const t = oneToken(1);
    return { dtype, ...cache.append([0], [ctx], t.k, t.v) }; // the step's keys: ctx + 1 tokens
  });
  for (const threads of THREADS) {
    cpu.setThreads(threads);
    const gbsProbe = probe(256 << 20);
    const fns: (() => unknown)[] = steps.map(({ k, v }) => () => cpu.attention(q, k, v, { scale: 1 / Math.sqrt(D), queryOffset: ctx }));
    const f32 = steps.find((s) => s.dtype === "float32");
    const rows = steps.map((s) => ({ dtype: s.dtype as string, bytesPer: kvBytesPerValue(s.dtype) }));
    if (baseline && f32) {
      baseline.setThreads(threads);
      const out = new Float32Array(H * D);
      const a = { q: q.storage as Float32Array, k: f32.k.storage as Float32Array, v: f32.v.storage as Float32Array, b: 1, sq: 1, skv: ctx + 1, hq: H, hkv: H, dk: D, dv: D, scale: 1 / Math.sqrt(D), causal: 1, offset: ctx, window: 0, out };
      fns.push(() => baseline.attention(a));
      rows.push({ dtype: "float32 (baseline)", bytesPer: 4 });
    }
    const times = timeRounds(fns);
    rows.forEach(({ dtype, bytesPer }, i) => {
      const bytes = 2 * (ctx + 1) * ROW * bytesPer;
      const { med, min } = times[i]!;
      log({ case: "decode", context: ctx, dtype, threads, ms: ms3(med), best_ms: ms3(min), kv_mb: +(bytes / 1e6).toFixed(1), gbs: +(bytes / (med * 1e6)).toFixed(2), best_gbs: +(bytes / (min * 1e6)).toFixed(2), probe_gbs: +gbsProbe.toFixed(2), vs_f32: ms3(times[0]!.med / med), load: os.loadavg()[0]!.toFixed(1) });
    });
  }
}

// ---- 2. batched decode: 8 sequences ----------------------------------------------------------------
cpu.setThreads(THREADS[0]!);
for (const ctx of SECTIONS.has("batch") ? BATCH_CONTEXTS : []) {
  for (const shape of ["ragged", "equal"] as const) {
    const lengths = Array.from({ length: B }, (_, i) => (shape === "equal" ? ctx : Math.round((ctx * (i + 1)) / B)));
    for (const dtype of DTYPES) {
      const cache = filledCache(dtype, lengths);
      const t = oneToken(B);
      const { k, v } = cache.append([...lengths.keys()], lengths, t.k, t.v);
      const total = Math.max(...lengths) + 1;
      const q = Tensor.from(randomFloats(r, B * H * D, 1), [B, 1, H, D]);
      const spec = { scale: 1 / Math.sqrt(D), queryOffset: total - 1, keyMask: mask(lengths, total) };
      // the copy the cache made before: per layer and step, keys and values into one [B, total, H, D] array
      type Rows = { blocks: (Float32Array | Uint16Array)[]; starts: number[] };
      type Bufs = { k: Rows; v: Rows };
      const bufs = [...lengths.keys()].map((id) => (cache as unknown as { seqs: Map<number, Bufs> }).seqs.get(id)!);
      const alloc = () => (dtype === "float32" ? new Float32Array(B * total * ROW) : new Uint16Array(B * total * ROW));
      const out = { k: alloc(), v: alloc() };
      const gather = () => {
        for (const which of ["k", "v"] as const) {
          const o = out[which];
          bufs.forEach((buf, i) => {
            const rows = lengths[i]! + 1;
            const at = i * total * ROW;
            o.fill(0, at, at + (total - rows) * ROW);
            // the sequence's blocks in token order (block j holds tokens from starts[j])
            const { blocks, starts } = buf[which];
            blocks.forEach((block, j) => {
              const n = Math.max(0, Math.min(rows, starts[j + 1] ?? rows) - starts[j]!);
              if (n > 0) o.set(block.subarray(0, n * ROW) as never, at + (total - rows + starts[j]!) * ROW);
            });
          });
        }
      };
      gather();
      const kc = new Tensor([B, total, H, D], dtype, out.k);
      const vc = new Tensor([B, total, H, D], dtype, out.v);
      const [view, copied, gathered] = timeRounds([() => cpu.attention(q, k, v, spec), () => cpu.attention(q, kc, vc, spec), gather]);
      const bytes = 2 * lengths.reduce((s, l) => s + l + 1, 0) * ROW * kvBytesPerValue(dtype);
      log({
        case: "batch8", context: ctx, shape, dtype, threads: THREADS[0], kv_mb: +(bytes / 1e6).toFixed(1),
        attention_view_ms: ms3(view!.med), attention_copy_ms: ms3(copied!.med), gather_copy_ms: ms3(gathered!.med),
        best: { view: ms3(view!.min), copy: ms3(copied!.min), gather: ms3(gathered!.min) },
        step_before_over_now: ms3((gathered!.med + copied!.med) / view!.med), load: os.loadavg()[0]!.toFixed(1),
      });
    }
  }
}
// ---- 3. prefill at length: a chunk of query rows ending a cache -------------------------------------
const bf16Cpu = new CpuBackend({ compute: "bfloat16" });
const PER_HEAD_LIMIT = 5e10; // multiply-adds: ~5-10 s a run of the per-head kernel (10-20 GFLOP/s)
for (const ctx of SECTIONS.has("prefill") ? PREFILL_CONTEXTS : []) {
  for (const threads of THREADS) {
    cpu.setThreads(threads);
    baseline?.setThreads(threads);
    bf16Cpu.setThreads(threads);
    const gemm = await gemmCeiling(bf16Cpu, "bfloat16");
    for (const rows of PREFILL_ROWS.filter((n) => n <= ctx)) {
      const q = Tensor.from(randomFloats(r, rows * ROW, 1), [1, rows, H, D]);
      // visible pairs: the rows see the ctx − rows cached keys and a causal triangle of their own
      const pairs = rows * (ctx - rows) + (rows * (rows + 1)) / 2;
      const flop = 2 * H * pairs * (D + D);
      for (const dtype of DTYPES.filter((d) => d !== "float16")) {
        const cache = filledCache(dtype, [ctx - rows]);
        const chunk = oneChunk(rows);
        const { k, v } = cache.append([0], [ctx - rows], chunk.k, chunk.v);
        const spec = { scale: 1 / Math.sqrt(D), queryOffset: ctx - rows };
        const variants: { name: string; fn: () => unknown }[] = [{ name: "tiled", fn: () => cpu.attention(q, k, v, spec) }];
        if (flop / 2 < PER_HEAD_LIMIT) {
          variants.push({
            name: "per-head",
            fn: () => {
              process.env.MOEKIT_ATTN_ROWS = "1";
              try {
                return cpu.attention(q, k, v, spec);
              } finally {
                delete process.env.MOEKIT_ATTN_ROWS;
              }
            },
          });
        }
        if (baseline && flop / 2 < PER_HEAD_LIMIT) {
          const out = new Float32Array(rows * ROW);
          const a = { q: q.storage as Float32Array, k: kvOperand(k, "bench", "k"), v: kvOperand(v, "bench", "v"), b: 1, sq: rows, skv: ctx, hq: H, hkv: H, dk: D, dv: D, scale: 1 / Math.sqrt(D), causal: 1, offset: ctx - rows, window: 0, out };
          variants.push({ name: "baseline addon", fn: () => baseline.attention(a) });
        }
        const iters = Math.max(1, Math.min(ITERS, Math.round(4e10 / flop)));
        const times = timeRounds(variants.map((x) => x.fn), iters);
        variants.forEach(({ name }, i) => {
          const { med, min } = times[i]!;
          const gflops = flop / (med * 1e6);
          log({
            case: "prefill", context: ctx, rows, dtype, threads, kernel: name, ms: ms3(med), best_ms: ms3(min), iters, gflops: +gflops.toFixed(1),
            gemm_bf16_gflops: +gemm.gflops.toFixed(1), share_of_gemm: +(gflops / gemm.gflops).toFixed(2), tiled_speedup: ms3(med / times[0]!.med), load: os.loadavg()[0]!.toFixed(1),
          });
        });
      }
    }
  }
}

if (args.get("json")) writeFileSync(args.get("json")!, JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, results }, null, 1));
