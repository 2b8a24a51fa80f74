/**
 * Experts layer of Qwen1.5-MoE-A2.7B (H 2048, I 1408, 60 experts, top-4) on the webgpu backend: every
 * implementation, float32 and float16 weights, T in {1, 4, 16, 64, 128, 512}; median ms, GFLOP/s and
 * GB/s (FLOP and byte models of src/bench/work-model.ts) next to ceilings measured on the same adapter:
 * the backend's own 2048³ GEMM (float32 and float16 weights) and a 64 MiB buffer copy.
 *
 *   node --import tsx bench/webgpu/experts.ts [--t 1,4,16] [--dtypes float32,float16] [--impls grouped_mm]
 *        [--experts 60] [--max-ms 20000] [--deadline-s 0] [--ceiling-n 2048] [--copy-mib 256]
 *        [--max-chunk-mib N] [--json out.json]
 *
 * All 60 experts by default: stacks larger than the adapter binds (maxStorageBufferBindingSize, 128 MiB
 * on lavapipe and SwiftShader) are split into chunks (runtime.ts ChunkedLayout); the chunk count is
 * printed. `--experts` takes fewer (software adapters: memory and time); the per-token work (H, I,
 * top-4) stays Qwen's. `--max-chunk-mib` lowers the chunk size (to time the split paths).
 * Each case: a warm-up run, then timed samples for ~3 s (at least one, at most 10), median; a sample
 * repeats the forward until it lasts ≥ 20 ms (fast GPUs: the submit-and-wait latency is amortised).
 * A warm-up longer than --max-ms (default 20 s) skips the larger T of that implementation (software
 * adapters); past --deadline-s seconds (0: none) the remaining cases are skipped. With --json the file
 * is rewritten after every row, so an interrupted run keeps what it measured.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { createWebGpuBackend, type GpuStorage, type WebGpuBackend } from "../../src/backends/webgpu/index.js";
import { expertsWork } from "../../src/bench/work-model.js";
import { narrowFromF32 } from "../../src/dtype.js";
import { Experts } from "../../src/experts/experts.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import { randomFloats as randF32, rng } from "../../src/bench/random.js";
import { Tensor } from "../../src/tensor.js";
import { median } from "../../src/bench/stats.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const TS = (args.get("t") ?? "1,4,16,64,128,512").split(",").map(Number);
const DTYPES = (args.get("dtypes") ?? "float32,float16").split(",") as ("float32" | "float16")[];
const IMPLS = (args.get("impls") ?? "eager,batched_mm,grouped_mm").split(",");
const MAX_MS = Number(args.get("max-ms") ?? 20_000);
const DEADLINE_MS = Number(args.get("deadline-s") ?? 0) * 1000;
const STARTED = performance.now();
const pastDeadline = () => DEADLINE_MS > 0 && performance.now() - STARTED > DEADLINE_MS;
const H = 2048;
const I = 1408;
const K = 4;

/**
 * Median ms of one enqueue-and-wait (already warmed up): samples for ~3 s (at least one, at most 10),
 * each repeating `fn` `inner` times before one wait, with `inner` sized from a first run so that a
 * sample lasts ≥ 20 ms (1 on slow adapters).
 */
async function timeIt(b: WebGpuBackend, fn: () => unknown): Promise<number> {
  await b.sync();
  let t0 = performance.now();
  await fn();
  await b.sync();
  const single = performance.now() - t0;
  const inner = Math.max(1, Math.min(50, Math.ceil(20 / Math.max(single, 1e-3))));
  const ts: number[] = inner === 1 ? [single] : [];
  const start = performance.now();
  while (ts.length === 0 || (ts.length < 10 && performance.now() - start < 3000)) {
    t0 = performance.now();
    for (let i = 0; i < inner; i++) await fn();
    await b.sync();
    ts.push((performance.now() - t0) / inner);
  }
  return median(ts);
}

/** timeIt after one warm-up run. */
async function warmTimeIt(b: WebGpuBackend, fn: () => unknown): Promise<number> {
  await fn();
  return timeIt(b, fn);
}

interface Row {
  dtype: string;
  experts: number;
  t: number;
  impl: string;
  ms: number;
  gflops: number;
  gbps: number;
  /** GPU buffers per weight stack (gate|up, down). */
  chunks: [number, number];
}

function chunkCount(t: Tensor): number {
  return (t.storage as GpuStorage).chunked?.chunks.length ?? 1;
}

