/**
 * Prefill products on quantized weights, A/B between two builds of the native addon in one process (the int8
 * GEMM against the widened-panel path it replaces): plain products y = x·Wᵀ at M = 16, 128, 512 for [2048, 2048]
 * and [11264, 2048] (Qwen1.5-MoE's attention projection and shared-expert gate_up), and the fused experts layer
 * (60 experts, hidden 2048, width 1408, top-4) at T = 128, 512, with bfloat16 beside them.
 *
 *   node --import tsx bench/quant/prefill.ts --a /path/to/old/moekit_native.node [--rounds 9] [--threads 2]
 *        [--formats q8_0,q4_0] [--cases linear,experts]
 *
 * Build B is the one the cpu backend loads (build/Release, or MOEKIT_NATIVE); build A is loaded beside it
 * (its own thread pool) and driven through a second backend object. Calls alternate A, B, A, B … per case,
 * with a 2 ms pause at each switch (the idle pool stops spinning), so load drifts on a shared machine hit both
 * alike; the table gives each build's median and minimum, the ratio of medians (A ms / B ms), and the median
 * CPU time per call of the process (user + system: on a loaded machine it counts the work, not the waiting;
 * with threads > 1 it includes the pool's idle spinning, up to 0.8 ms per worker after each call).
 */
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { loadavg } from "node:os";
import { CpuBackend, type NativeAddon } from "../../src/backends/cpu/index.js";
import { randomFloats, randomTopk, rng } from "../../src/bench/random.js";
import { toBf16Bits } from "../../src/dtype.js";
import { quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { rowBytes } from "../../src/formats/table.js";
import { Tensor } from "../../src/tensor.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const THREADS = Number(args.get("threads") ?? 2);
const FORMATS = (args.get("formats") ?? "q8_0,q4_0").split(",");
const ROUNDS = Number(args.get("rounds") ?? 9);
const E = 60;
const H = 2048;
const I = 1408;
const TOPK = 4;

/** [rows, cols] of `format` (or bfloat16): 64 random rows quantized once and repeated (the time depends on the bytes, not the values). */
function weights(lead: number[], rows: number, cols: number, format: string, r: () => number): Tensor {
  const tile = Float32Array.from(randomFloats(r, 64 * cols), (v) => v * 0.05);
  const total = lead.reduce((a, b) => a * b, 1) * rows;
  if (format === "bfloat16") {
    const one = Uint16Array.from(tile, (v) => toBf16Bits(v));
    const out = new Uint16Array(total * cols);
    for (let at = 0; at < out.length; at += one.length) out.set(one.subarray(0, Math.min(one.length, out.length - at)), at);
    return new Tensor([...lead, rows, cols], "bfloat16", out);
  }
  const one = quantizeRows(tile, 64, cols, format as QuantFormat);
  const out = new Uint8Array(total * rowBytes(format as QuantFormat, cols));
  for (let at = 0; at < out.length; at += one.length) out.set(one.subarray(0, Math.min(one.length, out.length - at)), at);
  return new Tensor([...lead, rows, cols], format as QuantFormat, out);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function main(): void {
  const a = args.get("a");
  if (!a) throw new Error("prefill bench: --a <path of the baseline moekit_native.node> is required");
  const B = new CpuBackend({ threads: THREADS });
  const A = new CpuBackend({ threads: THREADS });
  (A as { native: NativeAddon }).native = createRequire(import.meta.url)(resolve(a)) as NativeAddon;
  A.setThreads(THREADS);
  const cases = (args.get("cases") ?? "linear,experts").split(",");
  const r = rng(5);
  const load0 = loadavg()[0]!;
  console.log(`# A = ${resolve(a)}; B = the build the cpu backend loads; ${THREADS} threads, ${ROUNDS} alternating calls each`);
  console.log("| case | A median ms | B median ms | A min | B min | A / B (medians) | A cpu ms | B cpu ms | A / B (cpu) |\n|---|---|---|---|---|---|---|---|---|");
  const time = (name: string, run: (b: CpuBackend) => void) => {
    run(A);
    run(B);
    const ms: Record<"A" | "B", number[]> = { A: [], B: [] };
    const cpu: Record<"A" | "B", number[]> = { A: [], B: [] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const [k, be] of [
        ["A", A],
        ["B", B],
      ] as const) {
        pause(2);
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        run(be);
        ms[k].push(performance.now() - t0);
        const c1 = process.cpuUsage(c0);
        cpu[k].push((c1.user + c1.system) / 1000);
      }
    }
    const [ma, mb] = [median(ms.A), median(ms.B)];
    const [ca, cb] = [median(cpu.A), median(cpu.B)];
    console.log(`| ${name} | ${ma.toFixed(2)} | ${mb.toFixed(2)} | ${Math.min(...ms.A).toFixed(2)} | ${Math.min(...ms.B).toFixed(2)} | ${(ma / mb).toFixed(2)} | ${ca.toFixed(1)} | ${cb.toFixed(1)} | ${(ca / cb).toFixed(2)} |`);
  };
  for (const format of ["bfloat16", ...FORMATS]) {
    if (cases.includes("linear")) {
      for (const [n, k] of [
        [2048, 2048],
        [11264, 2048],
      ] as const) {
        const w = weights([], n, k, format, r);
        for (const m of [16, 128, 512]) {
          const x = Tensor.from(randomFloats(r, m * k), [m, k]);
          time(`${format} linear ${n}x${k} M=${m}`, (b) => void b.linear(x, w));
        }
      }
    }
    if (cases.includes("experts")) {
      const projection = weights([E], 2 * I, H, format, r);
      const down = weights([E], H, I, format, r);
      for (const t of [128, 512]) {
        const hidden = Tensor.from(randomFloats(r, t * H), [t, H]);
        const topkIndex = Tensor.from(randomTopk(r, t, E, TOPK), [t, TOPK]);
        const topkWeights = Tensor.from(Float32Array.from({ length: t * TOPK }, () => 0.25), [t, TOPK]);
        time(`${format} experts T=${t}`, (b) => void b.fusedExperts({ hidden, topkIndex, topkWeights, projection, down, gate: { kind: "concatenated", act: "silu" } }));
      }
    }
  }
  console.log(`# load average ${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`);
}

main();
