/**
 * One-row bf16 decode steps of the synthetic Qwen1.5-MoE-A2.7B (bench/serve/step-profile.ts' model), by
 * process CPU time, optionally A/B between two builds of the native addon in one process (`--a`: a copy of
 * an older build/Release/moekit_native.node; B is the build the cpu backend loads). Each round decodes
 * `--steps` tokens after a 16-token prompt on each side, alternating A/B order per round, and times every
 * step and its parts (attention, experts layer = router + shared gate + fused experts, lm head, rest) by
 * wall and process CPU time. The floor: the step's weight bytes at the read probe's rate by CPU time,
 * measured right before (a busy machine deschedules threads: CPU time still counts a thread that waits on
 * memory, not one that is not running; a pool worker spinning between ops counts too).
 *
 *   node --import tsx bench/cpu/decode-ab.ts [--a /path/to/old/moekit_native.node] [--rounds 5]
 *        [--steps 24] [--threads 2]
 */
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { CpuBackend, type NativeAddon } from "../../src/backends/cpu/index.js";
import { qwen15MoeConfig } from "../../src/bench/qwen-dims.js";
import { qwen15MoeSynthetic } from "../../src/bench/qwen-synthetic.js";
import { median } from "../../src/bench/stats.js";
import { loadCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import { Tensor } from "../../src/tensor.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const ROUNDS = Number(args.get("rounds") ?? 5);
const STEPS = Number(args.get("steps") ?? 24);
const THREADS = Number(args.get("threads") ?? 2);
const PARTS = ["step", "attention", "experts layer", "(of which fusedExperts)", "lm head", "rest"] as const;
type Part = (typeof PARTS)[number];

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

/** Wall and CPU ms per part of the current step, filled by the wrappers. */
let acc: Record<string, { wall: number; cpu: number }> = {};
function wrap<T extends object>(obj: T, method: keyof T & string, name: Part): void {
  const f = (obj[method] as (...a: unknown[]) => unknown).bind(obj);
  (obj as Record<string, unknown>)[method] = (...a: unknown[]) => {
    const t0 = performance.now();
    const c0 = cpuMs();
    const outer = currentPart;
    if (!name.startsWith("(")) currentPart = name;
    const done = () => {
      currentPart = outer;
      const p = (acc[name] ??= { wall: 0, cpu: 0 });
      p.wall += performance.now() - t0;
      p.cpu += cpuMs() - c0;
    };
    const r = f(...a);
    if (r instanceof Promise) return r.then((v) => (done(), v));
    done();
    return r;
  };
}

function instrument(model: MoeForCausalLM, be: CpuBackend): void {
  const p = model.parts;
  wrap(be, "fusedExperts", "(of which fusedExperts)");
  for (const layer of p.layers) {
    wrap(layer.mixer, "forward", "attention");
    if (layer.ffn.kind === "moe") wrap(layer.ffn.block, "forward", "experts layer");
  }
  wrap(p.lmHead, "forward", "lm head");
}

/** The step's weight bytes (bf16): every matrix but the routed experts, plus top-k experts and the shared expert, and the lm head. */
function stepBytes(layers: number): number {
  const c = qwen15MoeConfig(layers) as Record<string, number>;
  const h = c.hidden_size!, hd = c.head_dim!, q = c.num_attention_heads! * hd, kv = c.num_key_value_heads! * hd;
  const experts = 3 * (c.num_experts_per_tok! * c.moe_intermediate_size! + c.shared_expert_intermediate_size!) * h;
  const perLayer = (q + 2 * kv) * h + q * h + experts + (c.num_experts! + 1) * h;
  return 2 * (layers * perLayer + c.vocab_size! * h);
}

/** --ops: wall ms per backend op per step (outermost calls), and per part of the step it ran in. */
const OPS = args.has("ops");
const opMs = new Map<string, number>();
let opDepth = 0;
let currentPart = "rest";
function wrapOps(be: CpuBackend): void {
  let proto = Object.getPrototypeOf(be) as object | null;
  const names = new Set<string>();
  while (proto && proto !== Object.prototype) {
    for (const n of Object.getOwnPropertyNames(proto)) if (n !== "constructor" && typeof (be as unknown as Record<string, unknown>)[n] === "function") names.add(n);
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  for (const n of names) {
    const f = ((be as unknown as Record<string, (...a: unknown[]) => unknown>)[n]!).bind(be);
    (be as unknown as Record<string, unknown>)[n] = (...a: unknown[]) => {
      if (opDepth > 0) return f(...a);
      opDepth++;
      const t0 = performance.now();
      try {
        return f(...a);
      } finally {
        opDepth--;
        const k = `${currentPart} / ${n}`;
        opMs.set(k, (opMs.get(k) ?? 0) + performance.now() - t0);
      }
    };
  }
}

async function decodeRound(model: MoeForCausalLM, rows: Record<Part, { wall: number[]; cpu: number[] }>): Promise<void> {
  const cache = model.newCache();
  try {
    const prompt = Int32Array.from({ length: 16 }, (_, j) => (j * 104729 + 7) % 9973);
    let { logits } = await model.forward(Tensor.from(prompt, [1, 16]), { cache, logitsToKeep: 1 });
    let next = argmax((await logits.data()) as Float32Array);
    for (let s = 0; s < STEPS; s++) {
      acc = {};
      const t0 = performance.now();
      const c0 = cpuMs();
      ({ logits } = await model.forward(Tensor.from(Int32Array.of(next), [1, 1]), { cache }));
      next = argmax((await logits.data()) as Float32Array);
      const wall = performance.now() - t0, cpu = cpuMs() - c0;
      let wIn = 0, cIn = 0;
      for (const p of PARTS) {
        if (p === "step" || p === "rest") continue;
        const a = acc[p] ?? { wall: 0, cpu: 0 };
        rows[p].wall.push(a.wall);
        rows[p].cpu.push(a.cpu);
        if (p.startsWith("(")) continue;
        wIn += a.wall;
        cIn += a.cpu;
      }
      rows.step.wall.push(wall);
      rows.step.cpu.push(cpu);
      rows.rest.wall.push(wall - wIn);
      rows.rest.cpu.push(cpu - cIn);
    }
  } finally {
    for (const id of cache.sequences) cache.removeSequence(id);
  }
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** The read probe's CPU ms per GB (best of 5 over 256 MiB), on backend `be`. */
let probeWords: Int32Array | undefined;
function probeCpuMsPerGB(be: CpuBackend): number {
  const words = (probeWords ??= new Int32Array(64 * 2 ** 20).fill(1));
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const c0 = cpuMs();
    be.readProbe(words);
    best = Math.min(best, cpuMs() - c0);
  }
  return best / (words.byteLength / 1e9);
}

async function main(): Promise<void> {
  const a = args.get("a");
  const sides: { name: string; be: CpuBackend; model?: MoeForCausalLM }[] = [];
  if (a) {
    const A = new CpuBackend({ threads: THREADS, compute: "bfloat16" });
    (A as { native: NativeAddon }).native = createRequire(import.meta.url)(resolve(a)) as NativeAddon;
    A.setThreads(THREADS);
    sides.push({ name: "A", be: A });
  }
  sides.push({ name: "B", be: new CpuBackend({ threads: THREADS, compute: "bfloat16" }) });
  for (const s of sides) {
    s.model = await loadCausalLM(qwen15MoeSynthetic(2, "bfloat16"), { backend: s.be });
    instrument(s.model, s.be);
    if (OPS) wrapOps(s.be);
  }
  process.stderr.write(`# loaded (pid ${process.pid})\n`);
  const bytes = stepBytes(2);
  const load0 = loadavg()[0]!;
  const rows = Object.fromEntries(sides.map((s) => [s.name, Object.fromEntries(PARTS.map((p) => [p, { wall: [] as number[], cpu: [] as number[] }]))])) as Record<
    string,
    Record<Part, { wall: number[]; cpu: number[] }>
  >;
  const probes: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    probes.push(probeCpuMsPerGB(sides[sides.length - 1]!.be));
    for (const s of r % 2 ? [...sides].reverse() : sides) await decodeRound(s.model!, rows[s.name]!);
  }
  const probe = median(probes);
  const floorCpu = (bytes / 1e9) * probe;
  console.log(`# ${a ? `A = ${resolve(a)}; ` : ""}B = the build the cpu backend loads; ${THREADS} threads, ${ROUNDS} rounds × ${STEPS} steps; load average ${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`);
  console.log(`# step bytes ${(bytes / 1e9).toFixed(3)} GB; read probe ${probe.toFixed(2)} CPU ms/GB (${(THREADS * 1000 / probe).toFixed(1)} GB/s by CPU time over ${THREADS} threads); floor ${floorCpu.toFixed(1)} CPU ms per step`);
  const head = sides.map((s) => `${s.name} wall ms | ${s.name} cpu ms`).join(" | ");
  console.log(`| part | ${head} |${sides.length === 2 ? " A / B (cpu) |" : ""}\n|---|${sides.map(() => "---:|---:|").join("")}${sides.length === 2 ? "---:|" : ""}`);
  for (const p of PARTS) {
    const cells = sides.map((s) => `${median(rows[s.name]![p].wall).toFixed(2)} | ${median(rows[s.name]![p].cpu).toFixed(2)}`).join(" | ");
    const ratio = sides.length === 2 ? ` ${(median(rows.A![p].cpu) / median(rows.B![p].cpu)).toFixed(3)} |` : "";
    console.log(`| ${p} | ${cells} |${ratio}`);
  }
  for (const s of sides) {
    const c = median(rows[s.name]!.step.cpu);
    console.log(`# ${s.name}: floor / step by CPU time ${((100 * floorCpu) / c).toFixed(1)}%`);
  }
  if (OPS) {
    const steps = ROUNDS * STEPS * sides.length;
    console.log("\n| part / op | wall ms per step (all sides) |\n|---|---:|");
    for (const [k, v] of [...opMs].sort((x, y) => y[1] - x[1])) if (v / steps >= 0.005) console.log(`| ${k} | ${(v / steps).toFixed(3)} |`);
  }
  for (const s of sides) s.model!.dispose();
}

await main();
