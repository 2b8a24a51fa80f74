/**
 * The cpu fused experts layer (CpuBackend.fusedExperts) on quantized stacks beside bfloat16, at Qwen1.5-MoE-A2.7B's
 * dims (60 experts, hidden 2048, expert width 1408, top-4), T = 1 (decode) to 512 (prefill), with the memory read
 * bandwidth measured in the same run.
 *
 *   node --import tsx bench/quant/experts.ts [--threads 2] [--tokens 1,16,128,512] [--dtypes bfloat16,q8_0,...]
 *        [--budget-ms 400] [--rounds 15] [--schedules 1] [--dims qwen|gpt-oss]
 *
 * `--dims gpt-oss`: gpt-oss-20b's experts instead (32 × 2880, hidden 2880, top-4), the same layer otherwise.
 *
 * Weights: random values quantized 64 rows at a time and repeated over the stack (the timing depends on the bytes,
 * not the values), in buffers allocated as moekit allocates the weights it makes (src/formats/aligned.ts: 64-byte
 * aligned, their whole 2 MiB stretches on huge pages where the kernel has them); the probe reads a buffer allocated
 * the same way. "q4_k_m" is llama.cpp's mix for these rows: gate/up in q4_k, down in q6_k's fallback q8_0
 * (1408 is not whole 256-blocks) — layers where q4_k_m keeps q4_k for down would use q5_0 (at gpt-oss's dims,
 * rows of 2880, gate/up fall back to q5_0 too).
 * GB/s at T = 1: the expert bytes the 4 routed experts read per call / the best time per call. At T = 1 each
 * call routes to the next 4 experts (0-3, 4-7, ..., wrapping at 60; at gpt-oss's dims at 32), so a call reads experts
 * last touched 15 (7) calls before, from memory as in a decode step (a quantized stack is 60 × 3-6 MiB; the same 4 experts every
 * call would stay in the 32 MiB L3; `--hot 1` routes every call to experts 0-3, to time that case beside it).
 * Larger T route at random and read most of the stack per call.
 * The read bandwidth swings by ±20% within minutes here, more than the gaps being measured, so the share of the
 * probe at T = 1 is measured side by side: --rounds rounds, each timing the probe and then every dtype's T = 1
 * call (best of a short burst each); the table gives the median over rounds of each round's GB/s and of its
 * share of that round's probe. `--schedules 1` times each T = 1 call twice per round, on the layer's one-run decode
 * schedule (the default: projections and down products in one pool run) and on the two-run one it replaced, in
 * alternating order, and adds the median of the rounds' one-run / two-run ratios.
 */
