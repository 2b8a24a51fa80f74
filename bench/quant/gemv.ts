/**
 * Quantized GEMV at T = 1 (the decode product) on a Qwen-sized matrix, every block format next to the
 * bfloat16 GEMV of the cpu backend (`linear`, M = 1), with the memory read bandwidth measured in the
 * same run (the addon's multi-threaded read probe, 32 MiB per call over 256 MiB).
 *
 *   node --import tsx bench/quant/gemv.ts [--n 2816] [--k 2048] [--threads 2] [--isas avx512vnni,avx2]
 *        [--formats q8_0,q4_0,...] [--budget-ms 250] [--rounds 12]
 *
 * "cold": each call reads the next of enough copies of the matrix to span 256 MiB, so the weights stream
 * from memory as in a model's decode; "hot": one copy, read again and again (it may sit in L2/L3).
 * GB/s = weight bytes read per call / the best time per call (lowest over many batches: the machine
 * may be shared). The activation is quantized in each call (per 32 or
 * 256 values to int8; fp8 keeps float32), as the GEMV of a layer would.
 */
import { loadNative } from "../../src/backends/cpu/native.js";
import { randomFloats, rng } from "../../src/bench/random.js";
import { toBf16Bits } from "../../src/dtype.js";
import { QUANT_FORMATS, quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { nativeQuant } from "../../src/formats/quant/native.js";
import { formatInfo, rowBytes } from "../../src/formats/table.js";
import { alignedBytes, alignedInt32 } from "../../src/formats/aligned.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const N = Number(args.get("n") ?? 2816);
const K = Number(args.get("k") ?? 2048);
const THREADS = Number(args.get("threads") ?? 2);
const BUDGET = Number(args.get("budget-ms") ?? 250);
/** Passes over every case; each figure is the best over the passes (load bursts on a shared machine then miss some pass). */
const ROUNDS = Math.max(1, Number(args.get("rounds") ?? 12));
const SPAN = 256 * 2 ** 20;
const PROBE_CHUNK = 32 * 2 ** 20;
const addon = loadNative();
const quant = nativeQuant();
addon.setThreads(THREADS);
const ISAS = (args.get("isas") ?? quant.isas().filter((i) => i !== "scalar").reverse().join(",")).split(",");
const FORMATS = (args.get("formats") ?? QUANT_FORMATS.join(",")).split(",") as QuantFormat[];

/** `copies` back-to-back copies of `one` (distinct memory, same content), allocated as moekit allocates weights. */
function replicate<T extends Uint8Array | Uint16Array>(one: T, copies: number): T {
  const bytes = alignedBytes(one.byteLength * copies);
  const out = new (one.constructor as new (b: ArrayBufferLike, at: number, n: number) => T)(bytes.buffer, bytes.byteOffset, one.length * copies);
  for (let c = 0; c < copies; c++) out.set(one, c * one.length);
  return out;
}

/**
 * Lowest per-call ms over batches of `reps` calls within the time budget (at least 20 batches): on a
 * shared machine the fastest batch is the one least disturbed by other work.
 */
function bestMs(run: (call: number) => void, reps: number): number {
  let best = Infinity;
  let call = 0;
  const start = performance.now();
  for (let batch = 0; batch < 20 || performance.now() - start < BUDGET; batch++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run(call++);
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best;
}

const r = rng(2026);
const wf = randomFloats(r, N * K, 0.05);
const x = randomFloats(r, K, 1);
const y = new Float32Array(N);

const probe = alignedInt32(SPAN / 4).fill(1);

interface Case {
  name: string;
  isa: string;
  bytes: number;
  hot: (call: number) => void;
  cold: (call: number) => void;
  reps: number;
  widen?: () => void;
  best: { hot: number; cold: number; widen: number };
}
const cases: Case[] = [];
const none = () => ({ hot: Infinity, cold: Infinity, widen: Infinity });

const bf = Uint16Array.from(wf, (v) => toBf16Bits(v));
const bfCopies = Math.max(2, Math.ceil(SPAN / bf.byteLength));
const bfAll = replicate(bf, bfCopies);
const bfRun = (copy: number) =>
  addon.linear({ x, m: 1, k: K, n: N, w: { format: formatInfo("bfloat16").code, rows: N, cols: K, segments: [{ data: bfAll, byteOffset: copy * N * K * 2, rows: N }] }, y });
cases.push({ name: "bfloat16", isa: "cpu linear", bytes: bf.byteLength, hot: () => bfRun(0), cold: (c) => bfRun(c % bfCopies), reps: 2, best: none() });

for (const format of FORMATS) {
  const f = formatInfo(format);
  if (K % f.blockElems !== 0) continue;
  const t0 = performance.now();
  const one = quantizeRows(wf, N, K, format);
  console.error(`# ${format}: host quantizer ${((performance.now() - t0) / 1000).toFixed(1)} s for ${((N * K) / 1e6).toFixed(1)} M values`);
  const copies = Math.max(2, Math.ceil(SPAN / one.length));
  const all = replicate(one, copies);
  const rb = rowBytes(format, K);
  const widened = new Float32Array(N * K);
  ISAS.forEach((isa, i) => {
    const run = (copy: number) => quant.gemv(f.code, all.subarray(copy * N * rb, (copy + 1) * N * rb), N, K, x, 1, y, isa);
    const widen = i === 0 ? () => quant.widen(f.code, one, N, K, widened) : undefined;
    cases.push({ name: format, isa, bytes: one.length, hot: () => run(0), cold: (c) => run(c % copies), reps: 4, widen, best: none() });
  });
}

let probeMs = Infinity;
for (let round = 0; round < ROUNDS; round++) {
  // the probe reads 32 MiB per call, the chunks in turn: short calls find undisturbed moments on a busy machine
  const chunk = PROBE_CHUNK / 4;
  probeMs = Math.min(probeMs, bestMs((c) => addon.readProbe(probe.subarray((c % (SPAN / PROBE_CHUNK)) * chunk, ((c % (SPAN / PROBE_CHUNK)) + 1) * chunk)), 1));
  for (const c of cases) {
    c.best.hot = Math.min(c.best.hot, bestMs(c.hot, c.reps));
    c.best.cold = Math.min(c.best.cold, bestMs(c.cold, c.reps));
    if (c.widen) c.best.widen = Math.min(c.best.widen, bestMs(c.widen, 1));
  }
}

const bw = PROBE_CHUNK / 1e6 / probeMs;
const bfCold = cases[0]!.best.cold;
console.log(`# GEMV [${N}, ${K}] at T = 1, ${THREADS} threads, best of ${ROUNDS} rounds; read probe ${bw.toFixed(1)} GB/s (32 MiB reads over ${SPAN / 2 ** 20} MiB)`);
const head = ["format", "kernels", "MiB", "hot ms", "hot GB/s", "cold ms", "cold GB/s", "% of probe", "speed vs bf16 (cold)", "widen to f32 (1 thread)"];
console.log(`| ${head.join(" | ")} |\n|${head.map(() => "---").join("|")}|`);
for (const c of cases) {
  const { hot, cold, widen } = c.best;
  const gbs = (ms: number) => (c.bytes / 1e6 / ms).toFixed(1);
  const widenCol = Number.isFinite(widen) ? `${((N * K * 4) / 1e6 / widen).toFixed(1)} GB/s out` : "";
  const cells = [c.name, c.isa, (c.bytes / 2 ** 20).toFixed(2), hot.toFixed(3), gbs(hot), cold.toFixed(3), gbs(cold), ((100 * c.bytes) / 1e6 / cold / bw).toFixed(0), (bfCold / cold).toFixed(2), widenCol];
  console.log(`| ${cells.join(" | ")} |`);
}
