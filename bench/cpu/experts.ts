/**
 * Experts layer of Qwen1.5-MoE-A2.7B (H 2048, I 1408, 60 experts, top-4) on the cpu backend:
 * every implementation, float32 and bfloat16 weights, T in {1, 4, 16, 64, 128, 512}, median ms,
 * GFLOP/s and weight GB/s, next to the ceilings measured in the same run (OpenBLAS sgemm 2048^3
 * through numpy, the backend's own 2048^3 GEMM, a memory read-bandwidth probe).
 *
 *   node --import tsx bench/cpu/experts.ts [--threads 2] [--t 1,4,16] [--dtypes float32,bfloat16] [--impls grouped_mm]
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import { Experts } from "../../src/experts/experts.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import { Tensor } from "../../src/tensor.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const THREADS = Number(args.get("threads") ?? 2);
const TS = (args.get("t") ?? "1,4,16,64,128,512").split(",").map(Number);
const DTYPES = (args.get("dtypes") ?? "float32,bfloat16").split(",") as ("float32" | "bfloat16")[];
const IMPLS = (args.get("impls") ?? "eager,batched_mm,grouped_mm").split(",");
const H = 2048;
const I = 1408;
const E = 60;
const K = 4;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randF32(r: () => number, n: number, scale: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * scale;
  return v;
}

function toBf16(v: Float32Array): Uint16Array {
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const b = u[i]!;
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Median ms of fn: at least 3 runs after a warm-up, more while under ~1.5 s (at most 15). */
async function timeIt(fn: () => unknown): Promise<number> {
  await fn();
  const ts: number[] = [];
  const start = performance.now();
  while (ts.length < 3 || (ts.length < 15 && performance.now() - start < 1500)) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

function openblasGemm(): { ms: number; gflops: number; detail: string } | null {
  const py = ["/work/venv/bin/python", "python3"].find((p) => p === "python3" || existsSync(p))!;
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(THREADS), OMP_NUM_THREADS: String(THREADS) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const code = `
import time, numpy as np
n = 2048
rs = np.random.default_rng(0)
a = rs.standard_normal((n, n), dtype=np.float32); b = rs.standard_normal((n, n), dtype=np.float32)
for _ in range(3): a @ b
ts = []
for _ in range(9):
    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
ts.sort()
cfg = ''
try:
    from threadpoolctl import threadpool_info
    cfg = str([(i.get('internal_api'), i.get('architecture'), i.get('num_threads')) for i in threadpool_info()])
except Exception:
    pass
print(ts[4] * 1e3, np.__version__, cfg)
`;
  for (const p of [py, "python3"]) {
    const res = spawnSync(p, ["-c", code], { env, encoding: "utf8", timeout: 120_000 });
    if (res.status === 0) {
      const [ms, ver, ...rest] = res.stdout.trim().split(" ");
      const t = Number(ms);
      return { ms: t, gflops: (2 * 2048 ** 3) / (t * 1e6), detail: `numpy ${ver} ${rest.join(" ")}`.trim() };
    }
  }
  return null;
}

async function main(): Promise<void> {
  const backend = new CpuBackend({ threads: THREADS });
  const nat = backend.native;
  const cpuModel = os.cpus()[0]?.model ?? "unknown";
  console.log(`# moekit cpu backend — experts layer of Qwen1.5-MoE-A2.7B (H ${H}, I ${I}, E ${E}, top-${K})`);
  console.log(`# ${new Date().toISOString().slice(0, 10)}, ${cpuModel}, ${os.cpus().length} logical cores, Node ${process.version}, isa ${backend.isa}, ${backend.threads} threads`);

  // ---- ceilings --------------------------------------------------------------------------------
  const ob = openblasGemm();
  console.log(ob ? `ceiling  OpenBLAS sgemm 2048^3 (${ob.detail}): ${ob.ms.toFixed(1)} ms, ${ob.gflops.toFixed(1)} GFLOP/s` : "ceiling  OpenBLAS: python3 with numpy not found, skipped");
  const r = rng(42);
  const gx = Tensor.from(randF32(r, 2048 * 2048, 1), [2048, 2048]);
  const gwF = randF32(r, 2048 * 2048, 1);
  const gemm: Record<string, number> = {};
  for (const [dt, w] of [
    ["float32", Tensor.from(gwF, [2048, 2048])],
    ["bfloat16", Tensor.from(toBf16(gwF), [2048, 2048], "bfloat16")],
  ] as const) {
    const ms = await timeIt(() => backend.linear(gx, w));
    gemm[dt] = (2 * 2048 ** 3) / (ms * 1e6);
    console.log(`ceiling  moekit linear 2048^3 ${dt} weights: ${ms.toFixed(1)} ms, ${gemm[dt]!.toFixed(1)} GFLOP/s${ob ? ` (${((100 * gemm[dt]!) / ob.gflops).toFixed(0)}% of OpenBLAS)` : ""}`);
  }
  const probe = new Float32Array(256 * 1024 * 1024 / 4 * 4); // 1 GiB
  probe.fill(1);
  const probeMs = await timeIt(() => nat.readProbe(probe));
  const bw = probe.byteLength / (probeMs * 1e6);
  console.log(`ceiling  memory read bandwidth (1 GiB, ${THREADS} threads): ${bw.toFixed(1)} GB/s`);
  console.log(`load average at start: ${os.loadavg().map((v) => v.toFixed(2)).join(" ")} (other processes skew every figure)`);
  const peak = Math.max(ob?.gflops ?? 0, gemm.float32!, gemm.bfloat16!);

  // ---- the experts layer -----------------------------------------------------------------------
  const wF32 = {
    gateUp: randF32(r, E * 2 * I * H, 0.02),
    down: randF32(r, E * H * I, 0.02),
  };
  console.log("");
  console.log("| weights | T | implementation | median ms | GFLOP/s | weight GB/s | roofline floor ms | floor / time |");
  console.log("|---|---|---|---|---|---|---|---|");
  const rows: string[] = [];
  for (const dtype of DTYPES) {
    const gateUp = dtype === "float32" ? Tensor.from(wF32.gateUp, [E, 2 * I, H]) : Tensor.from(toBf16(wF32.gateUp), [E, 2 * I, H], "bfloat16");
    const down = dtype === "float32" ? Tensor.from(wF32.down, [E, H, I]) : Tensor.from(toBf16(wF32.down), [E, H, I], "bfloat16");
    const weights: ExpertsWeights = { numExperts: E, hiddenSize: H, intermediateSize: I, gateUp, down, gate: { kind: "concatenated", act: "silu" } };
    const bytesPerExpert = 3 * H * I * (dtype === "float32" ? 4 : 2);
    for (const t of TS) {
      const rt = rng(1000 + t);
      const hidden = Tensor.from(randF32(rt, t * H, 1), [t, H]);
      const ids = new Int32Array(t * K);
      const wts = new Float32Array(t * K);
      const used = new Set<number>();
      for (let tok = 0; tok < t; tok++) {
        const pool = [...Array(E).keys()];
        for (let j = 0; j < K; j++) {
          const e = pool.splice(Math.floor(rt() * pool.length), 1)[0]!;
          ids[tok * K + j] = e;
          wts[tok * K + j] = 0.1 + rt();
          used.add(e);
        }
      }
      const idx = Tensor.from(ids, [t, K]);
      const tw = Tensor.from(wts, [t, K]);
      const flops = t * K * 3 * 2 * H * I;
      const bytes = used.size * bytesPerExpert;
      const floor = Math.max(bytes / (bw * 1e6), flops / (peak * 1e6));
      for (const impl of IMPLS) {
        const ex = new Experts(weights, { backend, implementation: impl });
        const ms = await timeIt(() => ex.forward(hidden, idx, tw));
        const row = `| ${dtype} | ${t} | ${impl} | ${ms.toFixed(2)} | ${(flops / (ms * 1e6)).toFixed(1)} | ${(bytes / (ms * 1e6)).toFixed(1)} | ${floor.toFixed(2)} | ${((100 * floor) / ms).toFixed(0)}% |`;
        rows.push(row);
        console.log(row);
      }
    }
  }
  console.log("");
  console.log(`roofline floor = max(weight bytes of the experts hit / ${bw.toFixed(1)} GB/s, FLOPs / ${peak.toFixed(1)} GFLOP/s)`);
}

await main();
