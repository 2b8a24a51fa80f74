/**
 * Decode products at read bandwidth: GB/s of the cpu backend's GEMV products on the decode shapes of
 * Qwen1.5-MoE-A2.7B (lm head 151936×2048, fused qkv 6144×2048, o 2048×2048, and the fused experts layer
 * at T = M tokens, top-4 of 60 × 1408 plus the shared expert as 4 always-selected 1408-wide chunks), for M
 * input rows (1: one sequence decoding; 8: eight decoding together), in bf16 (bf16 compute) or any block
 * format (q8_0, q4_0, q5_0, mxfp4, q4_k, q6_k; default bf16,q8_0,q4_0), next to the read probe run right before each case with the same threads.
 *
 * `--shapes` also takes NxK for any other linear shape.
 *
 * Same-run A/B: `--base PATH` loads a second build of the addon (a copy of build/Release/moekit_native.node
 * made before a change) beside the current one (MOEKIT_NATIVE or build/Release); each case then alternates
 * base / current call by call and reports both medians and their ratio. Weights rotate over copies of at
 * least `--pool-mb` MiB so that every call reads them from memory, as a decode step does.
 *
 *   node --import tsx bench/cpu/gemv-bandwidth.ts [--threads 1,2] [--formats bf16,q8_0,q4_0] [--m 1,8]
 *        [--shapes lm,qkv,o,experts] [--runs 15] [--pool-mb 192] [--base /path/to/old/moekit_native.node] [--best 1]
 */
import { createRequire } from "node:module";
import os from "node:os";
import { loadNative, type NativeAddon, type NativeWeight } from "../../src/backends/cpu/native.js";
import { FORMATS } from "../../src/formats/table.js";
import { median } from "../../src/bench/stats.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const list = (k: string, d: string): string[] => (args.get(k) ?? d).split(",").filter((s) => s.length > 0);
const THREADS = list("threads", "1,2").map(Number);
const FORMAT_NAMES = list("formats", "bf16,q8_0,q4_0") as Fmt[];
const MS = list("m", "1,8").map(Number);
const SHAPES = list("shapes", "lm,qkv,o,experts");
const RUNS = Math.max(3, Number(args.get("runs") ?? 15));
const POOL_BYTES = Number(args.get("pool-mb") ?? 192) * 2 ** 20;
const BASE = args.get("base");
/** `--best 1`: also the best (fastest) call's GB/s per side against the probe's best of 15 (a loaded machine's quiet moments). */
const BEST = args.get("best") === "1";

type Fmt = "bf16" | "q8_0" | "q4_0" | "q5_0" | "mxfp4" | "q4_k" | "q6_k";
const H = 2048;
const I = 1408;
const E = 60;
const TOPK = 4;
const SHARED = 4; // the shared expert (5632 wide) as four always-selected 1408-wide chunks
const LINEAR: Record<string, { n: number; k: number }> = { lm: { n: 151936, k: H }, qkv: { n: 6144, k: H }, o: { n: H, k: H } };

const code = (f: Fmt): number => FORMATS[f === "bf16" ? "bfloat16" : f].code;
/** Bytes of a [rows, cols] weight in format f. */
function rowBytes(f: Fmt, cols: number): number {
  if (f === "bf16") return 2 * cols;
  const info = FORMATS[f];
  return (cols / info.blockElems) * info.blockBytes;
}

let seed = 0x9e3779b9;
function fillRandom(u8: Uint8Array): void {
  const u32 = new Uint32Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 2);
  let a = seed;
  for (let i = 0; i < u32.length; i++) {
    a ^= a << 13;
    a ^= a >>> 17;
    a ^= a << 5;
    u32[i] = a >>> 0;
  }
  seed = a >>> 0;
}