async function main(): Promise<void> {
  const chunkMib = args.get("max-chunk-mib");
  const b = await createWebGpuBackend({ maxChunkBytes: chunkMib ? Number(chunkMib) * 2 ** 20 : undefined });
  const limit = b.device.limits.maxStorageBufferBindingSize;
  const limits = { maxStorageBufferBindingSize: limit, maxBufferSize: b.device.limits.maxBufferSize, chunkBytes: b.chunkBytes };
  const date = args.get("date") ?? new Date().toISOString().slice(0, 10);
  console.log(`# moekit webgpu backend — experts layer of Qwen1.5-MoE-A2.7B (H ${H}, I ${I}, top-${K})`);
  console.log(
    `# ${date}, adapter: ${b.description}; maxStorageBufferBindingSize ${(limit / 2 ** 20).toFixed(0)} MiB, ` +
      `maxBufferSize ${(limits.maxBufferSize / 2 ** 20).toFixed(0)} MiB, weight chunks ≤ ${(b.chunkBytes / 2 ** 20).toFixed(0)} MiB`,
  );
  console.log(`# host: ${os.cpus()[0]?.model ?? "unknown"}, ${os.cpus().length} logical cores, Node ${process.version}`);
  const load = () => os.loadavg().map((v) => v.toFixed(2)).join(" ");
  console.log(`# load average at start: ${load()} (a software adapter shares the CPU: other processes skew every figure)`);

  // ---- ceilings on this adapter ------------------------------------------------------------------
  const r = rng(42);
  const n = Number(args.get("ceiling-n") ?? 2048);
  const gx = b.adopt(Tensor.from(randF32(r, n * n, 1), [n, n]));
  const gwF = randF32(r, n * n, 1);
  const gemm: Record<string, number> = {};
  for (const dt of DTYPES) {
    const w = b.adopt(dt === "float32" ? Tensor.from(gwF, [n, n]) : Tensor.from(narrowFromF32(gwF, "float16") as Uint16Array, [n, n], "float16"));
    const ms = await warmTimeIt(b, () => b.dispose(b.linear(gx, w)));
    gemm[dt] = (2 * n ** 3) / (ms * 1e6);
    console.log(`ceiling  linear ${n}³ ${dt} weights: ${ms.toFixed(1)} ms, ${gemm[dt]!.toFixed(1)} GFLOP/s`);
  }
  const copyBytes = Math.min(Number(args.get("copy-mib") ?? 256) * 2 ** 20, limits.maxBufferSize, limit);
  const src = b.runtime.buffer("bench.copy.src", copyBytes);
  const dst = b.runtime.buffer("bench.copy.dst", copyBytes);
  const copyMs = await warmTimeIt(b, () => b.runtime.copy(src, dst, copyBytes));
  const copyBw = (2 * copyBytes) / (copyMs * 1e6);
  console.log(`ceiling  buffer copy ${(copyBytes / 2 ** 20).toFixed(0)} MiB: ${copyMs.toFixed(2)} ms, ${copyBw.toFixed(1)} GB/s (read + write)`);
  src.destroy();
  dst.destroy();

  // ---- the experts layer -----------------------------------------------------------------------
  console.log("");
  b.dispose(gx);
  console.log("| weights | E | chunks | T | implementation | median ms | GFLOP/s | % of GEMM | GB/s | % of copy |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  const rows: Row[] = [];
  const json = args.get("json");
  const save = () => {
    if (json) writeFileSync(json, JSON.stringify({ date, adapter: b.description, limits, host: os.cpus()[0]?.model, node: process.version, gemm, gemmN: n, copyBw, rows }, null, 1));
  };
  save();
  for (const dtype of DTYPES) {
    if (pastDeadline()) break;
    const wb = dtype === "float32" ? 4 : b.f16 ? 2 : 4;
    const e = Number(args.get("experts") ?? 60);
    const wr = rng(7);
    const narrow = (v: Float32Array, shape: number[]) => b.adopt(dtype === "float32" ? Tensor.from(v, shape) : Tensor.from(narrowFromF32(v, "float16") as Uint16Array, shape, "float16"));
    const weights: ExpertsWeights = {
      numExperts: e,
      hiddenSize: H,
      intermediateSize: I,
      gateUp: narrow(randF32(wr, e * 2 * I * H, 0.02), [e, 2 * I, H]),
      down: narrow(randF32(wr, e * H * I, 0.02), [e, H, I]),
      gate: { kind: "concatenated", act: "silu" },
    };
    const chunks: [number, number] = [chunkCount(weights.gateUp!), chunkCount(weights.down)];
    const stopped = new Set<string>();
    for (const t of TS) {
      const rt = rng(1000 + t);
      const hidden = b.adopt(Tensor.from(randF32(rt, t * H, 1), [t, H]));
      const ids = new Int32Array(t * K);
      const wts = new Float32Array(t * K);
      for (let tok = 0; tok < t; tok++) {
        const pool = [...Array(e).keys()];
        for (let j = 0; j < K; j++) {
          ids[tok * K + j] = pool.splice(Math.floor(rt() * pool.length), 1)[0]!;
          wts[tok * K + j] = 0.1 + rt();
        }
      }
      const idx = b.adopt(Tensor.from(ids, [t, K]));
      const tw = b.adopt(Tensor.from(wts, [t, K]));
      const work = expertsWork({ hidden: H, experts: e, intermediate: I, topK: K, gated: true, sharedWidth: 0, sharedGate: false, weightBytes: wb }, t);
      for (const impl of IMPLS) {
        if (stopped.has(impl)) continue;
        if (pastDeadline()) {
          console.log(`| ${dtype} | ${e} | ${chunks.join("+")} | ${t} | ${impl} | skipped: past --deadline-s | | | | |`);
          continue;
        }
        const ex = new Experts(weights, { backend: b, implementation: impl });
        const t0 = performance.now();
        await ex.forward(hidden, idx, tw);
        await b.sync();
        if (performance.now() - t0 > MAX_MS) stopped.add(impl);
        const ms = await timeIt(b, async () => b.dispose(await ex.forward(hidden, idx, tw)));
        const row: Row = { dtype, experts: e, t, impl, ms, gflops: work.flops / (ms * 1e6), gbps: work.bytes / (ms * 1e6), chunks };
        rows.push(row);
        save();
        console.log(
          `| ${dtype} | ${e} | ${chunks.join("+")} | ${t} | ${impl} | ${ms.toFixed(2)} | ${row.gflops.toFixed(1)} | ${((100 * row.gflops) / gemm[dtype]!).toFixed(0)}% | ${row.gbps.toFixed(1)} | ${((100 * row.gbps) / copyBw).toFixed(0)}% |`,
        );
      }
    }
    if (stopped.size > 0) console.log(`(${[...stopped].join(", ")}: a run exceeded ${MAX_MS} ms; larger T skipped)`);
    for (const w of [weights.gateUp!, weights.down]) b.dispose(w);
    await b.sync();
  }
  console.log(`# load average at end: ${load()}`);
  save();
  b.destroy();
}

await main();
