/**
 * Experts layer of Qwen1.5-MoE-A2.7B (H 2048, I 1408, 60 experts, top-4) on the cpu backend:
 * every implementation, float32 weights (float32 compute) and bfloat16 weights (float32 and bfloat16
 * compute), T in {1, 4, 16, 64, 128, 512}, median ms, GFLOP/s and weight GB/s, next to the ceilings
 * measured in the same run (OpenBLAS sgemm 2048^3 through numpy, torch's bf16 matmul 2048^3, the
 * backend's own 2048^3 GEMMs, a memory read-bandwidth probe) and two peers: transformers (its experts
 * module with each of its implementations, bench/peers/transformers_experts.py; skipped when
 * /work/venv/bin/python or python3 lacks torch + transformers) and onnxruntime (com.microsoft.MoE on
 * the CPU EP, bench/peers/onnxruntime/moe-peer.ts with the same seeded weights and routing, float32
 * weights only here; skipped until `bash bench/peers/onnxruntime/install.sh` has installed it).
 *
 *   node --import tsx bench/cpu/experts.ts [--threads 2] [--t 1,4,16] [--modes f32,bf16w,bf16c]
 *        [--impls grouped_mm] [--peer 0] [--python /path/to/python] [--rounds 2] [--budget-ms 1500]
 * --rounds N runs the whole grid N times (peers and ours interleaved case by case each time) and keeps
 * the best median of each side: on a shared machine, load bursts then hit both sides alike.
 * --peer 0 disables both peers.
 * modes: f32 = float32 weights, float32 compute; bf16w = bfloat16 weights, float32 compute;
 *        bf16c = bfloat16 weights, bfloat16 compute (createCpuBackend({ compute: "bfloat16" })).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import { Experts } from "../../src/experts/experts.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import { spawnJsonLines } from "../../src/bench/json-lines-child.js";
import { randomFloats as randF32, rng } from "../../src/bench/random.js";
import { median } from "../../src/bench/stats.js";
import { timeRuns } from "../../src/bench/timing.js";
import { OrtPeer, type OrtPeerResult } from "../peers/onnxruntime/client.js";
import { Tensor } from "../../src/tensor.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const THREADS = Number(args.get("threads") ?? 2);
const TS = (args.get("t") ?? "1,4,16,64,128,512").split(",").map(Number);
const MODES = (args.get("modes") ?? "f32,bf16w,bf16c").split(",") as Mode[];
const IMPLS = (args.get("impls") ?? "eager,batched_mm,grouped_mm").split(",");
const PEER = (args.get("peer") ?? "1") !== "0";
/** Passes over the whole grid (peers and ours, case by case); each figure is the best median over the passes. */
const ROUNDS = Math.max(1, Number(args.get("rounds") ?? 1));
/** Timing window of one case, ms (at least 3 runs, at most 15). */
const BUDGET = Number(args.get("budget-ms") ?? 1500);
type Mode = "f32" | "bf16w" | "bf16c";
const MODE_INFO: Record<Mode, { dtype: "float32" | "bfloat16"; compute: "float32" | "bfloat16" }> = {
  f32: { dtype: "float32", compute: "float32" },
  bf16w: { dtype: "bfloat16", compute: "float32" },
  bf16c: { dtype: "bfloat16", compute: "bfloat16" },
};
const PYTHON = args.get("python") ?? ["/work/venv/bin/python", "python3"].find((p) => p === "python3" || existsSync(p))!;
const here = dirname(fileURLToPath(import.meta.url));
const H = 2048;
const I = 1408;
const E = 60;
const K = 4;