import { CpuBackend } from "../../src/backends/cpu/index.js";
import { randomFloats, randomTopk, rng } from "../../src/bench/random.js";
import { median } from "../../src/bench/stats.js";
import { toBf16Bits } from "../../src/dtype.js";
import { alignedBytes, alignedInt32, alignedUint16 } from "../../src/formats/aligned.js";
import { quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { rowBytes } from "../../src/formats/table.js";
import { Tensor } from "../../src/tensor.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
/** Expert dims: Qwen1.5-MoE-A2.7B's (the default) or gpt-oss-20b's (rows of 90 blocks: whole groups and two single ones). */
const DIMS = { qwen: { E: 60, H: 2048, I: 1408 }, "gpt-oss": { E: 32, H: 2880, I: 2880 } } as const;
const dimsName = args.get("dims") ?? "qwen";
if (!(dimsName in DIMS)) throw new Error(`--dims must be one of ${Object.keys(DIMS).join(", ")}, got '${dimsName}'`);
const { E, H, I } = DIMS[dimsName as keyof typeof DIMS];
const TOPK = 4;
const THREADS = Number(args.get("threads") ?? 2);
const TOKENS = (args.get("tokens") ?? "1,16,128,512").split(",").map(Number);
const DTYPES = (args.get("dtypes") ?? "bfloat16,q8_0,q4_0,mxfp4,q4_k_m").split(",");
const BUDGET = Number(args.get("budget-ms") ?? 400);
const HOT = args.get("hot") === "1";
const ROUNDS = Number(args.get("rounds") ?? 15);
const SCHEDULES = args.get("schedules") === "1";

const b = new CpuBackend({ threads: THREADS });
const r = rng(11);

/** A [E, rows, cols] stack in `format`: 64 quantized rows repeated. */
function stack(rows: number, cols: number, format: QuantFormat | "bfloat16"): Tensor {
  const tile = Float32Array.from(randomFloats(r, 64 * cols), (v) => v * 0.05);
  const total = E * rows;
  if (format === "bfloat16") {
    const one = new Uint16Array(tile.length);
    for (let i = 0; i < tile.length; i++) one[i] = toBf16Bits(tile[i]!);
    const out = alignedUint16(total * cols);
    for (let at = 0; at < out.length; at += one.length) out.set(one.subarray(0, Math.min(one.length, out.length - at)), at);
    return new Tensor([E, rows, cols], "bfloat16", out);
  }
  const one = quantizeRows(tile, 64, cols, format);
  const out = alignedBytes(total * rowBytes(format, cols));
  for (let at = 0; at < out.length; at += one.length) out.set(one.subarray(0, Math.min(one.length, out.length - at)), at);
  return new Tensor([E, rows, cols], format, out);
}

function bestMs(run: () => void, budget = BUDGET): number {
  let best = Infinity;
  const start = performance.now();
  for (let i = 0; i < 5 || performance.now() - start < budget; i++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const probeBuf = alignedInt32((256 * 2 ** 20) / 4).fill(1);
function probeGBs(budget = BUDGET): number {
  const ms = bestMs(() => b.readProbe(probeBuf), budget);
  return probeBuf.byteLength / ms / 1e6;
}

console.log(`fused experts layer, E=${E} H=${H} I=${I} top-${TOPK}, ${THREADS} threads, isa ${b.isa}, T = 1 ${HOT ? "hot (experts 0-3 every call)" : "cold (the next 4 experts each call)"}`);
const probe = probeGBs();
console.log(`read probe: ${probe.toFixed(1)} GB/s`);
const rows: string[] = ["| dtype | bytes/expert | " + TOKENS.map((t) => `T=${t} ms`).join(" | ") + " |", "|---|---|" + TOKENS.map(() => "---|").join("")];
const base = new Map<number, number>();
/** Per dtype: its T = 1 call (the routes cycle as above) and the bytes that call reads. */
const decodeCalls: { dtype: string; bytes: number; call: () => void }[] = [];
for (const dtype of DTYPES) {
  // q4_k_m: llama.cpp's fallbacks where a row is not whole 256-blocks (q4_k → q5_0, q6_k → q8_0)
  const [gu, dn] = dtype === "q4_k_m" ? ([H % 256 ? "q5_0" : "q4_k", I % 256 ? "q8_0" : "q6_k"] as const) : ([dtype, dtype] as [QuantFormat | "bfloat16", QuantFormat | "bfloat16"]);
  const projection = stack(2 * I, H, gu);
  const down = stack(H, I, dn);
  const perExpert = (projection.storage as Uint8Array).byteLength / E + (down.storage as Uint8Array).byteLength / E;
  const cells: string[] = [];
  for (const t of TOKENS) {
    const hidden = Tensor.from(randomFloats(r, t * H), [t, H]);
    const routes = t === 1 ? Array.from({ length: HOT ? 1 : E / TOPK }, (_, i) => Tensor.from(Int32Array.from({ length: TOPK }, (_, k) => TOPK * i + k), [1, TOPK])) : [Tensor.from(randomTopk(r, t, E, TOPK), [t, TOPK])];
    const topkWeights = Tensor.from(Float32Array.from({ length: t * TOPK }, () => 0.25), [t, TOPK]);
    let call = 0;
    const run = () => void b.fusedExperts({ hidden, topkIndex: routes[call++ % routes.length]!, topkWeights, projection, down, gate: { kind: "concatenated", act: "silu" } });
    const ms = bestMs(run);
    if (dtype === "bfloat16") base.set(t, ms);
    const ratio = base.has(t) && dtype !== "bfloat16" ? ` (${(base.get(t)! / ms).toFixed(2)}×)` : "";
    cells.push(`${ms.toFixed(2)}${ratio}`);
    if (t === 1) decodeCalls.push({ dtype, bytes: TOPK * perExpert, call: run });
  }
  rows.push(`| ${dtype} | ${(perExpert / 2 ** 20).toFixed(2)} MiB | ${cells.join(" | ")} |`);
  console.log(rows.at(-1));
}
console.log("\n" + rows.join("\n"));

if (decodeCalls.length > 0 && ROUNDS > 0) {
  const gbs = new Map<string, number[]>(decodeCalls.map((d) => [d.dtype, []]));
  const share = new Map<string, number[]>(decodeCalls.map((d) => [d.dtype, []]));
  const twoRun = new Map<string, number[]>(decodeCalls.map((d) => [d.dtype, []]));
  const ratio = new Map<string, number[]>(decodeCalls.map((d) => [d.dtype, []]));
  const probes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const probeRound = probeGBs(40);
    probes.push(probeRound);
    for (const d of decodeCalls) {
      const timed = new Map<boolean, number>();
      for (const oneRun of SCHEDULES ? (round % 2 ? [false, true] : [true, false]) : [true]) {
        b.native.decodePipeline(oneRun);
        timed.set(oneRun, d.bytes / bestMs(d.call, 40) / 1e6);
      }
      b.native.decodePipeline(true);
      const g = timed.get(true)!;
      gbs.get(d.dtype)!.push(g);
      share.get(d.dtype)!.push(g / probeRound);
      if (SCHEDULES) {
        twoRun.get(d.dtype)!.push(timed.get(false)! / probeRound);
        ratio.get(d.dtype)!.push(g / timed.get(false)!);
      }
    }
  }
  const p = probes.map((x) => x.toFixed(1));
  console.log(`\nT = 1 beside the read probe, ${ROUNDS} rounds (probe per round ${p.join(", ")} GB/s; median ${median(probes).toFixed(1)}):`);
  const pct = (s: number[]) => `${(100 * median(s)).toFixed(0)}% (${(100 * Math.min(...s)).toFixed(0)}–${(100 * Math.max(...s)).toFixed(0)}%)`;
  const extra = SCHEDULES ? [" two-run schedule: share of the probe | one-run / two-run, median (min–max) |", "---|---|"] : ["", ""];
  console.log(`| dtype | T=1 GB/s, median | share of the round's probe: median (min–max) |${extra[0]}\n|---|---|---|${extra[1]}`);
  for (const d of decodeCalls) {
    const r = ratio.get(d.dtype)!;
    const cells = SCHEDULES ? ` ${pct(twoRun.get(d.dtype)!)} | ${median(r).toFixed(3)} (${Math.min(...r).toFixed(3)}–${Math.max(...r).toFixed(3)}) |` : "";
    console.log(`| ${d.dtype} | ${median(gbs.get(d.dtype)!).toFixed(1)} | ${pct(share.get(d.dtype)!)} |${cells}`);
  }
}
