/**
 * Same-process A/B of two builds of the addon on the fused experts layer at T = 1 (a decode step's routed
 * experts) on block-format stacks at Qwen1.5-MoE-A2.7B's dims (60 experts, hidden 2048, width 1408, top-4),
 * calls alternating base / new. "hot": the same 4 experts every call (as bench/quant/experts.ts's T = 1: they
 * stay in L3 where it holds them); "cold": each call the next 4 of the 60 (weights from memory).
 *
 *   node --import tsx bench/quant/experts-ab.ts --base /path/to/old/moekit_native.node [--formats q4_0,mxfp4,q8_0]
 *        [--threads 1,2] [--modes hot,cold] [--runs 201]
 *
 * Per side: median wall ms, median process CPU ms per call (on a loaded machine it counts the work, not the
 * waiting), best wall ms, GB/s of the expert bytes by best wall, and new/base ratios of the medians.
 */
import { createRequire } from "node:module";
import { loadNative, type NativeAddon, type NativeWeight } from "../../src/backends/cpu/native.js";
import { median } from "../../src/bench/stats.js";
import { FORMATS } from "../../src/formats/table.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const list = (k: string, d: string): string[] => (args.get(k) ?? d).split(",").filter((s) => s.length > 0);
const BASE = args.get("base");
if (!BASE) throw new Error("--base PATH (a copy of an older build/Release/moekit_native.node) is required");
const FMTS = list("formats", "q4_0,mxfp4,q8_0") as (keyof typeof FORMATS)[];
const THREADS = list("threads", "1,2").map(Number);
const MODES = list("modes", "hot,cold");
const RUNS = Math.max(5, Number(args.get("runs") ?? 201));
const E = 60;
const H = 2048;
const I = 1408;
const TOPK = 4;

function rowBytes(f: keyof typeof FORMATS, cols: number): number {
  const info = FORMATS[f];
  if (info.kind !== "block") throw new Error(`${f} is not a block format`);
  return (cols / info.blockElems) * info.blockBytes;
}

/** Random codes with block scales 2^-7 (fp16 0x2000; mxfp4's e8m0 120). */
function randomWeight(f: keyof typeof FORMATS, rows: number, cols: number): NativeWeight {
  const info = FORMATS[f];
  const data = new Uint8Array(rows * rowBytes(f, cols));
  let a = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    a ^= a << 13;
    a ^= a >>> 17;
    a ^= a << 5;
    data[i] = a & 0xff;
  }
  const bb = info.blockBytes;
  const at = f === "q6_k" ? [bb - 2] : f === "q4_k" ? [0, 2] : f === "mxfp4" ? [] : [0];
  for (let o = 0; o < data.length; o += bb) {
    for (const p of at) {
      data[o + p] = 0x00;
      data[o + p + 1] = 0x20;
    }
    if (f === "mxfp4") data[o] = 120;
  }
  return { format: info.code, rows, cols, segments: [{ data, byteOffset: 0, rows }] };
}

const sides: { label: string; addon: NativeAddon }[] = [
  { label: "base", addon: createRequire(import.meta.url)(BASE) as NativeAddon },
  { label: "new", addon: loadNative() },
];
const x = Float32Array.from({ length: H }, (_, i) => Math.sin(i * 0.7311) * 0.5);
const weights = new Float32Array(TOPK).fill(0.25);
const outs = sides.map(() => new Float32Array(H));
console.log(`# fused experts T=1 A/B, E=${E} H=${H} I=${I} top-${TOPK}, ${RUNS} calls per side, base ${BASE}`);
console.log("| format | mode | threads | base ms (median / best) | new ms (median / best) | base cpu ms | new cpu ms | new GB/s (best) | new/base wall | new/base cpu | equal |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const f of FMTS) {
  const gateUp = randomWeight(f, E * 2 * I, H);
  const down = randomWeight(f, E * H, I);
  const perExpert = 2 * I * rowBytes(f, H) + H * rowBytes(f, I);
  for (const mode of MODES) {
    for (const th of THREADS) {
      for (const s of sides) s.addon.setThreads(th);
      const wall = sides.map(() => [] as number[]);
      const cpu = sides.map(() => [] as number[]);
      let q = 0;
      for (let r = -3; r < RUNS; r++) {
        sides.forEach((s, j) => {
          const first = mode === "hot" ? 0 : (q++ * TOPK) % (E - TOPK + 1);
          const ids = Int32Array.from({ length: TOPK }, (_, k) => first + k);
          const u0 = process.cpuUsage();
          const t0 = performance.now();
          s.addon.fusedExperts({ x, t: 1, h: H, topk: TOPK, ids, weights, experts: E, inter: I, gateUp, down, gateKind: 0, act: 0, out: outs[j]!, compute: 0 });
          const dt = performance.now() - t0;
          const u = process.cpuUsage(u0);
          if (r >= 0) {
            wall[j]!.push(dt);
            cpu[j]!.push((u.user + u.system) / 1000);
          }
        });
      }
      const mw = wall.map(median);
      const mc = cpu.map(median);
      const best = wall.map((w) => Math.min(...w));
      // the same experts on both sides for the comparison (cold calls read different ones)
      const ids = Int32Array.from({ length: TOPK }, (_, k) => k);
      sides.forEach((s, j) => s.addon.fusedExperts({ x, t: 1, h: H, topk: TOPK, ids, weights, experts: E, inter: I, gateUp, down, gateKind: 0, act: 0, out: outs[j]!, compute: 0 }));
      const equal = outs[0]!.every((v, i) => Object.is(v, outs[1]![i]));
      console.log(
        `| ${f} | ${mode} | ${th} | ${mw[0]!.toFixed(3)} / ${best[0]!.toFixed(3)} | ${mw[1]!.toFixed(3)} / ${best[1]!.toFixed(3)} | ${mc[0]!.toFixed(3)} | ${mc[1]!.toFixed(3)} | ` +
          `${((TOPK * perExpert) / best[1]! / 1e6).toFixed(1)} | ${(mw[1]! / mw[0]!).toFixed(3)} | ${(mc[1]! / mc[0]!).toFixed(3)} | ${equal ? "bit-identical" : "DIFFERENT"} |`,
      );
    }
  }
}
