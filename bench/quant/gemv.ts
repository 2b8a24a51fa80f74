/**
 * Quantized GEMV at T = 1 (the decode product) on a Qwen-sized matrix, every block format next to the
 * bfloat16 GEMV of the cpu backend (`linear`, M = 1), with the memory read bandwidth measured in the
 * same run (the addon's multi-threaded read probe over 256 MiB).
 *
 *   node --import tsx bench/quant/gemv.ts [--n 2816] [--k 2048] [--threads 2] [--isas avx512vnni,avx2]
 *        [--formats q8_0,q4_0,...] [--budget-ms 1500]
 *
 * "cold": each call reads the next of enough copies of the matrix to span 256 MiB, so the weights stream
 * from memory as in a model's decode; "hot": one copy, read again and again (it may sit in L2/L3).
 * GB/s = weight bytes read per call / median time. The activation is quantized in each call (per 32 or
 * 256 values to int8; fp8 keeps float32), as the GEMV of a layer would.
 */
import { loadNative } from "../../src/backends/cpu/native.js";
import { randomFloats, rng } from "../../src/bench/random.js";
import { median } from "../../src/bench/stats.js";
import { timeRuns } from "../../src/bench/timing.js";
import { toBf16Bits } from "../../src/dtype.js";
import { QUANT_FORMATS, quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { nativeQuant } from "../../src/formats/quant/native.js";
import { formatInfo, rowBytes } from "../../src/formats/table.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const N = Number(args.get("n") ?? 2816);
const K = Number(args.get("k") ?? 2048);
const THREADS = Number(args.get("threads") ?? 2);
const BUDGET = Number(args.get("budget-ms") ?? 1500);
const SPAN = 256 * 2 ** 20;
const addon = loadNative();
const quant = nativeQuant();
addon.setThreads(THREADS);
const ISAS = (args.get("isas") ?? quant.isas().filter((i) => i !== "scalar").reverse().join(",")).split(",");
const FORMATS = (args.get("formats") ?? QUANT_FORMATS.join(",")).split(",") as QuantFormat[];

/** `copies` back-to-back copies of `one` (distinct memory, same content). */
function replicate<T extends Uint8Array | Uint16Array>(one: T, copies: number): T {
  const out = new (one.constructor as new (n: number) => T)(one.length * copies);
  for (let c = 0; c < copies; c++) out.set(one, c * one.length);
  return out;
}

async function timeIt(fn: (call: number) => void): Promise<number> {
  let call = 0;
  return median(await timeRuns(() => fn(call++), { kind: "budget", budgetMs: BUDGET }));
}

/** Median ms of calls that each run `reps` GEMVs (short calls are batched so timer noise stays small). */
async function gemvMs(run: (copy: number) => void, copies: number, reps: number): Promise<number> {
  return (await timeIt((call) => {
    for (let r = 0; r < reps; r++) run((call * reps + r) % copies);
  })) / reps;
}

const r = rng(2026);
const wf = randomFloats(r, N * K, 0.05);
const x = randomFloats(r, K, 1);
const y = new Float32Array(N);

const probe = new Int32Array(SPAN / 4).fill(1);
const probeMs = await timeIt(() => addon.readProbe(probe));
const bw = SPAN / 1e6 / probeMs;
console.log(`# GEMV [${N}, ${K}] at T = 1, ${THREADS} threads; read probe ${bw.toFixed(1)} GB/s over ${SPAN / 2 ** 20} MiB`);

const bf = Uint16Array.from(wf, (v) => toBf16Bits(v));
const bfBytes = bf.byteLength;
const bfCopies = Math.max(2, Math.ceil(SPAN / bfBytes));
const bfAll = replicate(bf, bfCopies);
const bfRun = (copy: number) => addon.linear(x, 1, K, bfAll, 1, copy * N * K, N, null, 0, 0, y);
const bfHot = await gemvMs(() => bfRun(0), 1, 4);
const bfCold = await gemvMs(bfRun, bfCopies, 4);
const rows: string[][] = [];
const row = (name: string, isa: string, bytes: number, hot: number, cold: number, widen: string) =>
  rows.push([name, isa, (bytes / 2 ** 20).toFixed(2), hot.toFixed(3), (bytes / 1e6 / hot).toFixed(1), cold.toFixed(3), (bytes / 1e6 / cold).toFixed(1), ((100 * bytes) / 1e6 / cold / bw).toFixed(0), (bfCold / cold).toFixed(2), widen]);
row("bfloat16", "cpu linear", bfBytes, bfHot, bfCold, "");

for (const format of FORMATS) {
  const f = formatInfo(format);
  if (K % f.blockElems !== 0) continue;
  const t0 = performance.now();
  const one = quantizeRows(wf, N, K, format);
  const quantizeMs = performance.now() - t0;
  const copies = Math.max(2, Math.ceil(SPAN / one.length));
  const all = replicate(one, copies);
  const rb = rowBytes(format, K);
  const widened = new Float32Array(N * K);
  const widenMs = await timeIt(() => quant.widen(f.code, one, N, K, widened));
  for (const isa of ISAS) {
    const run = (copy: number) => quant.gemv(f.code, all.subarray(copy * N * rb, (copy + 1) * N * rb), N, K, x, 1, y, isa);
    const hot = await gemvMs(() => run(0), 1, 8);
    const cold = await gemvMs(run, copies, 8);
    row(format, isa, one.length, hot, cold, isa === ISAS[0] ? `${((N * K * 4) / 1e6 / widenMs).toFixed(1)} GB/s f32 out` : "");
  }
  console.error(`# ${format}: host quantizer ${(quantizeMs / 1000).toFixed(1)} s for ${((N * K) / 1e6).toFixed(1)} M values`);
}

const head = ["format", "kernels", "MiB", "hot ms", "hot GB/s", "cold ms", "cold GB/s", "% of probe", "vs bf16 (cold)", "widen (1 thread)"];
console.log(`| ${head.join(" | ")} |\n|${head.map(() => "---").join("|")}|`);
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