function toBf16(v: Float32Array): Uint16Array {
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const b = u[i]!;
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Median ms of fn: at least 3 runs after a warm-up, more while under the budget (at most 15). */
async function timeIt(fn: () => unknown): Promise<number> {
  return median(await timeRuns(fn, { kind: "budget", budgetMs: BUDGET }));
}

function openblasGemm(): { ms: number; gflops: number; torchBf16: number; detail: string } | null {
  const py = PYTHON;
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
bf = -1.0
try:
    import torch
    torch.set_num_threads(${THREADS})
    x = torch.randn(n, n, dtype=torch.bfloat16); y = torch.randn(n, n, dtype=torch.bfloat16)
    for _ in range(3): x @ y
    tb = []
    for _ in range(9):
        t = time.perf_counter(); x @ y; tb.append(time.perf_counter() - t)
    tb.sort(); bf = tb[4] * 1e3
except Exception:
    pass
print(ts[4] * 1e3, bf, np.__version__, cfg.replace(' ', ''))
`;
  for (const p of [py, "python3"]) {
    const res = spawnSync(p, ["-c", code], { env, encoding: "utf8", timeout: 120_000 });
    if (res.status === 0) {
      const [ms, bf, ver, ...rest] = res.stdout.trim().split(" ");
      const t = Number(ms);
      const tb = Number(bf);
      return { ms: t, gflops: (2 * 2048 ** 3) / (t * 1e6), torchBf16: tb > 0 ? (2 * 2048 ** 3) / (tb * 1e6) : 0, detail: `numpy ${ver} ${rest.join(" ")}`.trim() };
    }
  }
  return null;
}

/** 1 GiB read by the backend's probe (all its threads, streaming as the kernels do). */
const bwProbe = new Float32Array((1 << 30) / 4).fill(1);

/** GB/s of the read probe: the median of `runs` passes over `buf`. */
function readBandwidth(backend: CpuBackend, buf: Float32Array, runs: number): number {
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    backend.readProbe(buf);
    ts.push(performance.now() - t0);
  }
  return buf.byteLength / (median(ts) * 1e6);
}

/** moekit's 2048^3 GEMMs and the read-bandwidth probe (printed with a tag). */
async function measureCeilings(backend: CpuBackend, bf16Backend: CpuBackend, ob: ReturnType<typeof openblasGemm>, tag: string) {
  const r = rng(7);
  const gx = Tensor.from(randF32(r, 2048 * 2048, 1), [2048, 2048]);
  const gwF = randF32(r, 2048 * 2048, 1);
  const gemm: Record<string, number> = {};
  for (const [name, be, w] of [
    ["float32 weights", backend, Tensor.from(gwF, [2048, 2048])],
    ["bfloat16 weights", backend, Tensor.from(toBf16(gwF), [2048, 2048], "bfloat16")],
    ["bfloat16 weights, bfloat16 compute", bf16Backend, Tensor.from(toBf16(gwF), [2048, 2048], "bfloat16")],
  ] as const) {
    const ms = await timeIt(() => be.linear(gx, w));
    gemm[name] = (2 * 2048 ** 3) / (ms * 1e6);
    console.log(`ceiling  (${tag}) moekit linear 2048^3 ${name}: ${ms.toFixed(1)} ms, ${gemm[name]!.toFixed(1)} GFLOP/s${ob ? ` (${((100 * gemm[name]!) / ob.gflops).toFixed(0)}% of OpenBLAS sgemm)` : ""}`);
  }
  const bw = readBandwidth(backend, bwProbe, 9);
  console.log(`ceiling  (${tag}) memory read bandwidth (1 GiB, ${THREADS} threads): ${bw.toFixed(1)} GB/s`);
  console.log(`load average (${tag}): ${os.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
  return { gemm, bw };
}

/** One line of the transformers peer: onnxruntime's line and torch's version. */
interface PeerResult extends OrtPeerResult {
  torch?: string;
}

/** The transformers peer as a persistent process (bench/peers/transformers_experts.py --serve), or null. */
async function startPeer(): Promise<{ run(dtype: string, t: number, budgetMs: number): Promise<PeerResult[]>; close(): void; version: string } | null> {
  if (!PEER) return null;
  const script = join(here, "..", "peers", "transformers_experts.py");
  const check = spawnSync(PYTHON, [script, "--check"], { encoding: "utf8" });
  if (check.status !== 0) {
    console.log(`peer     transformers: ${PYTHON} has no torch + transformers, skipped`);
    return null;
  }
  const child = spawnJsonLines(PYTHON, [script, "--serve", JSON.stringify({ threads: THREADS, seed: 0 })]);
  const ready = await child.next();
  if (!ready) {
    console.log("peer     transformers: the peer process exited at start, skipped");
    return null;
  }
  const state = { version: "?" };
  return {
    get version() {
      return state.version;
    },
    async run(dtype: string, t: number, budgetMs: number): Promise<PeerResult[]> {
      if (child.exited) return [];
      child.send({ dtype, t, impls: ["eager", "batched_mm", "grouped_mm"], budget_ms: budgetMs });
      const out: PeerResult[] = [];
      for (;;) {
        const o = await child.next();
        if (!o || o.done) break;
        const r = o as unknown as PeerResult;
        if (r.version) state.version = `transformers ${r.version}, torch ${r.torch}`;
        out.push(r);
      }
      return out;
    },
    close() {
      child.close();
    },
  };
}

async function main(): Promise<void> {
  const backend = new CpuBackend({ threads: THREADS });
  const cpuModel = os.cpus()[0]?.model ?? "unknown";
  console.log(`# moekit cpu backend — experts layer of Qwen1.5-MoE-A2.7B (H ${H}, I ${I}, E ${E}, top-${K})`);
  console.log(`# ${new Date().toISOString().slice(0, 10)}, ${cpuModel}, ${os.cpus().length} logical cores, Node ${process.version}, isa ${backend.isa}, ${backend.threads} threads`);

  // ---- ceilings --------------------------------------------------------------------------------
  const ob = openblasGemm();
  console.log(ob ? `ceiling  OpenBLAS sgemm 2048^3 (${ob.detail}): ${ob.ms.toFixed(1)} ms, ${ob.gflops.toFixed(1)} GFLOP/s` : "ceiling  OpenBLAS: python3 with numpy not found, skipped");
  if (ob?.torchBf16) console.log(`ceiling  torch bf16 matmul 2048^3 (oneDNN): ${((2 * 2048 ** 3) / (ob.torchBf16 * 1e6)).toFixed(1)} ms, ${ob.torchBf16.toFixed(1)} GFLOP/s`);
  const r = rng(42);
  const bf16Backend = new CpuBackend({ threads: THREADS, compute: "bfloat16" });
  const ceilings = await measureCeilings(backend, bf16Backend, ob, "start");
  // GEMM ceiling of each compute mode: the best float32 GEMM measured, the best bf16-dot GEMM measured.
  // (Measured at the start and again at the end of the run: the floors use the best of the two.)

  // ---- the peers: one persistent process each, asked for each (dtype, T) right before our own
  // measurements of that case, so that all see the same machine load -------------------------------
  const peer = await startPeer();
  // onnxruntime: seed 42 = the weights drawn below; its CPU MoE kernel has no bfloat16, so only the
  // float32 mode asks it
  const ortModes = MODES.filter((m) => MODE_INFO[m].dtype === "float32");
  const ort = PEER && ortModes.length > 0 ? await OrtPeer.start(THREADS, 42) : null;
  if (typeof ort === "string") console.log(`peer     onnxruntime: ${ort}, skipped`);
  const ortPeer = ort instanceof OrtPeer ? ort : null;
  if (PEER && ortModes.length < MODES.length) {
    console.log("peer     onnxruntime: its CPU MoE kernel takes float32 and float16 weights, no bfloat16: — in the bfloat16 rows");
  }

  const wF32 = {
    gateUp: randF32(r, E * 2 * I * H, 0.02),
    down: randF32(r, E * H * I, 0.02),
  };
  const wBf16 = { gateUp: toBf16(wF32.gateUp), down: toBf16(wF32.down) };
  type PeerMs = { ms: number; impl: string };
  const faster = (a: PeerMs | undefined, b: PeerMs | undefined) => (!a || (b && b.ms < a.ms) ? b : a);
  const results = new Map<string, { dtype: string; compute: string; t: number; impl: string; ms: number; bw: number; flops: number; bytes: number; peer?: PeerMs; ort?: PeerMs }>();
  const backends = { float32: backend, bfloat16: bf16Backend };
  const peerLog: string[] = [];
  for (let round = 0; round < ROUNDS; round++)
  for (const mode of MODES) {
    const { dtype, compute } = MODE_INFO[mode];
    const gateUp = dtype === "float32" ? Tensor.from(wF32.gateUp, [E, 2 * I, H]) : Tensor.from(wBf16.gateUp, [E, 2 * I, H], "bfloat16");
    const down = dtype === "float32" ? Tensor.from(wF32.down, [E, H, I]) : Tensor.from(wBf16.down, [E, H, I], "bfloat16");
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
      let p: { ms: number; impl: string } | undefined;
      if (peer) {
        const res = await peer.run(dtype, t, BUDGET);
        for (const o of res) {
          peerLog.push(`round ${round + 1} ${mode} ${o.dtype} T=${o.t} ${o.impl}: ${o.ms !== undefined ? o.ms.toFixed(2) + " ms" : o.error}`);
          if (o.ms !== undefined && (!p || o.ms < p.ms)) p = { ms: o.ms, impl: o.impl };
        }
      }
      let q: PeerMs | undefined;
      if (ortPeer?.supports(dtype)) {
        for (const o of await ortPeer.run(dtype, t, BUDGET)) {
          peerLog.push(`round ${round + 1} ${mode} ${o.dtype} T=${o.t} onnxruntime ${ortPeer.version} ${o.impl}: ${o.ms !== undefined ? o.ms.toFixed(2) + " ms" : o.error}`);
          if (o.ms !== undefined) q = faster(q, { ms: o.ms, impl: o.impl });
        }
      }
      // The read bandwidth right before this case's own measurements (it drifts with the machine's other
      // tenants): the weight-bytes floor of the case uses it.
      const caseBw = readBandwidth(backend, bwProbe, 3);
      for (const impl of IMPLS) {
        const ex = new Experts(weights, { backend: backends[compute], implementation: impl });
        const ms = await timeIt(() => ex.forward(hidden, idx, tw));
        const key = `${mode}/${t}/${impl}`;
        const prev = results.get(key);
        const better = !prev || ms < prev.ms;
        results.set(key, {
          dtype, compute, t, impl, ms: better ? ms : prev.ms, bw: better ? caseBw : prev.bw, flops, bytes,
          peer: faster(prev?.peer, p), ort: faster(prev?.ort, q),
        });
        const beside = [p ? `transformers best ${p.ms.toFixed(2)} ms, ${p.impl}` : "", q ? `onnxruntime ${q.ms.toFixed(2)} ms` : ""].filter((x) => x);
        console.log(`measured round ${round + 1} ${mode} T=${t} ${impl}: ${ms.toFixed(2)} ms${beside.length ? ` (${beside.join("; ")})` : ""}`);
      }
    }
  }
  peer?.close();
  ortPeer?.close();
  const ob2 = openblasGemm();
  if (ob2) console.log(`ceiling  (end) OpenBLAS sgemm 2048^3: ${ob2.ms.toFixed(1)} ms, ${ob2.gflops.toFixed(1)} GFLOP/s; torch bf16 matmul ${ob2.torchBf16.toFixed(1)} GFLOP/s`);
  const end = await measureCeilings(backend, bf16Backend, ob2 ?? ob, "end");
  const best = (k: string) => Math.max(ceilings.gemm[k]!, end.gemm[k]!);
  const peakF32 = Math.max(ob?.gflops ?? 0, ob2?.gflops ?? 0, best("float32 weights"), best("bfloat16 weights"));
  const peakBf16 = Math.max(ob?.torchBf16 ?? 0, ob2?.torchBf16 ?? 0, best("bfloat16 weights, bfloat16 compute"), peakF32);
  console.log("");
  console.log("| weights | compute | T | implementation | median ms | GFLOP/s | weight GB/s | read GB/s beside | roofline floor ms | floor / time | transformers best ms | vs transformers | onnxruntime ms | vs onnxruntime |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const x of results.values()) {
    const floor = Math.max(x.bytes / (x.bw * 1e6), x.flops / ((x.compute === "bfloat16" ? peakBf16 : peakF32) * 1e6));
    const vs = x.peer ? `${(x.peer.ms / x.ms).toFixed(2)}x` : "—";
    const vsOrt = x.ort ? `${(x.ort.ms / x.ms).toFixed(2)}x` : "—";
    console.log(
      `| ${x.dtype} | ${x.compute} | ${x.t} | ${x.impl} | ${x.ms.toFixed(2)} | ${(x.flops / (x.ms * 1e6)).toFixed(1)} | ${(x.bytes / (x.ms * 1e6)).toFixed(1)} | ${x.bw.toFixed(1)} | ${floor.toFixed(2)} | ${((100 * floor) / x.ms).toFixed(0)}% | ${x.peer ? `${x.peer.ms.toFixed(1)} (${x.peer.impl})` : "—"} | ${vs} | ${x.ort ? x.ort.ms.toFixed(1) : "—"} | ${vsOrt} |`,
    );
  }
  if (peer || ortPeer) {
    console.log("");
    const names = [peer ? `transformers experts module (${peer.version})` : "", ortPeer ? `onnxruntime-node ${ortPeer.version} com.microsoft.MoE (CPU EP)` : ""].filter((x) => x);
    console.log(`peer     ${names.join(" and ")}, ${THREADS} threads, median ms, measured just before each case:`);
    for (const l of peerLog) console.log(`peer       ${l}`);
  }
  console.log("");
  console.log(`load average at end: ${os.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
  console.log(`roofline floor = max(weight bytes of the experts hit / the read bandwidth measured right before the case (read GB/s beside; ${ceilings.bw.toFixed(1)} at start, ${end.bw.toFixed(1)} at end), FLOPs / GEMM ceiling of the compute mode (best of start and end): float32 ${peakF32.toFixed(1)}, bfloat16 ${peakBf16.toFixed(1)} GFLOP/s)`);
  console.log("vs transformers = transformers' best implementation's median / ours (same weight dtype; transformers computes a bf16 model in bf16)");
  console.log("vs onnxruntime = onnxruntime's com.microsoft.MoE median / ours (same float32 weights and routing; intra-op threads as ours, graph optimizations on)");
}

await main();
