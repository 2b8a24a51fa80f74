/**
 * Same-process A/B of the cpu backend's activation reuse (src/backends/cpu/activation-pool.ts): the model scope's
 * 2-layer synthetic Qwen1.5-MoE-A2.7B (bf16 compute) loaded twice, on a backend with `reuseActivations: false`
 * ("off") and one with the default ("on"), then prefills of B × S tokens (logits of the last position, a fresh
 * cache each, as `moekit bench --scope model` times them) alternating off / on and on / off by round. Reports
 * per side the median wall and process CPU ms, the ratios of the medians, and whether both sides gave the same
 * logits. (The garbage collector's time is not split by side here: a collection that one side's garbage makes
 * due may run inside the other side's forward. `--side off|on` runs one side alone and reports its collector's
 * ms per forward.)
 *
 *   node --import tsx bench/cpu/activation-reuse-ab.ts [--cases 1x128,4x128] [--rounds 21] [--threads 2] [--side off|on]
 */
import { loadavg } from "node:os";
import { PerformanceObserver } from "node:perf_hooks";
import { CpuBackend } from "../../src/backends/cpu/index.js";
import { modelSource, prefillLastLogits, seededIds } from "../../src/bench/model-run.js";
import { median } from "../../src/bench/stats.js";
import { alternateRuns } from "../../src/bench/timing.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const CASES = (args.get("cases") ?? "1x128,4x128").split(",").map((c) => c.split("x").map(Number) as [number, number]);
const ROUNDS = Number(args.get("rounds") ?? 21);
const THREADS = Number(args.get("threads") ?? 2);
const ONLY = args.get("side");
if (ONLY !== undefined && ONLY !== "off" && ONLY !== "on") throw new Error(`--side must be off or on, got '${ONLY}'`);
type Side = "off" | "on";

async function load(reuse: boolean): Promise<MoeForCausalLM> {
  const backend = new CpuBackend({ threads: THREADS, compute: "bfloat16", reuseActivations: reuse });
  const ckpt = await modelSource({ layers: 2, positions: 8192, seed: 0, dtype: "bfloat16" });
  return (await AutoModelForCausalLM.fromPretrained(ckpt, { backend, onWarning: () => undefined })) as MoeForCausalLM;
}

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ["gc"] });

if (ONLY) {
  const model = await load(ONLY === "on");
  console.log(`# activation reuse ${ONLY} alone, ${THREADS} threads, ${ROUNDS} runs; load average ${loadavg()[0]!.toFixed(2)}`);
  console.log("| case | ms | cpu ms | GC ms / forward |\n|---|---|---|---|");
  for (const [batch, seq] of CASES) {
    const x = seededIds(batch * seq, model.vocabSize, 0);
    for (let i = 0; i < 4; i++) await prefillLastLogits(model, x, batch); // (and the collections loading left due)
    await new Promise((resolve) => setTimeout(resolve, 20));
    const g0 = gcMs;
    const { [ONLY]: { ms, cpu } } = await alternateRuns([ONLY], ROUNDS, () => prefillLastLogits(model, x, batch));
    await new Promise((resolve) => setTimeout(resolve, 20)); // (GC entries arrive on the event loop)
    console.log(`| ${batch}x${seq} | ${median(ms).toFixed(1)} | ${median(cpu).toFixed(0)} | ${((gcMs - g0) / ROUNDS).toFixed(1)} |`);
  }
  model.dispose();
  process.exit(0);
}

const models: Record<Side, MoeForCausalLM> = { off: await load(false), on: await load(true) };
console.log(`# activation reuse off / on, ${THREADS} threads, ${ROUNDS} rounds alternating; load average ${loadavg()[0]!.toFixed(2)}`);
console.log("| case | off ms | on ms | off cpu ms | on cpu ms | off / on (wall) | off / on (cpu) | same logits |\n|---|---|---|---|---|---|---|---|");
for (const [batch, seq] of CASES) {
  const x = seededIds(batch * seq, models.on.vocabSize, 0);
  const first = { off: await prefillLastLogits(models.off, x, batch), on: await prefillLastLogits(models.on, x, batch) };
  const same = first.off.length === first.on.length && first.off.every((v, i) => Object.is(v, first.on[i]));
  const { off, on } = await alternateRuns(["off", "on"] as const, ROUNDS, (side) => prefillLastLogits(models[side], x, batch));
  const [mo, mn, co, cn] = [median(off.ms), median(on.ms), median(off.cpu), median(on.cpu)];
  console.log(`| ${batch}x${seq} | ${mo.toFixed(1)} | ${mn.toFixed(1)} | ${co.toFixed(0)} | ${cn.toFixed(0)} | ${(mo / mn).toFixed(3)} | ${(co / cn).toFixed(3)} | ${same ? "yes" : "NO"} |`);
}
console.log(`# load average ${loadavg()[0]!.toFixed(2)}`);
models.off.dispose();
models.on.dispose();