/** Random weights [rows, cols] in format f with sane values: bf16 magnitudes in [2^-8, 2^-1), block scales 2^-7. */
function randomWeight(f: Fmt, rows: number, cols: number): NativeWeight {
  const bytes = rows * rowBytes(f, cols);
  const data = new Uint8Array(bytes);
  fillRandom(data);
  if (f === "bf16") {
    const u16 = new Uint16Array(data.buffer);
    for (let i = 0; i < u16.length; i++) {
      const r = u16[i]!;
      u16[i] = (r & 0x807f) | ((0x77 + ((r >>> 7) & 7)) << 7);
    }
  } else {
    // the block scales: fp16 2^-7 (q6_k's d is its last two bytes, q4_k's dmin follows d), mxfp4's e8m0 2^-7
    const bb = FORMATS[f].blockBytes;
    const at = f === "q6_k" ? [bb - 2] : f === "q4_k" ? [0, 2] : f === "mxfp4" ? [] : [0];
    for (let o = 0; o < bytes; o += bb) {
      for (const a of at) {
        data[o + a] = 0x00;
        data[o + a + 1] = 0x20;
      }
      if (f === "mxfp4") data[o] = 120;
    }
  }
  return { format: code(f), rows, cols, segments: [{ data, byteOffset: 0, rows }] };
}

function randomX(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.7311) * 0.5;
  return x;
}

interface Case {
  name: string;
  /** Bytes of weights the call reads. */
  bytes: (i: number) => number;
  call: (addon: NativeAddon, i: number) => void;
}

/** The last linear case's weight copies (the M = 1 and M = 8 cases share them). */
const memo = new Map<string, NativeWeight[]>();

function linearCase(f: Fmt, shape: string, m: number): Case {
  const [sn, sk] = shape.split("x").map(Number);
  const { n, k } = LINEAR[shape] ?? { n: sn!, k: sk! }; // a named shape or NxK
  const one = n * rowBytes(f, k);
  const copies = Math.max(1, Math.ceil(POOL_BYTES / one));
  const key = `${f} ${shape}`;
  const ws = memo.get(key) ?? Array.from({ length: copies }, () => randomWeight(f, n, k));
  memo.clear();
  memo.set(key, ws);
  const x = randomX(m * k);
  const y = new Float32Array(m * n);
  const compute = f === "bf16" ? 1 : 0;
  return {
    name: `${shape} ${n}x${k}`,
    bytes: () => one,
    call: (a, i) => a.linear({ x, m, k, n, w: ws[i % copies]!, y, compute }),
  };
}

function expertsCase(f: Fmt, t: number): Case {
  const total = E + SHARED;
  const gateUp = randomWeight(f, total * 2 * I, H);
  const down = randomWeight(f, total * H, I);
  const perExpert = 2 * I * rowBytes(f, H) + H * rowBytes(f, I);
  const k = TOPK + SHARED;
  // A fixed sequence of routings (the same for both builds), distinct experts per token.
  const routes = Array.from({ length: 64 }, (_, r) => {
    const ids = new Int32Array(t * k);
    const used = new Set<number>();
    for (let s = 0; s < t; s++) {
      const pick = new Set<number>();
      let z = (r * 7919 + s * 104729 + 13) >>> 0;
      while (pick.size < TOPK) {
        z = (Math.imul(z, 1664525) + 1013904223) >>> 0;
        pick.add(z % E);
      }
      [...pick, ...Array.from({ length: SHARED }, (_, c) => E + c)].forEach((e, j) => {
        ids[s * k + j] = e;
        used.add(e);
      });
    }
    return { ids, experts: used.size };
  });
  const x = randomX(t * H);
  const weights = new Float32Array(t * k).fill(0.25);
  const out = new Float32Array(t * H);
  const compute = f === "bf16" ? 1 : 0;
  return {
    name: `experts T=${t} top${TOPK}+${SHARED}`,
    bytes: (i) => routes[i % routes.length]!.experts * perExpert,
    call: (a, i) =>
      a.fusedExperts({ x, t, h: H, topk: k, ids: routes[i % routes.length]!.ids, weights, experts: total, inter: I, gateUp, down, gateKind: 0, act: 0, out, compute }),
  };
}

const probeBuf = new Int32Array(256 * 2 ** 18); // 256 MiB
/** The read probe's GB/s by wall time and by process CPU time per thread (what a loaded machine leaves). */
function probeGBs(a: NativeAddon, threads: number): { wall: number; cpu: number; best: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < (BEST ? 15 : 5); r++) {
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    a.readProbe(probeBuf);
    wall.push(performance.now() - t0);
    const u = process.cpuUsage(u0);
    cpu.push((u.user + u.system) / 1000 / threads);
  }
  return { wall: probeBuf.byteLength / 1e6 / median(wall), cpu: probeBuf.byteLength / 1e6 / median(cpu), best: probeBuf.byteLength / 1e6 / Math.min(...wall) };
}

interface Side {
  label: string;
  addon: NativeAddon;
}

/** Medians per side: wall ms, GB/s by wall time, GB/s by process CPU time per thread; and the best GB/s by wall time. */
function runCase(c: Case, sides: Side[], threads: number): { ms: number[]; gbs: number[]; cpu: number[]; best: number[] } {
  const ms = sides.map(() => [] as number[]);
  const gbs = sides.map(() => [] as number[]);
  const cpu = sides.map(() => [] as number[]);
  // Call q reads weight copy / routing q: each call reads weights the one before did not (a side that read
  // the copy its predecessor just read would find it in L3).
  let q = 0;
  for (let i = 0; i < 2; i++) for (const s of sides) c.call(s.addon, q++); // warm-up
  for (let i = 0; i < RUNS; i++) {
    sides.forEach((s, j) => {
      const u0 = process.cpuUsage();
      const t0 = performance.now();
      c.call(s.addon, q);
      const dt = performance.now() - t0;
      const u = process.cpuUsage(u0);
      ms[j]!.push(dt);
      gbs[j]!.push(c.bytes(q) / 1e6 / dt);
      cpu[j]!.push(c.bytes(q) / 1e3 / ((u.user + u.system) / threads));
      q++;
    });
  }
  return { ms: ms.map(median), gbs: gbs.map(median), cpu: cpu.map(median), best: gbs.map((g) => Math.max(...g)) };
}

const current = loadNative();
const sides: Side[] = [];
if (BASE) sides.push({ label: "base", addon: createRequire(import.meta.url)(BASE) as NativeAddon });
sides.push({ label: "new", addon: current });
console.log(`# gemv-bandwidth: isa ${current.isa()}, ${os.cpus()[0]?.model ?? "?"}, runs ${RUNS}, pool ${POOL_BYTES >> 20} MiB${BASE ? `, base ${BASE}` : ""}`);
const head = ["fmt", "case", "M", "thr", "load1", "probe GB/s", "probe cpu-GB/s"];
if (BEST) head.push("probe best GB/s");
for (const s of sides) head.push(`${s.label} ms`, `${s.label} GB/s`, `${s.label} %probe`, `${s.label} cpu-GB/s`, `${s.label} cpu %probe`, ...(BEST ? [`${s.label} best GB/s (% of probe best)`] : []));
if (BASE) head.push("new/base (wall)", "new/base (cpu)");
console.log(`| ${head.join(" | ")} |`);
console.log(`|${head.map(() => "---").join("|")}|`);
for (const f of FORMAT_NAMES) {
  for (const shape of SHAPES) {
    for (const m of MS) {
      const c = shape === "experts" ? expertsCase(f, m) : linearCase(f, shape, m);
      for (const th of THREADS) {
        for (const s of sides) s.addon.setThreads(th);
        const probe = probeGBs(current, th);
        const r = runCase(c, sides, th);
        const row = [f, c.name, String(m), String(th), os.loadavg()[0]!.toFixed(2), probe.wall.toFixed(1), probe.cpu.toFixed(1)];
        if (BEST) row.push(probe.best.toFixed(1));
        sides.forEach((_, j) => {
          row.push(r.ms[j]!.toFixed(2), r.gbs[j]!.toFixed(1), ((100 * r.gbs[j]!) / probe.wall).toFixed(0), r.cpu[j]!.toFixed(1), ((100 * r.cpu[j]!) / probe.cpu).toFixed(0));
          if (BEST) row.push(`${r.best[j]!.toFixed(1)} (${((100 * r.best[j]!) / probe.best).toFixed(0)}%)`);
        });
        if (BASE) row.push((r.ms[0]! / r.ms[1]!).toFixed(3), (r.cpu[1]! / r.cpu[0]!).toFixed(3));
        console.log(`| ${row.join(" | ")} |`);
      }
    }
  }
}
